package io.kubezen.watcher.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * config/dashboards: Grafana dashboard JSON with a data-source variable and a PromQL query in every
 * panel.
 */
class DashboardsTest {

  @Test
  void theOperationsAndOverviewDashboardsExist() {
    assertThat(OpsArtifacts.dashboards().stream().map(p -> p.getFileName().toString()))
        .contains("zen-watcher-operations.json", "zen-watcher-overview.json");
  }

  @Test
  void everyDashboardIsWellFormedGrafanaJson() {
    Set<String> uids = new HashSet<>();
    for (Path p : OpsArtifacts.dashboards()) {
      JsonNode d = OpsArtifacts.dashboard(p);
      assertThat(d.path("schemaVersion").asInt())
          .as(p + " schemaVersion")
          .isGreaterThanOrEqualTo(36);
      assertThat(d.path("title").asText()).as(p + " title").isNotBlank();
      assertThat(uids.add(d.path("uid").asText())).as(p + " uid unique").isTrue();
      assertThat(d.path("uid").asText().length()).as(p + " uid length").isBetween(1, 40);
      JsonNode vars = d.path("templating").path("list");
      assertThat(vars.findValuesAsText("type"))
          .as(p + " has a datasource variable")
          .contains("datasource");
      List<JsonNode> panels = OpsArtifacts.panels(d);
      assertThat(panels).as(p + " panels").hasSizeGreaterThan(5);
      Set<Integer> ids = new HashSet<>();
      for (JsonNode panel : panels) {
        String what = p.getFileName() + " panel " + panel.path("title").asText();
        assertThat(ids.add(panel.path("id").asInt())).as(what + ": id unique").isTrue();
        JsonNode pos = panel.path("gridPos");
        assertThat(pos.path("w").asInt()).as(what + ": gridPos.w").isBetween(1, 24);
        assertThat(pos.path("x").asInt() + pos.path("w").asInt())
            .as(what + ": fits 24 columns")
            .isLessThanOrEqualTo(24);
        assertThat(pos.path("h").asInt()).as(what + ": gridPos.h").isPositive();
        if (panel.path("type").asText().equals("row")) {
          continue;
        }
        assertThat(panel.path("datasource").path("uid").asText())
            .as(what + ": datasource is the variable")
            .isEqualTo("${datasource}");
        assertThat(panel.path("targets").size()).as(what + ": has targets").isPositive();
        Set<String> refIds = new HashSet<>();
        panel
            .path("targets")
            .forEach(
                t -> {
                  assertThat(t.path("expr").asText()).as(what + ": expr").isNotBlank();
                  assertThat(OpsArtifacts.metricNames(t.path("expr").asText()))
                      .as(what + ": uses a zen-watcher metric")
                      .isNotEmpty();
                  assertThat(refIds.add(t.path("refId").asText()))
                      .as(what + ": refId unique")
                      .isTrue();
                  assertThat(t.path("datasource").path("uid").asText())
                      .as(what + ": target datasource")
                      .isEqualTo("${datasource}");
                });
      }
    }
  }
}
