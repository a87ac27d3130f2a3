package io.kubezen.watcher.pipeline.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FilterConfigTest {

  static String resource(String name) throws IOException {
    try (InputStream in = FilterConfigTest.class.getResourceAsStream("/filter/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void yamlAndJsonGiveTheSameConfig() throws Exception {
    FilterConfig yaml = FilterConfig.parse(resource("example.yaml"));
    FilterConfig json = FilterConfig.parse(resource("example.json"));

    assertThat(yaml).isEqualTo(json);
    assertThat(yaml.global().minSeverity()).isEqualTo(Severity.LOW);
    assertThat(yaml.global().excludeNamespaces()).containsExactly("kube-system");
    assertThat(yaml.sources()).containsOnlyKeys("falco", "trivy", "kyverno", "k8s-audit");
    assertThat(yaml.forSource("falco").minSeverity()).isEqualTo(Severity.HIGH);
    assertThat(yaml.forSource("falco").excludeRules())
        .containsExactly("Contact K8S API Server From Container");
    assertThat(yaml.forSource("kyverno").includeCategories())
        .containsExactlyInAnyOrder(Category.SECURITY, Category.COMPLIANCE);
    assertThat(yaml.forSource("trivy").expression()).startsWith("!has(details.fixedVersion)");
    assertThat(yaml.forSource("checkov")).isEqualTo(FilterConfig.Rules.NONE);
  }

  @Test
  void yamlFlowMappingStartingWithABraceStillParses() throws Exception {
    FilterConfig c = FilterConfig.parse("{global: {minSeverity: high}}");
    assertThat(c.global().minSeverity()).isEqualTo(Severity.HIGH);
  }

  @Test
  void emptyOrCommentOnlyDocumentIsTheEmptyConfig() throws Exception {
    assertThat(FilterConfig.parse("")).isEqualTo(FilterConfig.EMPTY);
    assertThat(FilterConfig.parse("# nothing yet\n")).isEqualTo(FilterConfig.EMPTY);
    assertThat(FilterConfig.parse("{}")).isEqualTo(FilterConfig.EMPTY);
  }

  @Test
  void nullValuesMeanUnset() throws Exception {
    FilterConfig c =
        FilterConfig.parse("global:\n  minSeverity:\n  excludeNamespaces:\nsources:\n  falco:\n");
    assertThat(c.global()).isEqualTo(FilterConfig.Rules.NONE);
    assertThat(c.forSource("falco").isEmpty()).isTrue();
  }

  @Test
  void severitiesAndCategoriesAreCaseInsensitive() throws Exception {
    FilterConfig c =
        FilterConfig.parse("global:\n  minSeverity: HIGH\n  excludeCategories: [Cost]\n");
    assertThat(c.global().minSeverity()).isEqualTo(Severity.HIGH);
    assertThat(c.global().excludeCategories()).isEqualTo(Set.of(Category.COST));
  }

  @Test
  void unknownKeysAreRejectedWithTheirPlace() {
    assertThatThrownBy(() -> FilterConfig.parse("globl:\n  minSeverity: high\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageStartingWith("globl: unknown key")
        .hasMessageContaining("global, sources");
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  minSeverty: high\n"))
        .hasMessageStartingWith("global.minSeverty: unknown key")
        .hasMessageContaining("minSeverity");
    assertThatThrownBy(
            () -> FilterConfig.parse("{\"sources\":{\"falco\":{\"excludeNamespace\":[\"a\"]}}}"))
        .hasMessageStartingWith("sources.falco.excludeNamespace: unknown key");
  }

  @Test
  void invalidSeverityNamesThePlace() {
    assertThatThrownBy(() -> FilterConfig.parse("sources:\n  falco:\n    minSeverity: hihg\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessage(
            "sources.falco.minSeverity: unknown severity 'hihg' (expected one of critical, high, medium,"
                + " low, info)");
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  minSeverity: 3\n"))
        .hasMessage("global.minSeverity: must be a string, found a number (3)");
  }

  @Test
  void invalidCategoryNamesThePlaceAndIndex() {
    assertThatThrownBy(
            () -> FilterConfig.parse("global:\n  includeCategories: [security, secrity]\n"))
        .hasMessageStartingWith("global.includeCategories[1]: unknown category 'secrity'");
  }

  @Test
  void eventTypesMustLookLikeEventTypes() {
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  excludeEventTypes: [Runtime-Threat]\n"))
        .hasMessageStartingWith(
            "global.excludeEventTypes[0]: 'Runtime-Threat' is not an event type");
  }

  @Test
  void wrongTypesAreRejected() {
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  expression: true\n"))
        .hasMessage("global.expression: must be a string, found a boolean (true)");
    assertThatThrownBy(() -> FilterConfig.parse("sources:\n  falco:\n    expression: [a]\n"))
        .hasMessage("sources.falco.expression: must be a string, found a list");
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  excludeNamespaces: kube-system\n"))
        .hasMessage("global.excludeNamespaces: must be a list of strings, found a string");
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  includeKinds: [Pod, {a: b}]\n"))
        .hasMessage("global.includeKinds[1]: must be a string, found a mapping");
    assertThatThrownBy(() -> FilterConfig.parse("global: high\n"))
        .hasMessageStartingWith("global: must be a mapping");
    assertThatThrownBy(() -> FilterConfig.parse("sources: [falco]\n"))
        .hasMessageStartingWith("sources: must be a mapping");
    assertThatThrownBy(() -> FilterConfig.parse("- a\n- b\n"))
        .hasMessageStartingWith("(top level): must be a mapping");
  }

  @Test
  void emptyNameInAnIncludeListIsRejectedButAllowedInExclude() throws Exception {
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  includeNamespaces: [prod, \"\"]\n"))
        .hasMessageStartingWith("global.includeNamespaces[1]: an empty name never matches here");
    FilterConfig c = FilterConfig.parse("global:\n  excludeNamespaces: [\"\"]\n");
    assertThat(c.global().excludeNamespaces()).containsExactly("");
  }

  @Test
  void sourceNamesMustBeValid() {
    assertThatThrownBy(() -> FilterConfig.parse("sources:\n  Falco:\n    minSeverity: high\n"))
        .hasMessageStartingWith("sources.Falco: a source name must be a DNS-1123 label");
  }

  @Test
  void duplicateKeysAreRejectedInBothFormats() {
    assertThatThrownBy(
            () -> FilterConfig.parse("global:\n  minSeverity: high\n  minSeverity: low\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageContaining("minSeverity");
    assertThatThrownBy(
            () ->
                FilterConfig.parse(
                    "{\"global\":{\"minSeverity\":\"high\",\"minSeverity\":\"low\"}}"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageContaining("minSeverity");
  }

  @Test
  void malformedTextIsReportedWithItsLocation() {
    assertThatThrownBy(() -> FilterConfig.parse("{\"global\": {\"minSeverity\": }"))
        .hasMessageStartingWith("(document): not valid JSON")
        .hasMessageContaining("line 1");
    assertThatThrownBy(() -> FilterConfig.parse("global:\n  minSeverity: [high\n"))
        .hasMessageStartingWith("(document): not valid YAML");
  }

  @Test
  void blankExpressionMeansNoExpression() throws Exception {
    assertThat(FilterConfig.parse("global:\n  expression: '  '\n").global().isEmpty()).isTrue();
  }
}
