package io.kubezen.watcher.ingester.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kubezen.watcher.ingester.IngestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IngestersDirectoryTest {
  @TempDir Path tmp;
  IngestServer server;
  IngestersDirectory dir;
  Path ingesters;

  static String webhook(String name, String source, String path, String extra) {
    return """
        apiVersion: zen.kube-zen.io/v1alpha1
        kind: Ingester
        metadata: {name: %s}
        spec:
          source: %s
          type: webhook
          webhook: {path: %s}
          mapping:
            severity: object.level
            severityMap: {SEV1: critical}
            title: object.summary
            eventType: "'runtime_' + object.rule"
        %s
        """
        .formatted(name, source, path, extra);
  }

  @BeforeEach
  void start() throws Exception {
    server = new IngestServer(tmp, Map.of());
    ingesters = Files.createDirectory(tmp.resolve("ingesters"));
    dir =
        new IngestersDirectory(
            ingesters,
            Duration.ofMillis(100),
            server.sources.builtInNames(),
            server.registry,
            server.pipelines);
  }

  @AfterEach
  void stop() {
    dir.close();
    server.close();
  }

  @Test
  void filesAddedChangedAndRemovedTakeEffectLive() throws Exception {
    Files.writeString(ingesters.resolve("acme.yaml"), webhook("acme", "acme", "acme-alerts", ""));
    dir.start();
    IngestServer.Response r =
        server.post(
            "/ingest/acme-alerts",
            "{\"level\":\"SEV1\",\"summary\":\"miner\",\"rule\":\"crypto\"}");
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).contains("\"created\":1");
    assertThat(server.store.list(io.kubezen.watcher.store.ObservationQuery.all(10)).items())
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.getSpec().source()).isEqualTo("acme");
              assertThat(o.getSpec().severity().wire()).isEqualTo("critical");
              assertThat(o.getSpec().eventType()).isEqualTo("runtime_crypto");
            });
    assertThat(dir.stats(dir.active().iterator().next()).eventsTotal()).isEqualTo(1);

    // changed: a new path, the old one is gone (and falls back to the generic source of that name)
    Files.writeString(ingesters.resolve("acme.yaml"), webhook("acme", "acme", "acme-v2", ""));
    await().atMost(Duration.ofSeconds(5)).until(() -> server.registry.find("acme-v2").isPresent());
    assertThat(server.registry.find("acme-alerts")).isEmpty();
    assertThat(
            server
                .post("/ingest/acme-v2", "{\"level\":\"low\",\"summary\":\"x\",\"rule\":\"y\"}")
                .status())
        .isEqualTo(200);

    // a second file with two documents, one invalid: the valid one is served, the other skipped
    Files.writeString(
        ingesters.resolve("more.yml"),
        webhook("b", "bravo", "bravo", "") + "---\n" + webhook("c", "falco", "charlie", ""));
    await().atMost(Duration.ofSeconds(5)).until(() -> server.registry.find("bravo").isPresent());
    assertThat(server.registry.find("charlie")).isEmpty();
    assertThat(dir.problems())
        .hasEntrySatisfying(
            "more.yml#1 (c)",
            p ->
                assertThat(p)
                    .containsExactly("source: 'falco' is a built-in source name; choose another"));

    // removed
    Files.delete(ingesters.resolve("acme.yaml"));
    await().atMost(Duration.ofSeconds(5)).until(() -> server.registry.find("acme-v2").isEmpty());
    assertThat(server.registry.find("bravo")).isPresent();
  }

  @Test
  void invalidChangeDropsOnlyThatIngesterAndSaysWhy() throws Exception {
    Files.writeString(ingesters.resolve("a.yaml"), webhook("a", "alpha", "alpha", ""));
    Files.writeString(ingesters.resolve("b.yaml"), webhook("b", "bravo", "bravo", ""));
    dir.start();
    assertThat(server.registry.paths()).containsExactlyInAnyOrder("alpha", "bravo");
    Files.writeString(
        ingesters.resolve("b.yaml"), webhook("b", "bravo", "bravo", "  dedup: {window: soon}"));
    await().atMost(Duration.ofSeconds(5)).until(() -> server.registry.find("bravo").isEmpty());
    assertThat(server.registry.paths()).containsExactly("alpha");
    assertThat(dir.problems().get("b.yaml#0 (b)"))
        .containsExactly("dedup.window: 'soon' is not a duration (e.g. 30s, 5m, 1h, 1h30m)");
  }

  @Test
  void samePathTwiceFirstFileWins() throws Exception {
    Files.writeString(ingesters.resolve("1.yaml"), webhook("a", "alpha", "shared", ""));
    Files.writeString(ingesters.resolve("2.yaml"), webhook("b", "bravo", "shared", ""));
    dir.start();
    assertThat(server.registry.find("shared"))
        .get()
        .extracting(r -> r.normalizer().source())
        .isEqualTo("alpha");
    assertThat(dir.problems().get("2.yaml#0 (b)"))
        .singleElement()
        .asString()
        .contains("already served by Ingester 1.yaml#0");
  }

  @Test
  void perIngesterFilterAppliesAfterTheGlobalOne() throws Exception {
    Files.writeString(
        ingesters.resolve("a.yaml"),
        webhook("a", "alpha", "alpha", "  filter: {minSeverity: high}"));
    dir.start();
    assertThat(
            server
                .post("/ingest/alpha", "{\"level\":\"low\",\"summary\":\"x\",\"rule\":\"y\"}")
                .body())
        .contains("\"filtered\":1");
    assertThat(
            server
                .post("/ingest/alpha", "{\"level\":\"SEV1\",\"summary\":\"x\",\"rule\":\"y\"}")
                .body())
        .contains("\"created\":1");
    server.globalFilter.set(
        io.kubezen.watcher.pipeline.filter.Filter.parse(
            "global: {excludeEventTypes: [runtime_z]}"));
    assertThat(
            server
                .post("/ingest/alpha", "{\"level\":\"SEV1\",\"summary\":\"x\",\"rule\":\"z\"}")
                .body())
        .contains("\"filtered\":1");
  }

  @Test
  void aDeclaredPathTakesPrecedenceOverTheGenericSourceAndBuiltInsCannotBeTaken() throws Exception {
    Files.writeString(ingesters.resolve("a.yaml"), webhook("a", "alpha", "myscanner", ""));
    Files.writeString(ingesters.resolve("b.yaml"), webhook("b", "bravo", "falco", ""));
    dir.start();
    server.post("/ingest/myscanner", "{\"level\":\"SEV1\",\"summary\":\"x\",\"rule\":\"y\"}");
    assertThat(server.count("alpha")).isEqualTo(1);
    assertThat(server.count("myscanner")).isZero();
    assertThat(dir.problems().get("b.yaml#0 (b)"))
        .containsExactly("webhook.path: 'falco' is the path of a built-in source; choose another");
    assertThat(server.post("/ingest/myscanner", "not json").status()).isEqualTo(400);
    assertThat(server.post("/ingest/myscanner", "\"text\"").status()).isEqualTo(422);
  }
}
