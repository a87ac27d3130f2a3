package io.kubezen.watcher.http.console;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.IngesterStatus;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import io.kubezen.watcher.testing.KubeApiServer;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Ingester resources' Ready condition as the console reads it, from the real API server: True,
 * False with an attacker-controlled message (escaped on the page), none yet (Unknown), and one that
 * describes an older generation (Unknown).
 */
class KubeIngesterConditionsTest {
  static KubernetesClient client;
  @TempDir Path dir;

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
    client = KubeApiServer.client();
  }

  static IngesterSpec spec(String source, String path) {
    return new IngesterSpec(
        source,
        IngesterSpec.Type.WEBHOOK,
        null,
        new IngesterSpec.Webhook(path, null),
        new IngesterSpec.Mapping(
            null,
            "object.level",
            Map.of("SEV1", "critical"),
            "object.summary",
            "'runtime_' + object.rule",
            null,
            null,
            null,
            null,
            null),
        null,
        null);
  }

  Ingester create(String ns, String name, String source, Condition ready, Long observedGeneration) {
    Ingester i = new Ingester();
    i.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
    i.setSpec(spec(source, name));
    Ingester made = client.resources(Ingester.class).inNamespace(ns).resource(i).create();
    if (ready != null) {
      made.setStatus(new IngesterStatus(observedGeneration, List.of(ready), null, null, null));
      made = client.resources(Ingester.class).inNamespace(ns).resource(made).updateStatus();
    }
    return made;
  }

  static Condition ready(
      String status, String reason, String message, Instant since, long generation) {
    return new ConditionBuilder()
        .withType("Ready")
        .withStatus(status)
        .withReason(reason)
        .withMessage(message)
        .withObservedGeneration(generation)
        .withLastTransitionTime(since.toString())
        .build();
  }

  @Test
  void theReadyConditionOfEachIngesterAsTheLeaderWroteIt() throws Exception {
    String ns = KubeApiServer.uniqueNamespace("ingc");
    Instant t = Instant.parse("2026-01-02T03:04:05Z");
    create(ns, "alpha", "acme", ready("True", "Valid", "serving /ingest/alpha", t, 1), 1L);
    create(
        ns,
        "bravo",
        "bravo",
        ready(
            "False",
            "InvalidSpec",
            "mapping.title: <script>window.x=1</script><img src=x onerror=alert(1)>",
            t,
            1),
        1L);
    create(ns, "charlie", "charlie", null, null);
    Ingester delta =
        create(ns, "delta", "delta", ready("True", "Valid", "serving /ingest/delta", t, 1), 1L);
    delta.setSpec(spec("delta", "delta-v2"));
    client
        .resources(Ingester.class)
        .inNamespace(ns)
        .resource(delta)
        .update(); // generation 2, status still 1

    KubeIngesterConditions kube = new KubeIngesterConditions(client, ns, Clock.systemUTC());
    List<IngesterConditions.Condition> all = kube.conditions();
    assertThat(all)
        .extracting(IngesterConditions.Condition::name)
        .containsExactly(ns + "/alpha", ns + "/bravo", ns + "/charlie", ns + "/delta");
    assertThat(all.get(0))
        .isEqualTo(
            new IngesterConditions.Condition(
                ns + "/alpha",
                "cluster",
                "webhook",
                "acme",
                "True",
                "Valid",
                "serving /ingest/alpha",
                t));
    assertThat(all.get(1).status()).isEqualTo("False");
    assertThat(all.get(1).reason()).isEqualTo("InvalidSpec");
    assertThat(all.get(2).status()).isEqualTo("Unknown");
    assertThat(all.get(2).reason()).isEqualTo("NotReconciled");
    assertThat(all.get(3).status()).isEqualTo("Unknown");
    assertThat(all.get(3).message())
        .startsWith("describes generation 1; generation 2 is not applied yet");

    // Answers are reused for a few seconds: page views do not each list the Ingesters.
    client.resources(Ingester.class).inNamespace(ns).withName("charlie").delete();
    assertThat(kube.conditions()).hasSize(4);

    // On the sources page, over HTTP: every field shown, the message as text.
    SqliteObservationStore store =
        SqliteObservationStore.open(dir.resolve("c.db"), Clock.systemUTC());
    Vertx vertx = Vertx.vertx();
    try {
      Router router = Router.router(vertx);
      new Console(store, Clock.systemUTC(), Map::of, "kubernetes")
          .withIngesters(IngesterConditions.of(List.of(kube)))
          .mount(router);
      HttpServer server =
          vertx
              .createHttpServer()
              .requestHandler(router)
              .listen(0, "127.0.0.1")
              .toCompletionStage()
              .toCompletableFuture()
              .join();
      String page =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + server.actualPort() + "/sources"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      assertThat(page)
          .contains(
              "<code>"
                  + ns
                  + "/alpha</code></th><td>webhook</td><td><a href=\"/findings?source=acme"
                  + "&amp;state=all\">acme</a></td><td><span class=\"badge active\">True</span></td><td>Valid</td>"
                  + "<td class=\"text\">serving /ingest/alpha</td><td><time>2026-01-02 03:04:05 UTC</time>");
      assertThat(page)
          .contains("<span class=\"badge inactive\">False</span></td><td>InvalidSpec</td>")
          .contains(
              "mapping.title: &lt;script&gt;window.x=1&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;")
          .doesNotContain("<script>window")
          .doesNotContain("<img src=x");
      assertThat(page)
          .contains("<span class=\"badge waiting\">Unknown</span></td><td>NotReconciled</td>");
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().join();
      store.close();
    }
  }
}
