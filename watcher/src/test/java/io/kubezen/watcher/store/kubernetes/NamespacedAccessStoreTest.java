package io.kubezen.watcher.store.kubernetes;

import static io.kubezen.watcher.store.kubernetes.KubeFixtures.TTL_LONG;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.fast;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.obs;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.store;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The kubernetes store with namespaced access (ACCESS_SCOPE=namespaces) against the real API
 * server: every read is made in one of its namespaces, none across all of them, and what lies in
 * other namespaces is neither read, nor collected, nor evicted.
 */
class NamespacedAccessStoreTest {
  static KubernetesClient admin;
  String a;
  String b;
  String c;
  final List<String> paths = new CopyOnWriteArrayList<>();
  KubeFixtures.Counting recording;

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
    admin = KubeApiServer.client();
  }

  @BeforeEach
  void namespaces() {
    a = KubeApiServer.uniqueNamespace("scope-a");
    b = KubeApiServer.uniqueNamespace("scope-b");
    c = KubeApiServer.uniqueNamespace("outside");
    recording = new KubeFixtures.Counting();
    recording.hook =
        (builder, request) -> paths.add(request.method() + " " + request.uri().getPath());
  }

  /**
   * Observations created by an admin client: {@code n} in {@code ns}, the even ones with a 60 s
   * TTL.
   */
  void seed(String ns, int n, Severity severity, String originUid) {
    for (int i = 0; i < n; i++) {
      Observation o =
          obs(ns, "falco-" + ns + "-" + i, severity, "runtime_threat", i % 2 == 0 ? 60 : TTL_LONG);
      o.getMetadata().getLabels().put(Observation.LABEL_ORIGIN_UID, originUid);
      o.setStatus(null);
      admin.resources(Observation.class).inNamespace(ns).resource(o).create();
    }
  }

  void assertNoClusterWideCall() {
    assertThat(paths)
        .isNotEmpty()
        .allSatisfy(
            p ->
                assertThat(p)
                    .as("every Observation call names a namespace of the scope")
                    .matches(
                        "^[A-Z]+ /apis/zen\\.kube-zen\\.io/v1alpha1/namespaces/("
                            + a
                            + "|"
                            + b
                            + ")/observations.*"));
  }

  @Test
  void listsWalkTheNamespacesOfTheScopeOnlyPageByPage() {
    seed(a, 5, Severity.LOW, "uid-1");
    seed(b, 3, Severity.LOW, "uid-1");
    seed(c, 4, Severity.LOW, "uid-1");
    try (KubernetesClient client = KubeFixtures.countingClient(recording);
        KubernetesObservationStore store = store(client, fast().withNamespaces(List.of(a, b)))) {
      assertThat(store.isReachable()).isTrue();
      List<String> seen = new ArrayList<>();
      List<Integer> sizes = new ArrayList<>();
      String token = null;
      do {
        ObservationPage page =
            store.list(new ObservationQuery(null, null, null, null, null, 3, token));
        page.items()
            .forEach(
                o -> seen.add(o.getMetadata().getNamespace() + "/" + o.getMetadata().getName()));
        sizes.add(page.items().size());
        token = page.continueToken();
      } while (token != null);
      assertThat(sizes).containsExactly(3, 3, 2);
      assertThat(seen)
          .doesNotHaveDuplicates()
          .hasSize(8)
          .allSatisfy(n -> assertThat(n.substring(0, n.indexOf('/'))).isIn(a, b));
      assertThat(seen.stream().filter(n -> n.startsWith(b + "/"))).hasSize(3);
      // One page for all: the namespaces in order.
      assertThat(store.list(ObservationQuery.all(100)).items()).hasSize(8);
      assertThat(store.list(ObservationQuery.all(100)).continueToken()).isNull();
      // Newest first across the namespaces of the scope: the next page holds the rest.
      ObservationPage five = store.list(ObservationQuery.all(5));
      assertThat(five.items()).hasSize(5);
      assertThat(five.continueToken()).isNotNull();
      List<String> firstFive =
          five.items().stream()
              .map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName())
              .toList();
      assertThat(
              store
                  .list(new ObservationQuery(null, null, null, null, null, 5, five.continueToken()))
                  .items())
          .hasSize(3)
          .noneSatisfy(
              o ->
                  assertThat(firstFive)
                      .contains(o.getMetadata().getNamespace() + "/" + o.getMetadata().getName()));
      // Filtered by namespace: one in the scope is listed, one outside holds nothing of this
      // install.
      assertThat(store.list(new ObservationQuery(null, null, null, b, null, 100, null)).items())
          .hasSize(3);
      assertThat(store.list(new ObservationQuery(null, null, null, c, null, 100, null)).items())
          .isEmpty();
      // Tokens this list did not issue.
      assertThatThrownBy(
              () -> store.list(new ObservationQuery(null, null, null, null, null, 3, "garbage")))
          .isInstanceOf(InvalidContinueTokenException.class);
      assertThatThrownBy(
              () -> store.list(new ObservationQuery(null, null, null, null, null, 3, "ns1.7.x")))
          .isInstanceOf(InvalidContinueTokenException.class);
      assertThatThrownBy(
              () ->
                  store.list(new ObservationQuery(null, null, null, null, null, 3, "ns1.0.bogus")))
          .isInstanceOf(InvalidContinueTokenException.class);

      assertThat(store.listByOrigin("uid-1"))
          .hasSize(8)
          .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isIn(a, b));
      await().atMost(Duration.ofSeconds(10)).until(() -> store.liveCount() == 8);
      assertNoClusterWideCall();
    }
  }

  @Test
  void garbageCollectionAndEvictionStayInTheScope() {
    seed(a, 4, Severity.LOW, "uid-2");
    seed(b, 2, Severity.LOW, "uid-2");
    seed(c, 4, Severity.LOW, "uid-2");
    Instant created =
        Instant.parse(
            admin
                .resources(Observation.class)
                .inNamespace(a)
                .withName("falco-" + a + "-0")
                .get()
                .getMetadata()
                .getCreationTimestamp());
    try (KubernetesClient client = KubeFixtures.countingClient(recording);
        KubernetesObservationStore store =
            store(client, fast().withNamespaces(List.of(a, b)).withMaxObservations(3))) {
      GcResult gc = store.deleteExpired(created.plus(Duration.ofHours(1)));
      assertThat(gc.errors()).isZero();
      assertThat(gc.deleted()).isEqualTo(3); // the even ones of a (2) and b (1)
      assertThat(names(a)).containsExactly("falco-" + a + "-1", "falco-" + a + "-3");
      assertThat(names(b)).containsExactly("falco-" + b + "-1");
      assertThat(names(c)).hasSize(4); // outside: untouched, although expired
      assertThat(store.liveCount()).isEqualTo(3);

      // At the cap (3 live in the scope): a HIGH finding evicts a LOW one of the scope, never one
      // outside.
      assertThat(
              store.createOrMerge(
                  List.of(obs(b, "falco-high", Severity.HIGH, "runtime_threat", TTL_LONG))))
          .containsExactly(WriteOutcome.CREATED);
      assertThat(names(a).size() + names(b).size()).isEqualTo(3);
      assertThat(names(b)).contains("falco-high");
      assertThat(names(c)).hasSize(4);
      assertNoClusterWideCall();
    }
  }

  Set<String> names(String ns) {
    return new TreeSet<>(
        admin.resources(Observation.class).inNamespace(ns).list().getItems().stream()
            .map(o -> o.getMetadata().getName())
            .toList());
  }
}
