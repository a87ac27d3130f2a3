package io.kubezen.watcher.store.kubernetes;

import static io.kubezen.watcher.store.kubernetes.KubeFixtures.fast;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.obs;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.store;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.PartialWriteException;
import io.kubezen.watcher.store.RejectedWriteException;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.testing.KubeApiServer;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, point 2: an Observation the API server refuses (422) is a permanent error for that
 * item, told apart from the retriable ones, and the other items of the batch are written once.
 */
class RejectedWriteTest {
  static KubernetesClient client;

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
    client = KubeApiServer.client();
  }

  @Test
  void a422IsARejectedWriteForThatItemOnly() {
    String ns = KubeApiServer.uniqueNamespace("reject");
    // Not a namespace name (what the normalizers now prevent): the API server answers 422.
    Observation bad = obs("Shop_Prod", "falco-bad0");
    try (KubernetesObservationStore store = store(client, fast())) {
      Throwable t = catchThrowable(() -> store.createOrMerge(List.of(obs(ns, "falco-good"), bad)));
      assertThat(t).isInstanceOf(PartialWriteException.class);
      PartialWriteException p = (PartialWriteException) t;
      assertThat(p.outcomes()).containsExactly(WriteOutcome.CREATED, null);
      assertThat(p.causeOf(1))
          .isInstanceOf(RejectedWriteException.class)
          .hasMessageContaining("422");
      assertThat(p.causeOf(0)).isSameAs(p);
    }
  }
}
