package io.kubezen.watcher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.watcher.testing.KubeApiServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md cannot drift from the declarations: its tables are what {@link SettingsDoc}
 * generates, every declared setting is in them, every setting the Helm chart sets is declared, and
 * every declaration is read by {@link Settings#fromEnv}.
 */
class SettingsDocTest {
  private static final Pattern TABLE_NAME =
      Pattern.compile("^\\| `([A-Z][A-Z0-9_<>]*)` \\|", Pattern.MULTILINE);

  /**
   * An EnvVar in a template or a values file, also in a commented example ({@code # - name:
   * CLUSTER_NAME}).
   */
  private static final Pattern ENV_NAME =
      Pattern.compile("^[#\\s]*- name: ([A-Z][A-Z0-9_]*)\\s*$", Pattern.MULTILINE);

  static Path root() {
    return KubeApiServer.repositoryRoot();
  }

  static String page() throws IOException {
    return Files.readString(root().resolve("docs/configuration.md"));
  }

  @Test
  void theCommittedPageIsTheGeneratedOne() throws IOException {
    String committed = page();
    String generated = SettingsDoc.render(committed);
    assertThat(committed)
        .as(
            "docs/configuration.md differs from the declarations in SettingCatalog.java; regenerate it from the"
                + " repository root with:\n  "
                + SettingsDoc.COMMAND
                + "\n")
        .isEqualTo(generated);
  }

  @Test
  void everyDeclaredSettingIsInTheDocsOnce() throws IOException {
    List<String> documented = names(TABLE_NAME, page());
    List<String> declared = SettingCatalog.ALL.stream().map(Setting::name).toList();
    assertThat(declared).as("declarations").hasSizeGreaterThan(60).doesNotHaveDuplicates();
    assertThat(documented)
        .as("setting rows in docs/configuration.md")
        .containsExactlyInAnyOrderElementsOf(declared);
  }

  @Test
  void everyEnvNameTheChartSetsIsDeclared() throws IOException {
    Path chart = root().resolve("charts/zen-watcher");
    Set<String> set = new TreeSet<>();
    List<Path> files;
    try (Stream<Path> s = Files.walk(chart)) {
      files =
          s.filter(p -> p.toString().endsWith(".yaml") && !p.startsWith(chart.resolve("crds")))
              .toList();
    }
    for (Path f : files) {
      set.addAll(names(ENV_NAME, Files.readString(f)));
    }
    assertThat(set)
        .as("env names in the chart")
        .contains(
            "OBSERVATION_STORE", "POD_NAME", "MAX_OBSERVATIONS", "CLUSTER_NAME", "CEL_COST_LIMIT");
    Set<String> undeclared =
        set.stream()
            .filter(n -> SettingCatalog.find(n) == null)
            .collect(Collectors.toCollection(TreeSet::new));
    assertThat(undeclared)
        .as("env names set by the chart that are not declared in SettingCatalog")
        .isEmpty();
  }

  @Test
  void everyDeclarationIsReadBySettings() {
    Map<String, String> postgres =
        new HashMap<>(
            Map.of(
                "OBSERVATION_STORE",
                "postgres",
                "POSTGRES_URL",
                "jdbc:postgresql://127.0.0.1:5432/zen",
                "CLUSTER_NAME",
                "c1",
                "WEBHOOK_MAX_BODY_BYTES_TRIVY",
                "4096",
                "WEBHOOK_MAX_FINDINGS_TRIVY",
                "10"));
    Set<String> read = new TreeSet<>(Settings.namesRead(postgres));
    read.addAll(Settings.namesRead(Map.of()));
    Set<String> unread =
        SettingCatalog.ALL.stream()
            .map(Setting::name)
            .filter(n -> !read.contains(n))
            .collect(Collectors.toCollection(TreeSet::new));
    assertThat(unread).as("declared settings that Settings.fromEnv never reads").isEmpty();
  }

  @Test
  void familiesNameTheirMembers() {
    assertThat(SettingCatalog.find("WEBHOOK_MAX_BODY_BYTES_K8S_AUDIT"))
        .isSameAs(SettingCatalog.WEBHOOK_MAX_BODY_BYTES_SOURCE);
    assertThat(SettingCatalog.find("WEBHOOK_MAX_BODY_BYTES"))
        .isSameAs(SettingCatalog.WEBHOOK_MAX_BODY_BYTES);
    assertThat(SettingCatalog.find("WEBHOOK_MAX_FINDINGS_FALCO"))
        .isSameAs(SettingCatalog.WEBHOOK_MAX_FINDINGS_SOURCE);
    assertThat(SettingCatalog.find("NOT_A_SETTING")).isNull();
  }

  @Test
  void aMissingMarkerIsReportedNotSkipped() {
    assertThatThrownBy(() -> SettingsDoc.render("# Configuration\n\nno tables\n"))
        .hasMessageContaining("<!-- settings:general");
  }

  @Test
  void aSecretValueIsNeverEchoed() {
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    Map.of(
                        "WEBHOOK_AUTH_TOKEN",
                        "hunter2",
                        "READ_AUTH_TOKEN",
                        "pass-word",
                        "WATCHER_PORT",
                        "http")))
        .isInstanceOfSatisfying(
            SettingsException.class,
            e -> {
              assertThat(e.problems())
                  .anySatisfy(
                      p ->
                          assertThat(p)
                              .isEqualTo("WEBHOOK_AUTH_TOKEN: must be at least 16 characters"));
              assertThat(e.problems())
                  .anySatisfy(p -> assertThat(p).startsWith("READ_AUTH_TOKEN: "));
              assertThat(e.problems())
                  .anySatisfy(
                      p -> assertThat(p).isEqualTo("WATCHER_PORT='http': must be a whole number"));
              assertThat(e.getMessage()).doesNotContain("hunter2").doesNotContain("pass-word");
            });
  }

  private static List<String> names(Pattern p, String text) {
    Matcher m = p.matcher(text);
    List<String> out = new java.util.ArrayList<>();
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }
}
