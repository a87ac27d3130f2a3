package io.kubezen.api.crd;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CRDs committed under charts/zen-watcher/crds/ are exactly what the Java types generate. */
class CrdFilesTest {
  static final String REGENERATE = "./mvnw -B -pl api process-test-classes -Pregenerate-crds";
  static final Path CHART_CRDS = Path.of("..", "charts", "zen-watcher", "crds");

  @TempDir Path out;

  @Test
  void committedCrdsAreWhatTheJavaTypesGenerate() throws IOException {
    Set<Path> generated = CrdGenerator.generate(out);

    assertThat(names(CHART_CRDS))
        .as(
            "charts/zen-watcher/crds/ holds one file per generated CRD and nothing else; regenerate with: %s",
            REGENERATE)
        .isEqualTo(
            generated.stream()
                .map(p -> p.getFileName().toString())
                .collect(Collectors.toCollection(TreeSet::new)));
    for (Path file : generated) {
      Path committed = CHART_CRDS.resolve(file.getFileName().toString());
      assertThat(Files.readString(committed))
          .as(
              "charts/zen-watcher/crds/%s differs from what the classes in api/ generate (forgot to regenerate?)."
                  + " Regenerate with: %s",
              file.getFileName(), REGENERATE)
          .isEqualTo(Files.readString(file));
    }
  }

  @Test
  void observationSchemaHasTheValidationAndColumnsDocumented() throws IOException {
    CustomResourceDefinition crd = load("observations.zen.kube-zen.io-v1.yml");
    assertThat(crd.getSpec().getScope()).isEqualTo("Namespaced");
    assertThat(crd.getSpec().getNames().getShortNames()).containsExactly("obs");
    var version = crd.getSpec().getVersions().get(0);
    assertThat(version.getName()).isEqualTo("v1alpha1");
    assertThat(version.getSubresources().getStatus()).isNotNull();
    assertThat(version.getAdditionalPrinterColumns())
        .extracting(CustomResourceColumnDefinition::getName)
        .containsExactly(
            "Source", "Category", "Severity", "Type", "Kind", "Resource", "Count", "Age");

    JSONSchemaProps spec = version.getSchema().getOpenAPIV3Schema().getProperties().get("spec");
    assertThat(spec.getRequired())
        .containsExactlyInAnyOrder(
            "source", "category", "severity", "eventType", "detectedAt", "fingerprint");
    // the wire values (@JsonValue), not the enum constant names
    assertThat(spec.getProperties().get("severity").getEnum())
        .extracting(n -> n.asText())
        .containsExactlyInAnyOrder("critical", "high", "medium", "low", "info");
    assertThat(spec.getProperties().get("category").getEnum())
        .extracting(n -> n.asText())
        .containsExactlyInAnyOrder("security", "compliance", "performance", "operations", "cost");
    assertThat(spec.getProperties().get("source").getPattern())
        .isEqualTo("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
    assertThat(spec.getProperties().get("source").getMaxLength()).isEqualTo(40L);
    assertThat(spec.getProperties().get("eventType").getPattern()).isEqualTo("^[a-z0-9_]+$");
    assertThat(spec.getProperties().get("fingerprint").getPattern()).isEqualTo("^[0-9a-f]{64}$");
    JSONSchemaProps details = spec.getProperties().get("details");
    assertThat(details.getType()).isEqualTo("object");
    assertThat(details.getXKubernetesPreserveUnknownFields()).isTrue();
    assertThat(details.getAdditionalProperties())
        .as("details values may be anything, not only objects")
        .isNull();
  }

  @Test
  void ingesterSchemaHasEnumsAndStringMaps() throws IOException {
    CustomResourceDefinition crd = load("ingesters.zen.kube-zen.io-v1.yml");
    assertThat(crd.getSpec().getNames().getShortNames()).containsExactly("ing");
    var version = crd.getSpec().getVersions().get(0);
    assertThat(version.getSubresources().getStatus()).isNotNull();
    JSONSchemaProps spec = version.getSchema().getOpenAPIV3Schema().getProperties().get("spec");
    assertThat(spec.getProperties().get("type").getEnum())
        .extracting(n -> n.asText())
        .containsExactlyInAnyOrder("informer", "webhook");
    assertThat(
            spec.getProperties()
                .get("webhook")
                .getProperties()
                .get("auth")
                .getProperties()
                .get("type")
                .getEnum())
        .extracting(n -> n.asText())
        .containsExactlyInAnyOrder("none", "bearer", "basic");
    JSONSchemaProps mapping = spec.getProperties().get("mapping");
    for (String map : List.of("details", "severityMap")) {
      assertThat(mapping.getProperties().get(map).getAdditionalProperties().getSchema().getType())
          .as(map)
          .isEqualTo("string");
    }
  }

  private static CustomResourceDefinition load(String name) throws IOException {
    try (var in = Files.newInputStream(CHART_CRDS.resolve(name))) {
      return Serialization.unmarshal(in, CustomResourceDefinition.class);
    }
  }

  private static Set<String> names(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .map(p -> p.getFileName().toString())
          .collect(Collectors.toCollection(TreeSet::new));
    }
  }
}
