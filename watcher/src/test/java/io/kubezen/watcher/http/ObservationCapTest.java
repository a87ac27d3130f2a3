package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.kubernetes.KubernetesObservationStore;
import io.kubezen.watcher.store.kubernetes.KubernetesStoreOptions;
import io.kubezen.watcher.testing.KubeApiServer;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Webhooks into the Kubernetes store at its MAX_OBSERVATIONS cap (real API server; the store reads
 * one namespace of its own, so the cap counts only this test's Observations): a new finding with
 * nothing of lower severity to evict is answered as shed, not as aggregated, and a later sighting
 * tries again instead of counting repeats against an Observation that does not exist.
 */
class ObservationCapTest {
  @TempDir Path dir;

  static String alert(String ns, String pod) {
    return "{\"time\":\"2026-11-22T10:00:00Z\",\"rule\":\"Shell in container\",\"priority\":\"Critical\","
        + "\"output\":\"shell\",\"output_fields\":{\"k8s.ns.name\":\""
        + ns
        + "\",\"k8s.pod.name\":\""
        + pod
        + "\",\"container.id\":\"c-"
        + pod
        + "\"}}";
  }

  @Test
  void aFindingRefusedAtTheCapIsAnsweredAsShedAndTriedAgainLater() {
    KubeApiServer.applyZenCrds();
    String ns = KubeApiServer.uniqueNamespace("cap");
    KubernetesStoreOptions options =
        KubernetesStoreOptions.defaults()
            .withWriteRate(1000, 1000)
            .withNamespaces(List.of(ns))
            .withMaxObservations(2);
    try (TestWatcher w =
        new TestWatcher(
            dir,
            Map.of(),
            s ->
                new KubernetesObservationStore(
                    KubeApiServer.client(), Clock.systemUTC(), options))) {
      assertThat(w.postJson("/ingest/falco", alert(ns, "a")).json().get("created").asInt())
          .isEqualTo(1);
      assertThat(w.postJson("/ingest/falco", alert(ns, "b")).json().get("created").asInt())
          .isEqualTo(1);

      TestWatcher.Response third = w.postJson("/ingest/falco", alert(ns, "c"));
      assertThat(third.status()).isEqualTo(200);
      assertThat(third.json().get("shed").asInt()).as(third.body()).isEqualTo(1);
      assertThat(third.json().get("created").asInt()).isZero();
      assertThat(third.json().get("aggregated").asInt()).isZero();
      // Sent again: a first sighting again (not a repeat of something never stored).
      TestWatcher.Response again = w.postJson("/ingest/falco", alert(ns, "c"));
      assertThat(again.json().get("shed").asInt()).as(again.body()).isEqualTo(1);
      assertThat(again.json().get("aggregated").asInt()).isZero();
      // A repeat of a stored one is still aggregated, and no shed field is sent then.
      TestWatcher.Response repeat = w.postJson("/ingest/falco", alert(ns, "a"));
      assertThat(repeat.json().get("aggregated").asInt()).isEqualTo(1);
      assertThat(repeat.json().has("shed")).isFalse();

      assertThat(
              KubeApiServer.client().resources(Observation.class).inNamespace(ns).list().getItems())
          .hasSize(2);
      String metrics = w.get("/metrics").body();
      assertThat(metrics)
          .contains(
              "zen_watcher_observations_shed_total{action=\"refused\",severity=\"critical\"} 2.0");
      assertThat(
              metrics
                  .lines()
                  .filter(l -> l.startsWith("zen_watcher_observations_deduped_total{"))
                  .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                  .sum())
          .isEqualTo(1.0);
    }
  }
}
