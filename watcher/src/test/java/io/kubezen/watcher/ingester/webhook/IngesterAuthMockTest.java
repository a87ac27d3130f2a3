package io.kubezen.watcher.ingester.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.watcher.ingester.IngestServer;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Webhook auth from Secrets (the real API server here has none: fabric8's mock server in CRUD
 * mode).
 */
@EnableKubernetesMockClient(crud = true)
class IngesterAuthMockTest {
  static final String NS = "team-a";
  static final String ALERT = "{\"level\":\"SEV1\",\"summary\":\"miner\",\"rule\":\"crypto\"}";
  KubernetesClient client;
  @TempDir Path tmp;
  IngestServer server;
  IngesterWebhookController controller;

  @BeforeEach
  void start() {
    server = new IngestServer(tmp, Map.of("WEBHOOK_AUTH_TOKEN", "global-token-0123456789"));
    controller =
        new IngesterWebhookController(
            client,
            null,
            server.sources.builtInNames(),
            server.registry,
            server.pipelines,
            new IngesterStatusWriter(client, Clock.systemUTC()),
            Duration.ofSeconds(1),
            Duration.ofMillis(500));
  }

  @AfterEach
  void stop() {
    controller.stop();
    server.close();
  }

  void secret(String name, Map<String, String> data) {
    Map<String, String> encoded = new java.util.HashMap<>();
    data.forEach(
        (k, v) ->
            encoded.put(k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8))));
    client
        .secrets()
        .inNamespace(NS)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(NS)
                .endMetadata()
                .withData(encoded)
                .build())
        .createOr(r -> r.update());
  }

  void ingester(String name, String path, IngesterSpec.Auth auth) {
    Ingester i = new Ingester();
    i.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    i.setSpec(
        new IngesterSpec(
            "acme",
            IngesterSpec.Type.WEBHOOK,
            null,
            new IngesterSpec.Webhook(path, auth),
            new IngesterSpec.Mapping(
                null, "object.level", null, "object.summary", null, null, null, null, null, null),
            null,
            null));
    client.resources(Ingester.class).inNamespace(NS).resource(i).createOr(r -> r.update());
  }

  static String basic(String user, String pass) {
    return "Basic "
        + Base64.getEncoder().encodeToString((user + ":" + pass).getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void bearerTokenFromASecretReplacesTheGlobalToken() {
    secret("acme-token", Map.of("token", "s3cret"));
    ingester(
        "acme",
        "acme",
        new IngesterSpec.Auth(
            IngesterSpec.AuthType.BEARER, new IngesterSpec.SecretRef("acme-token", null)));
    controller.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> server.registry.find("acme").isPresent());
    IngestServer.Response none = server.post("/ingest/acme", ALERT);
    assertThat(none.status()).isEqualTo(401);
    assertThat(none.body())
        .contains("\"error\":\"unauthorized\"")
        .contains("missing 'Authorization: Bearer <token>'");
    assertThat(
            server
                .post("/ingest/acme", ALERT, "Authorization", "Bearer global-token-0123456789")
                .status())
        .isEqualTo(401);
    assertThat(server.post("/ingest/acme", ALERT, "Authorization", "Bearer s3cret").status())
        .isEqualTo(200);
    // the generic path still wants the global token
    assertThat(server.post("/ingest/other", ALERT, "Authorization", "Bearer s3cret").status())
        .isEqualTo(401);
    assertThat(
            server
                .post("/ingest/other", ALERT, "Authorization", "Bearer global-token-0123456789")
                .status())
        .isEqualTo(200);

    // the Secret changes: picked up at the next look at the Ingester (resync here)
    secret("acme-token", Map.of("token", "rotated"));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                server.post("/ingest/acme", ALERT, "Authorization", "Bearer rotated").status()
                    == 200);
    assertThat(server.post("/ingest/acme", ALERT, "Authorization", "Bearer s3cret").status())
        .isEqualTo(401);
  }

  @Test
  void basicAuthAndAMissingSecretRefusesEverything() {
    ingester(
        "acme",
        "acme",
        new IngesterSpec.Auth(
            IngesterSpec.AuthType.BASIC, new IngesterSpec.SecretRef("acme-basic", null)));
    controller.start();
    await().atMost(Duration.ofSeconds(10)).until(() -> server.registry.find("acme").isPresent());
    IngestServer.Response r = server.post("/ingest/acme", ALERT, "Authorization", basic("u", "p"));
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.body()).contains("Secret team-a/acme-basic not found");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              var c =
                  client
                      .resources(Ingester.class)
                      .inNamespace(NS)
                      .withName("acme")
                      .get()
                      .getStatus()
                      .conditions()
                      .get(0);
              assertThat(c.getStatus()).isEqualTo("False");
              assertThat(c.getReason()).isEqualTo("CredentialsUnavailable");
            });

    secret("acme-basic", Map.of("username", "u", "password", "p"));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                server.post("/ingest/acme", ALERT, "Authorization", basic("u", "p")).status()
                    == 200);
    assertThat(server.post("/ingest/acme", ALERT, "Authorization", basic("u", "wrong")).status())
        .isEqualTo(401);
    assertThat(server.post("/ingest/acme", ALERT, "Authorization", basic("x", "p")).status())
        .isEqualTo(401);
    assertThat(server.post("/ingest/acme", ALERT, "Authorization", "Basic !!!").status())
        .isEqualTo(401);
  }
}
