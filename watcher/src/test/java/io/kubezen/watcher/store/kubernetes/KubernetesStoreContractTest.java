package io.kubezen.watcher.store.kubernetes;

import static io.kubezen.watcher.store.kubernetes.KubeFixtures.fast;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.ObservationStoreContract;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;

/**
 * The store contract suite against the kubernetes store on the real API server (kube-apiext). Each
 * case starts from a cluster without Observations (the cases list across namespaces), in namespaces
 * of its own.
 */
class KubernetesStoreContractTest extends ObservationStoreContract {
  static KubernetesClient client;
  private final Map<String, String> namespaces = new HashMap<>();

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
    client = KubeApiServer.client();
  }

  @Override
  protected ObservationStore open() {
    // Other tests may have left thousands behind: a delete-collection of those can take long.
    io.fabric8.kubernetes.client.Config config = KubeApiServer.config();
    config.setRequestTimeout(120_000);
    try (KubernetesClient cleaner =
        new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(config).build()) {
      cleaner.resources(Observation.class).inAnyNamespace().list().getItems().stream()
          .map(o -> o.getMetadata().getNamespace())
          .distinct()
          .forEach(ns -> cleaner.resources(Observation.class).inNamespace(ns).delete());
      await()
          .atMost(Duration.ofSeconds(120))
          .until(
              () ->
                  cleaner
                      .resources(Observation.class)
                      .inAnyNamespace()
                      .list()
                      .getItems()
                      .isEmpty());
    }
    return synced(KubeFixtures.store(client, fast()));
  }

  @Override
  protected ObservationStore openWithMaxObservations(long max) {
    return synced(KubeFixtures.store(client, fast().withMaxObservations(max)));
  }

  /**
   * Waits for the store's Observation cache to have its initial list (the live count is -1 until
   * then). A write made while that list is in flight is in the API server at once but can be
   * missing from the cache until its watch event arrives (the list's snapshot, taken before the
   * write, replaces what the cache held): the console's cache-backed counts lag it by that event.
   * The contract is about what the store answers once it is running, so the cases start synced.
   */
  private static KubernetesObservationStore synced(KubernetesObservationStore s) {
    await().atMost(Duration.ofSeconds(60)).until(() -> s.liveCount() >= 0);
    return s;
  }

  @Override
  protected Instant now() {
    return Instant.now();
  }

  @Override
  protected String ns(String base) {
    return namespaces.computeIfAbsent(base, KubeApiServer::uniqueNamespace);
  }

  @Override
  protected Set<String> labelsAddedByStore() {
    return Set.of(KubernetesObservationStore.LABEL_EVENT_TYPE);
  }

  /**
   * The console reads come from the cache, which the watch feeds: Observations written and deleted
   * by someone else (another replica, kubectl) show up and go, search text and summary included.
   */
  @org.junit.jupiter.api.Test
  void consoleReadsFollowWhatOthersWriteThroughTheWatch() {
    String n = ns("others");
    Observation o = KubeFixtures.obs(n, "falco-by-hand");
    io.kubezen.watcher.store.FindingFilter rule =
        new io.kubezen.watcher.store.FindingFilter(
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            "TERMINAL SHELL in");
    io.kubezen.watcher.store.FindingsQuery q =
        io.kubezen.watcher.store.FindingsQuery.first(
            rule, io.kubezen.watcher.store.FindingSort.SEVERITY, 10);
    assertThat(store.findings(q).items()).isEmpty();
    client.resources(Observation.class).inNamespace(n).resource(o).create();
    await().atMost(Duration.ofSeconds(30)).until(() -> store.summary().total() == 1);
    Observation row = store.findings(q).items().get(0);
    assertThat(row.getMetadata().getName()).isEqualTo("falco-by-hand");
    assertThat(row.getSpec().title()).isEqualTo("A shell was spawned in container web");
    assertThat(row.getSpec().details())
        .isNull(); // trimmed: the detail page reads the full one with get
    assertThat(store.get(n, "falco-by-hand").orElseThrow().getSpec().details()).containsKey("rule");
    assertThat(
            store.countBy(
                io.kubezen.watcher.store.FindingFilter.NONE,
                java.util.List.of(io.kubezen.watcher.store.GroupField.SOURCE)))
        .containsExactly(new io.kubezen.watcher.store.GroupCount(java.util.List.of("falco"), 1));
    client.resources(Observation.class).inNamespace(n).withName("falco-by-hand").delete();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> store.summary().equals(io.kubezen.watcher.store.StoreSummary.EMPTY));
    assertThat(store.findings(q).items()).isEmpty();
  }
}
