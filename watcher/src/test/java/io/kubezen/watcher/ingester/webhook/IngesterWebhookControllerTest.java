package io.kubezen.watcher.ingester.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.IngesterStatus;
import io.kubezen.watcher.ingester.IngestServer;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import io.kubezen.watcher.testing.KubeApiServer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The webhook side of the Ingester controller against the real API server. */
class IngesterWebhookControllerTest {
  static KubernetesClient client;
  @TempDir Path tmp;
  String ns;
  IngestServer server;
  IngesterWebhookController controller;

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
    client = KubeApiServer.client();
  }

  @BeforeEach
  void start() {
    ns = KubeApiServer.uniqueNamespace("ing");
    server = new IngestServer(tmp, Map.of());
    controller =
        new IngesterWebhookController(
            client,
            ns,
            server.sources.builtInNames(),
            server.registry,
            server.pipelines,
            new IngesterStatusWriter(client, Clock.systemUTC()),
            Duration.ofMillis(300),
            Duration.ofMinutes(10));
    controller.start();
  }

  @AfterEach
  void stop() {
    controller.stop();
    server.close();
  }

  static IngesterSpec.Mapping mapping() {
    return new IngesterSpec.Mapping(
        null,
        "object.level",
        Map.of("SEV1", "critical"),
        "object.summary",
        "'runtime_' + object.rule",
        null,
        null,
        null,
        null,
        null);
  }

  static IngesterSpec webhookSpec(String source, String path) {
    return new IngesterSpec(
        source,
        IngesterSpec.Type.WEBHOOK,
        null,
        new IngesterSpec.Webhook(path, null),
        mapping(),
        null,
        new IngesterSpec.Dedup("5m"));
  }

  Ingester create(String name, IngesterSpec spec) {
    Ingester i = new Ingester();
    i.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
    i.setSpec(spec);
    return client.resources(Ingester.class).inNamespace(ns).resource(i).create();
  }

  Condition ready(String name) {
    Ingester i = client.resources(Ingester.class).inNamespace(ns).withName(name).get();
    IngesterStatus s = i == null ? null : i.getStatus();
    if (s == null
        || s.conditions() == null
        || s.observedGeneration() == null
        || !s.observedGeneration().equals(i.getMetadata().getGeneration())) {
      return null;
    }
    return s.conditions().stream()
        .filter(c -> c.getType().equals("Ready"))
        .findFirst()
        .orElse(null);
  }

  Condition awaitReady(String name, String status) {
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> ready(name) != null && ready(name).getStatus().equals(status));
    return ready(name);
  }

  static final String ALERT = "{\"level\":\"SEV1\",\"summary\":\"miner\",\"rule\":\"crypto\"}";

  @Test
  void lifecycleCreateUpdateDeleteRecreateTwice() {
    create("acme", webhookSpec("acme", "acme-alerts"));
    assertThat(awaitReady("acme", "True").getMessage()).isEqualTo("serving /ingest/acme-alerts");
    assertThat(server.post("/ingest/acme-alerts", ALERT).status()).isEqualTo(200);
    assertThat(server.count("acme")).isEqualTo(1);

    // counts reach the status
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              IngesterStatus s =
                  client
                      .resources(Ingester.class)
                      .inNamespace(ns)
                      .withName("acme")
                      .get()
                      .getStatus();
              assertThat(s.eventsTotal()).isEqualTo(1);
              assertThat(s.observationsCreated()).isEqualTo(1);
              assertThat(s.lastEventTime()).isNotNull();
            });

    // path changed live
    client
        .resources(Ingester.class)
        .inNamespace(ns)
        .withName("acme")
        .edit(
            i -> {
              i.setSpec(webhookSpec("acme", "acme-v2"));
              return i;
            });
    await().atMost(Duration.ofSeconds(10)).until(() -> server.registry.find("acme-v2").isPresent());
    assertThat(server.registry.find("acme-alerts")).isEmpty();
    assertThat(awaitReady("acme", "True").getMessage()).isEqualTo("serving /ingest/acme-v2");

    for (int round = 0; round < 2; round++) {
      client.resources(Ingester.class).inNamespace(ns).withName("acme").delete();
      await().atMost(Duration.ofSeconds(10)).until(() -> server.registry.find("acme-v2").isEmpty());
      // the path now belongs to no Ingester: an unknown valid name is the generic source
      assertThat(server.post("/ingest/acme-v2", ALERT).status()).isEqualTo(200);
      assertThat(server.count("acme-v2")).isEqualTo(1);
      assertThat(server.post("/ingest/acme_v2!", ALERT).status()).isEqualTo(404);

      create("acme", webhookSpec("acme", "acme-v2"));
      awaitReady("acme", "True");
      IngestServer.Response r =
          server.post(
              "/ingest/acme-v2",
              "{\"level\":\"low\",\"summary\":\"round " + round + "\",\"rule\":\"x\"}");
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.body()).contains("\"created\":1");
    }
    assertThat(server.count("acme")).isEqualTo(3);
  }

  @Test
  void invalidIngesterIsReadyFalseWithEveryProblem() {
    IngesterSpec bad =
        new IngesterSpec(
            "falco",
            IngesterSpec.Type.WEBHOOK,
            null,
            new IngesterSpec.Webhook("Not/A/Path", null),
            new IngesterSpec.Mapping(
                null, "object.(", null, null, null, null, null, null, null, null),
            null,
            new IngesterSpec.Dedup("forever"));
    create("broken", bad);
    Condition c = awaitReady("broken", "False");
    assertThat(c.getReason()).isEqualTo("InvalidSpec");
    assertThat(c.getMessage())
        .contains("source: 'falco' is a built-in source name")
        .contains("webhook.path: 'Not/A/Path' is not one path segment")
        .contains("mapping.severity: ")
        .contains("dedup.window: 'forever' is not a duration");
    assertThat(server.registry.paths()).isEmpty();

    // fixed live
    client
        .resources(Ingester.class)
        .inNamespace(ns)
        .withName("broken")
        .edit(
            i -> {
              i.setSpec(webhookSpec("fixed", "fixed"));
              return i;
            });
    awaitReady("broken", "True");
    assertThat(server.post("/ingest/fixed", ALERT).status()).isEqualTo(200);
    assertThat(server.count("fixed")).isEqualTo(1);
  }

  @Test
  void aPathTakenByAnotherIngesterIsAConflictUntilReleased() {
    create("first", webhookSpec("first", "shared"));
    awaitReady("first", "True");
    create("second", webhookSpec("second", "shared"));
    Condition c = awaitReady("second", "False");
    assertThat(c.getReason()).isEqualTo("PathConflict");
    assertThat(c.getMessage()).contains("already served by Ingester " + ns + "/first");
    client.resources(Ingester.class).inNamespace(ns).withName("first").delete();
    awaitReady("second", "True");
    server.post("/ingest/shared", ALERT);
    assertThat(server.count("second")).isEqualTo(1);
    assertThat(List.copyOf(server.registry.keys())).containsExactly(ns + "/second");
  }

  @Test
  void stopAndStartAgainServesTheSameRoutes() {
    create("acme", webhookSpec("acme", "again"));
    awaitReady("acme", "True");
    controller.stop();
    assertThat(server.registry.paths()).isEmpty();
    controller.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> server.registry.find("again").isPresent());
    assertThat(server.post("/ingest/again", ALERT).status()).isEqualTo(200);
  }
}
