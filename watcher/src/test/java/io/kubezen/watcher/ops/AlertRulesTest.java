package io.kubezen.watcher.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * config/prometheus/rules: promtool accepts the rules and their unit tests pass; every alert has a
 * severity, a summary, a description and a runbook section in docs/operations.md, and is tested
 * both firing and silent; the chart ships an identical copy.
 */
class AlertRulesTest {

  @Test
  void promtoolAcceptsTheRules() {
    OpsArtifacts.Result r =
        OpsArtifacts.run(
            List.of(
                OpsArtifacts.promtool(), "check", "rules", OpsArtifacts.rulesFile().toString()));
    assertThat(r.exit()).as(r.output()).isZero();
    assertThat(r.output()).contains("SUCCESS: " + OpsArtifacts.ruleList().size() + " rules found");
  }

  @Test
  void promtoolUnitTestsPass() {
    List<String> cmd = new ArrayList<>(List.of(OpsArtifacts.promtool(), "test", "rules"));
    OpsArtifacts.ruleTests().forEach(p -> cmd.add(p.toString()));
    assertThat(OpsArtifacts.ruleTests()).isNotEmpty();
    OpsArtifacts.Result r = OpsArtifacts.run(cmd);
    assertThat(r.exit()).as(r.output()).isZero();
    assertThat(r.output()).doesNotContain("FAILED");
  }

  @Test
  void theChartShipsAnIdenticalCopy() throws IOException {
    assertThat(Files.readString(OpsArtifacts.chartRulesFile()))
        .as(
            "charts/zen-watcher/files/alert-rules.yaml must be an exact copy of config/prometheus/rules/zen-watcher.rules.yaml")
        .isEqualTo(Files.readString(OpsArtifacts.rulesFile()));
  }

  @Test
  void everyAlertIsLabelledAnnotatedAndHasARunbookSection() throws IOException {
    String ops = Files.readString(OpsArtifacts.root().resolve("docs/operations.md"));
    Set<String> anchors = new HashSet<>();
    Matcher h = Pattern.compile("(?m)^#{2,4} (\\S+)").matcher(ops);
    while (h.find()) {
      anchors.add(h.group(1).toLowerCase(Locale.ROOT));
    }
    Set<String> names = new HashSet<>();
    for (JsonNode rule : OpsArtifacts.ruleList()) {
      String alert = rule.path("alert").asText();
      assertThat(alert).as("every rule is an alert: %s", rule).isNotEmpty();
      assertThat(names.add(alert)).as("alert names are unique: %s", alert).isTrue();
      assertThat(rule.path("labels").path("severity").asText())
          .as(alert)
          .isIn("critical", "warning", "info");
      assertThat(rule.path("annotations").path("summary").asText()).as(alert).isNotBlank();
      assertThat(rule.path("annotations").path("description").asText()).as(alert).isNotBlank();
      String anchor = alert.toLowerCase(Locale.ROOT);
      assertThat(rule.path("annotations").path("runbook_url").asText())
          .as(alert)
          .isEqualTo("docs/operations.md#" + anchor);
      assertThat(anchors).as("docs/operations.md has a section titled %s", alert).contains(anchor);
    }
    assertThat(names).hasSizeGreaterThanOrEqualTo(15);
  }

  /** Each alert has an evaluation that expects it firing and one that expects it silent. */
  @Test
  void everyAlertIsTestedFiringAndSilent() {
    Set<String> firing = new HashSet<>();
    Set<String> silent = new HashSet<>();
    for (Path p : OpsArtifacts.ruleTests()) {
      JsonNode doc;
      try {
        doc = OpsArtifacts.YAML.readTree(p.toFile());
      } catch (IOException e) {
        throw new AssertionError(e);
      }
      assertThat(doc.path("rule_files").toString())
          .as(p.toString())
          .contains("zen-watcher.rules.yaml");
      doc.path("tests")
          .forEach(
              t ->
                  t.path("alert_rule_test")
                      .forEach(
                          a -> {
                            String name = a.path("alertname").asText();
                            (a.path("exp_alerts").size() > 0 ? firing : silent).add(name);
                          }));
    }
    Set<String> alerts = new HashSet<>();
    OpsArtifacts.ruleList().forEach(r -> alerts.add(r.path("alert").asText()));
    assertThat(firing).as("alerts tested firing").containsAll(alerts);
    assertThat(silent).as("alerts tested silent").containsAll(alerts);
  }
}
