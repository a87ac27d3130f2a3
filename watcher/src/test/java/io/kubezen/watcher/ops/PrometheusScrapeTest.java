package io.kubezen.watcher.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's prometheus binary) on loopback scrapes a zen-watcher in this JVM
 * every second with the alert rules loaded: PromQL over its HTTP API returns the counts the webhook
 * traffic produced, every rule group is loaded and evaluates healthy, an alert of the rules file
 * fires on provoked traffic, and every dashboard query is valid PromQL that Prometheus runs.
 */
class PrometheusScrapeTest {
  @TempDir Path dir;

  @Test
  void prometheusScrapesCountsAndEvaluatesTheRules() throws Exception {
    String prometheus = OpsArtifacts.prometheus();
    Path data = Files.createDirectories(dir.resolve("zw"));
    try (Watcher w = new Watcher(data, Map.of("WEBHOOK_MAX_BODY_BYTES_FALCO", "1024"), null)) {
      // 7 distinct alerts, one sent twice: 8 findings, 7 Observations, 1 deduped.
      for (int i = 0; i < 7; i++) {
        assertThat(
                w.post("/ingest/falco", Watcher.falcoAlert("shop", "pod-" + i, "Critical"))
                    .status())
            .isEqualTo(200);
      }
      assertThat(w.post("/ingest/falco", Watcher.falcoAlert("shop", "pod-0", "Critical")).status())
          .isEqualTo(200);
      String tooLarge = "{\"pad\":\"" + "x".repeat(4096) + "\"}";
      assertThat(w.post("/ingest/falco", tooLarge).status()).isEqualTo(413);

      int port = freePort();
      String api = "http://127.0.0.1:" + port + "/api/v1/";
      Path testRules = dir.resolve("test.rules.yaml");
      Files.writeString(
          testRules,
          """
          groups:
            - name: zen-watcher.test
              rules:
                - alert: TestObservationsSeen
                  expr: sum(zen_watcher_observations_created_total) >= 7
                  labels: {severity: info}
          """);
      Path config = dir.resolve("prometheus.yml");
      Files.writeString(
          config,
          """
          global:
            scrape_interval: 1s
            scrape_timeout: 1s
            evaluation_interval: 1s
          rule_files:
            - %s
            - %s
          scrape_configs:
            - job_name: zen-watcher
              static_configs:
                - targets: ['127.0.0.1:%d']
          """
              .formatted(OpsArtifacts.rulesFile(), testRules, w.zw.port()));
      Process p =
          new ProcessBuilder(
                  prometheus,
                  "--config.file=" + config,
                  "--storage.tsdb.path=" + Files.createDirectories(dir.resolve("tsdb")),
                  "--web.listen-address=127.0.0.1:" + port,
                  "--log.level=warn")
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("prometheus.log").toFile())
              .start();
      try {
        await()
            .atMost(Duration.ofSeconds(20))
            .pollInterval(Duration.ofMillis(200))
            .ignoreExceptions()
            .until(() -> Watcher.get("http://127.0.0.1:" + port + "/-/ready").status() == 200);

        await()
            .atMost(Duration.ofSeconds(20))
            .pollInterval(Duration.ofMillis(500))
            .ignoreExceptions()
            .untilAsserted(
                () -> {
                  assertThat(scalar(api, "sum(zen_watcher_observations_created_total)"))
                      .isEqualTo(7);
                  assertThat(scalar(api, "sum(zen_watcher_events_total{source=\"falco\"})"))
                      .isEqualTo(8);
                  assertThat(scalar(api, "sum(zen_watcher_observations_deduped_total)"))
                      .isEqualTo(1);
                  assertThat(scalar(api, "sum(zen_watcher_webhook_requests_total{code=\"200\"})"))
                      .isEqualTo(8);
                  assertThat(
                          scalar(
                              api,
                              "sum(zen_watcher_webhook_events_dropped_total{reason=\"too_large\"})"))
                      .isEqualTo(1);
                  assertThat(
                          scalar(
                              api,
                              "sum(zen_watcher_observations_created_total{severity=\"critical\",source=\"falco\"})"))
                      .isEqualTo(7);
                });
        // A second refused body once Prometheus has seen the first: the too-large alert fires (no
        // `for`).
        assertThat(w.post("/ingest/falco", tooLarge).status()).isEqualTo(413);

        Set<String> groupsInFile = new TreeSet<>();
        OpsArtifacts.rules().path("groups").forEach(g -> groupsInFile.add(g.path("name").asText()));
        await()
            .atMost(Duration.ofSeconds(15))
            .pollInterval(Duration.ofMillis(500))
            .untilAsserted(
                () -> {
                  JsonNode groups = json(api + "rules").path("data").path("groups");
                  Set<String> loaded = new TreeSet<>();
                  List<String> unhealthy = new ArrayList<>();
                  int evaluated = 0;
                  for (JsonNode g : groups) {
                    loaded.add(g.path("name").asText());
                    for (JsonNode r : g.path("rules")) {
                      if (!r.path("health").asText().equals("ok")) {
                        unhealthy.add(
                            r.path("name").asText()
                                + ": "
                                + r.path("health").asText()
                                + " "
                                + r.path("lastError"));
                      }
                      if (!r.path("lastEvaluation").asText().startsWith("0001")) {
                        evaluated++;
                      }
                    }
                  }
                  assertThat(loaded).containsAll(groupsInFile).contains("zen-watcher.test");
                  assertThat(unhealthy).isEmpty();
                  assertThat(evaluated).isEqualTo(OpsArtifacts.ruleList().size() + 1);
                  JsonNode alerts = json(api + "alerts").path("data").path("alerts");
                  assertThat(alerts.toString()).contains("\"alertname\":\"TestObservationsSeen\"");
                  assertThat(firing(alerts))
                      .contains("TestObservationsSeen", "ZenWatcherWebhookTooLarge");
                });
        JsonNode alerts = json(api + "alerts").path("data").path("alerts");
        assertThat(firing(alerts))
            .doesNotContain(
                "ZenWatcherNoLeader", "ZenWatcherCreateErrors", "ZenWatcherWebhookUnavailable");

        // Every dashboard query runs (Grafana's variables replaced as Grafana would).
        List<String> failed = new ArrayList<>();
        for (String expr : OpsArtifacts.dashboardExpressions()) {
          if (expr.startsWith("label_values(")) {
            continue;
          }
          String q =
              expr.replace("$job", ".*")
                  .replace("$__rate_interval", "1m")
                  .replace("$__range", "5m");
          JsonNode r = json(api + "query?query=" + URLEncoder.encode(q, StandardCharsets.UTF_8));
          if (!r.path("status").asText().equals("success")) {
            failed.add(q + " -> " + r);
          }
        }
        assertThat(failed).isEmpty();
      } finally {
        p.destroy();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      }
    }
  }

  static List<String> firing(JsonNode alerts) {
    List<String> out = new ArrayList<>();
    alerts.forEach(
        a -> {
          if (a.path("state").asText().equals("firing")) {
            out.add(a.path("labels").path("alertname").asText());
          }
        });
    return out;
  }

  static double scalar(String api, String query) {
    JsonNode r = json(api + "query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8));
    JsonNode result = r.path("data").path("result");
    if (result.size() != 1) {
      throw new AssertionError(query + " -> " + r);
    }
    return Double.parseDouble(result.get(0).path("value").get(1).asText());
  }

  static JsonNode json(String url) {
    Watcher.Response r = Watcher.get(url);
    try {
      return Json.MAPPER.readTree(r.body());
    } catch (IOException e) {
      throw new AssertionError(url + " -> " + r.status() + " " + r.body(), e);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
