package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every source through real HTTP into SQLite, aggregation, the read API, metrics, restart and GC.
 */
class WebhookApiTest {
  @TempDir Path dir;
  TestWatcher zw;

  @BeforeEach
  void start() {
    zw = new TestWatcher(dir, Map.of());
  }

  @AfterEach
  void stop() {
    if (zw != null) {
      zw.close();
    }
  }

  static byte[] sample(String name) {
    try (InputStream in = WebhookApiTest.class.getResourceAsStream("/http/" + name)) {
      return in.readAllBytes();
    } catch (IOException | NullPointerException e) {
      throw new AssertionError("missing sample " + name, e);
    }
  }

  @Test
  void falcoAlertIsStoredThenRepeatsAggregateIntoOneObservation() {
    TestWatcher.Response first =
        zw.post("/ingest/falco", "application/json", sample("falco-alert.json"));
    assertThat(first.status()).isEqualTo(200);
    assertThat(first.json().get("created").asInt()).isEqualTo(1);
    assertThat(first.json().get("accepted").asInt()).isEqualTo(1);

    // Stored before the answer: readable at once.
    JsonNode list = zw.get("/api/v1/observations?source=falco").json();
    assertThat(list.get("kind").asText()).isEqualTo("ObservationList");
    assertThat(list.get("items")).hasSize(1);
    JsonNode obs = list.get("items").get(0);
    String name = obs.at("/metadata/name").asText();
    assertThat(name).matches("falco-[0-9a-f]{16}");
    assertThat(obs.at("/metadata/namespace").asText()).isEqualTo("shop");
    assertThat(obs.at("/spec/severity").asText()).isEqualTo("low");
    assertThat(obs.at("/spec/eventType").asText()).isEqualTo("runtime_threat");
    assertThat(obs.at("/spec/resource/kind").asText()).isEqualTo("Pod");
    assertThat(obs.at("/spec/resource/name").asText()).isEqualTo("web-7d4b9");
    assertThat(obs.at("/spec/detectedAt").asText()).startsWith("2026-11-22T10:15:30.123456789");
    assertThat(obs.at("/spec/fingerprint").asText())
        .matches("[0-9a-f]{64}")
        .startsWith(name.substring(6));
    assertThat(obs.at("/status/count").asLong()).isEqualTo(1);

    for (int i = 0; i < 4; i++) {
      TestWatcher.Response again =
          zw.post("/ingest/falco", "application/json", sample("falco-alert.json"));
      assertThat(again.status()).isEqualTo(200);
      assertThat(again.json().get("aggregated").asInt()).isEqualTo(1);
      assertThat(again.json().get("created").asInt()).isZero();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        zw.get("/api/v1/observations/shop/" + name)
                            .json()
                            .at("/status/count")
                            .asLong())
                    .isEqualTo(5));
    assertThat(zw.get("/api/v1/observations?source=falco").json().get("items")).hasSize(1);
  }

  @Test
  void everyBuiltInSourceProducesObservationsThroughHttp() {
    record Case(String path, String type, String sample, int created) {}
    for (Case c :
        new Case[] {
          new Case("/ingest/k8s-audit", "application/json", "audit-eventlist.json", 1),
          new Case("/ingest/trivy", "application/yaml", "trivy-report.yaml", 2),
          new Case("/ingest/kyverno", "application/json", "kyverno-report.json", 1),
          new Case("/ingest/kube-bench?node=node-1", "application/json", "kube-bench.json", 1),
          new Case("/ingest/checkov", "application/json", "checkov.json", 1),
          new Case("/ingest/k8s-events", "application/json", "k8s-event.json", 1)
        }) {
      TestWatcher.Response r = zw.post(c.path(), c.type(), sample(c.sample()));
      assertThat(r.status()).as(c.path() + " " + r.body()).isEqualTo(200);
      assertThat(r.json().get("created").asInt())
          .as(c.path() + " " + r.body())
          .isEqualTo(c.created());
      // The same report again: nothing new, everything merged.
      TestWatcher.Response again = zw.post(c.path(), c.type(), sample(c.sample()));
      assertThat(again.json().get("created").asInt()).as(c.path()).isZero();
      assertThat(again.json().get("aggregated").asInt()).as(c.path()).isEqualTo(c.created());
    }
    JsonNode trivy = zw.get("/api/v1/observations?source=trivy").json().get("items");
    assertThat(trivy).hasSize(2);
    assertThat(zw.get("/api/v1/observations?source=trivy&severity=critical").json().get("items"))
        .hasSize(1);
    JsonNode audit = zw.get("/api/v1/observations?source=k8s-audit").json().get("items").get(0);
    assertThat(audit.at("/spec/resource/kind").asText()).isEqualTo("Secret");
    assertThat(audit.at("/metadata/namespace").asText()).isEqualTo("shop");
    JsonNode bench = zw.get("/api/v1/observations?source=kube-bench").json().get("items").get(0);
    assertThat(bench.at("/spec/resource/name").asText()).isEqualTo("node-1");
    assertThat(bench.at("/metadata/namespace").asText())
        .as("no namespace: the watcher's own")
        .isEqualTo("zen-system");
  }

  @Test
  void genericSourceAcceptsAnyJsonAndTheNameBecomesTheSource() {
    TestWatcher.Response r =
        zw.postJson(
            "/ingest/my-scanner",
            "[{\"severity\":\"critical\",\"title\":\"secret in image\",\"namespace\":\"shop\"},"
                + "{\"level\":\"warning\",\"message\":\"weak cipher\"}]");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.json().get("created").asInt()).isEqualTo(2);
    JsonNode items = zw.get("/api/v1/observations?source=my-scanner").json().get("items");
    assertThat(items).hasSize(2);
    assertThat(items.findValuesAsText("severity")).contains("critical");
  }

  @Test
  void auditLogAsNdjsonIsAccepted() {
    String ndjson =
        """
        {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"delete","user":{"username":"bob"},"objectRef":{"resource":"configmaps","namespace":"shop","name":"cfg","apiVersion":"v1"},"responseStatus":{"code":200},"stageTimestamp":"2026-11-22T10:00:00Z"}
        {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a2","stage":"ResponseComplete","verb":"get","user":{"username":"bob"},"objectRef":{"resource":"pods","namespace":"shop","name":"p","apiVersion":"v1"},"responseStatus":{"code":200},"stageTimestamp":"2026-11-22T10:00:01Z"}
        """;
    TestWatcher.Response r =
        zw.post(
            "/ingest/k8s-audit", "application/x-ndjson", ndjson.getBytes(StandardCharsets.UTF_8));
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().get("created").asInt()).isEqualTo(1);
  }

  @Test
  void listPagesNewestFirstWithContinueTokens() {
    for (int i = 0; i < 25; i++) {
      assertThat(
              zw.postJson("/ingest/pager", "{\"severity\":\"low\",\"title\":\"finding " + i + "\"}")
                  .status())
          .isEqualTo(200);
    }
    java.util.Set<String> seen = new java.util.HashSet<>();
    String token = null;
    int pages = 0;
    do {
      JsonNode page =
          zw.get(
                  "/api/v1/observations?source=pager&limit=10"
                      + (token == null ? "" : "&continue=" + token))
              .json();
      page.get("items")
          .forEach(o -> assertThat(seen.add(o.at("/metadata/name").asText())).isTrue());
      token =
          page.at("/metadata/continue").isMissingNode()
              ? null
              : page.at("/metadata/continue").asText();
      pages++;
    } while (token != null && pages < 10);
    assertThat(seen).hasSize(25);
    assertThat(pages).isEqualTo(3);
  }

  @Test
  void metricsShowTheTraffic() {
    zw.post("/ingest/falco", "application/json", sample("falco-alert.json"));
    zw.post("/ingest/falco", "application/json", sample("falco-alert.json"));
    zw.post("/ingest/falco", "text/plain", sample("falco-alert.json"));
    String metrics = zw.get("/metrics").body();
    assertThat(metrics)
        .contains("zen_watcher_webhook_requests_total{code=\"200\",source=\"falco\"} 2.0")
        .contains("zen_watcher_webhook_requests_total{code=\"415\",source=\"falco\"} 1.0")
        .contains(
            "zen_watcher_observations_created_total{category=\"security\",severity=\"low\",source=\"falco\"} 1.0")
        .contains("zen_watcher_observations_deduped_total{source=\"falco\"} 1.0")
        .contains("zen_watcher_events_total{severity=\"low\",source=\"falco\"} 2.0")
        .contains(
            "zen_watcher_webhook_events_dropped_total{reason=\"unsupported_media_type\",source=\"falco\"} 1.0")
        .contains("zen_watcher_processing_duration_seconds_count{source=\"falco\"} 2");
  }

  @Test
  void observationsSurviveARestart() {
    zw.post("/ingest/trivy", "application/yaml", sample("trivy-report.yaml"));
    zw.close();
    zw = new TestWatcher(dir, Map.of());
    assertThat(zw.get("/api/v1/observations?source=trivy").json().get("items")).hasSize(2);
    TestWatcher.Response again =
        zw.post("/ingest/trivy", "application/yaml", sample("trivy-report.yaml"));
    assertThat(again.json().get("created").asInt()).as("no duplicates after a restart").isZero();
  }

  @Test
  void garbageCollectionDeletesExpiredObservationsOnly() {
    zw.close();
    zw = new TestWatcher(dir, Map.of("OBSERVATION_TTL_SECONDS", "3600"));
    zw.post("/ingest/falco", "application/json", sample("falco-alert.json"));
    zw.clock.advance(Duration.ofMinutes(30));
    zw.post("/ingest/trivy", "application/yaml", sample("trivy-report.yaml"));
    zw.clock.advance(Duration.ofMinutes(31));
    assertThat(zw.watcher.collectGarbage().deleted()).isEqualTo(1);
    assertThat(zw.get("/api/v1/observations?source=falco").json().get("items")).isEmpty();
    assertThat(zw.get("/api/v1/observations?source=trivy").json().get("items")).hasSize(2);
    assertThat(zw.get("/metrics").body()).contains("zen_watcher_gc_deleted_total 1.0");
  }

  @Test
  void filterFileDropsAndCountsWithReason() throws IOException {
    zw.close();
    Path filter = dir.resolve("filter.yaml");
    Files.writeString(filter, "global:\n  minSeverity: medium\n");
    zw =
        new TestWatcher(
            dir, Map.of("FILTER_CONFIG", filter.toString(), "FILTER_RELOAD_INTERVAL_SECONDS", "1"));
    TestWatcher.Response r =
        zw.post("/ingest/falco", "application/json", sample("falco-alert.json"));
    assertThat(r.json().get("filtered").asInt()).isEqualTo(1);
    assertThat(r.json().get("created").asInt()).isZero();
    assertThat(zw.get("/metrics").body())
        .contains(
            "zen_watcher_observations_filtered_total{reason=\"min_severity\",source=\"falco\"} 1.0");
    // Reloaded live: a CEL expression that keeps only the shop namespace.
    Files.writeString(filter, "global:\n  expression: \"resource.namespace == 'shop'\"\n");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(
                        zw.post("/ingest/falco", "application/json", sample("falco-alert.json"))
                            .json()
                            .get("created")
                            .asInt())
                    .isEqualTo(1));
  }

  @Test
  void healthAndReadiness() {
    assertThat(zw.get("/health").status()).isEqualTo(200);
    TestWatcher.Response ready = zw.get("/ready");
    assertThat(ready.status()).isEqualTo(200);
    assertThat(ready.json().get("store").asText()).isEqualTo("sqlite");
  }
}
