package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.kubernetes.KubernetesObservationStore;
import io.kubezen.watcher.store.kubernetes.KubernetesStoreOptions;
import io.kubezen.watcher.testing.KubeApiServer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, point 2, in Kubernetes mode against the real API server: a batch mixing a valid
 * namespace and ones the API server refuses ({@code Shop_Prod}, {@code UPPER}, {@code a.b}, 64
 * characters, {@code ../../x}) is answered 200, never 503 "retry"; the invalid ones are stored in
 * the watcher's own namespace with the original kept; and sending the batch again counts each
 * finding exactly once more (no retry loop that double-counts the valid ones).
 */
class PoisonInputKubernetesTest {
  @TempDir static Path dir;

  @Test
  void invalidNamespacesAreStoredInTheOwnNamespaceAndNeverPoisonTheBatch() {
    KubeApiServer.applyZenCrds();
    String own = KubeApiServer.uniqueNamespace("own");
    String shop = KubeApiServer.uniqueNamespace("shop");
    KubernetesStoreOptions options = KubernetesStoreOptions.defaults().withWriteRate(1000, 1000);
    List<String> bad = List.of("Shop_Prod", "UPPER", "a.b", "a".repeat(64), "../../x");
    StringBuilder batch =
        new StringBuilder("[").append(PoisonInputTest.falco("valid", shop, "2026-11-22T10:00:00Z"));
    for (String ns : bad) {
      batch
          .append(',')
          .append(PoisonInputTest.falco("poison " + ns.length(), ns, "2026-11-22T10:00:00Z"));
    }
    String body = batch.append(']').toString();
    try (TestWatcher w =
        new TestWatcher(
            dir,
            Map.of("POD_NAMESPACE", own, "DEDUP_FLUSH_INTERVAL_MILLIS", "100"),
            s ->
                new KubernetesObservationStore(
                    KubeApiServer.client(), Clock.systemUTC(), options))) {
      TestWatcher.Response first = w.postJson("/ingest/falco", body);
      assertThat(first.status()).as(first.body()).isEqualTo(200);
      assertThat(first.json().get("created").asInt()).isEqualTo(6);
      List<Observation> inOwn =
          KubeApiServer.client().resources(Observation.class).inNamespace(own).list().getItems();
      assertThat(inOwn).hasSize(5);
      assertThat(inOwn)
          .extracting(o -> o.getSpec().resource().namespace())
          .containsExactlyInAnyOrderElementsOf(bad);
      assertThat(inOwn)
          .allSatisfy(o -> assertThat(o.getSpec().details()).containsKey("originalNamespace"));

      TestWatcher.Response again = w.postJson("/ingest/falco", body);
      assertThat(again.status()).as(again.body()).isEqualTo(200);
      assertThat(again.json().get("aggregated").asInt()).isEqualTo(6);
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                List<Observation> all =
                    new java.util.ArrayList<>(
                        KubeApiServer.client()
                            .resources(Observation.class)
                            .inNamespace(own)
                            .list()
                            .getItems());
                all.addAll(
                    KubeApiServer.client()
                        .resources(Observation.class)
                        .inNamespace(shop)
                        .list()
                        .getItems());
                assertThat(all).hasSize(6);
                assertThat(all)
                    .allSatisfy(
                        o ->
                            assertThat(
                                    w.get(
                                            "/api/v1/observations/"
                                                + o.getMetadata().getNamespace()
                                                + "/"
                                                + o.getMetadata().getName())
                                        .json()
                                        .at("/status/count")
                                        .asLong())
                                .isEqualTo(2));
              });
    }
  }
}
