package io.kubezen.watcher.store.kubernetes;

import static io.kubezen.watcher.store.kubernetes.KubeFixtures.fast;
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
    try (KubernetesClient cleaner = new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(config)
        .build()) {
      cleaner.resources(Observation.class).inAnyNamespace().list().getItems().stream()
          .map(o -> o.getMetadata().getNamespace()).distinct()
          .forEach(ns -> cleaner.resources(Observation.class).inNamespace(ns).delete());
      await().atMost(Duration.ofSeconds(120))
          .until(() -> cleaner.resources(Observation.class).inAnyNamespace().list().getItems().isEmpty());
    }
    return KubeFixtures.store(client, fast());
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
}
