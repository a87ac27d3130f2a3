package io.kubezen.watcher.store.kubernetes;

import static io.kubezen.watcher.store.kubernetes.KubeFixtures.DETECTED;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.TTL_LONG;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.fast;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.obs;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.store;
import static io.kubezen.watcher.store.kubernetes.KubeFixtures.withStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.Shed;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The kubernetes store against the real API server (kube-apiext). */
class KubernetesObservationStoreTest {
  static KubernetesClient client;

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
    client = KubeApiServer.client();
  }

  private static Observation read(String ns, String name) {
    return client.resources(Observation.class).inNamespace(ns).withName(name).get();
  }

  @Test
  void createsWithOneWriteAndMergesOn409WithExactCounts() {
    String ns = KubeApiServer.uniqueNamespace("merge");
    KubeFixtures.Requests mine = new KubeFixtures.Requests();
    KubeFixtures.Requests theirs = new KubeFixtures.Requests();
    try (KubernetesClient c1 = KubeFixtures.measuredClient(mine);
        KubernetesClient c2 = KubeFixtures.measuredClient(theirs);
        KubernetesObservationStore store = store(c1, fast());
        KubernetesObservationStore replica = store(c2, fast())) {
      assertThat(store.createOrMerge(List.of(obs(ns, "falco-aaaa"))))
          .containsExactly(WriteOutcome.CREATED);
      assertThat(mine.count("create", "observations")).isEqualTo(1);
      assertThat(mine.writes()).as("one write per new Observation").isEqualTo(1);
      // Stored without a status (the status subresource drops it): the CRD's default makes it count
      // 1
      // as the API server answers it (kubectl get obs shows Count 1), and the store reads the rest.
      assertThat(read(ns, "falco-aaaa").getStatus())
          .isEqualTo(new ObservationStatus(1L, null, null, null, null));
      assertThat(store.get(ns, "falco-aaaa").orElseThrow().getStatus())
          .isEqualTo(ObservationStatus.seen(1, DETECTED, DETECTED));

      // Another replica meets 409 and merges: count += n, lastSeen max, firstSeen min.
      Observation again =
          withStatus(obs(ns, "falco-aaaa"), 3, "2024-04-30T09:00:00Z", "2024-05-02T11:00:00Z");
      assertThat(replica.createOrMerge(List.of(again))).containsExactly(WriteOutcome.MERGED);
      ObservationStatus s = read(ns, "falco-aaaa").getStatus();
      assertThat(s.count()).isEqualTo(4);
      assertThat(s.firstSeen()).isEqualTo("2024-04-30T09:00:00Z");
      assertThat(s.lastSeen()).isEqualTo("2024-05-02T11:00:00Z");
      // The replica's Observation cache may have seen it already (then no create is tried, one
      // status patch merges); else its create meets 409 and the patch merges. Either way one patch.
      assertThat(theirs.count("patch", "observations/status")).isEqualTo(1);
      assertThat(theirs.count("create", "observations")).isBetween(0L, 1L);
      assertThat(theirs.count("delete", "observations")).isZero();

      // The spec is the first one's: a merge never touches it.
      assertThat(read(ns, "falco-aaaa").getSpec().detectedAt()).isEqualTo(DETECTED);
    }
  }

  /**
   * The read API's list is newest first (creation time, then name), like the other stores: order
   * and pages from the Observation cache, each row read whole (details included).
   */
  @Test
  void theReadApiListIsNewestFirstAndPagedFromTheCache() throws Exception {
    String ns = KubeApiServer.uniqueNamespace("newest");
    KubeFixtures.Requests requests = new KubeFixtures.Requests();
    try (KubernetesClient measured = KubeFixtures.measuredClient(requests);
        KubernetesObservationStore store = store(measured, fast())) {
      store.createOrMerge(List.of(obs(ns, "old-b"), obs(ns, "old-a")));
      Thread.sleep(1100); // creationTimestamp has whole seconds
      store.createOrMerge(List.of(obs(ns, "new-z"), obs(ns, "new-y")));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  store
                          .list(new ObservationQuery(null, null, null, ns, null, 100, null))
                          .items()
                          .size()
                      == 4);
      long lists = requests.count("list", "observations");
      List<String> all =
          store.list(new ObservationQuery(null, null, null, ns, null, 10, null)).items().stream()
              .map(o -> o.getMetadata().getName())
              .toList();
      // Created in two batches over a second apart; within a batch, by name unless a second
      // boundary
      // fell inside it: the expected order from the API server's own creation timestamps.
      List<String> expected =
          client.resources(Observation.class).inNamespace(ns).list().getItems().stream()
              .sorted(
                  java.util.Comparator.comparing(
                          (Observation o) -> o.getMetadata().getCreationTimestamp())
                      .reversed()
                      .thenComparing(o -> o.getMetadata().getName()))
              .map(o -> o.getMetadata().getName())
              .toList();
      assertThat(all).isEqualTo(expected);
      assertThat(all.subList(0, 2)).containsExactlyInAnyOrder("new-y", "new-z");
      ObservationPage first = store.list(new ObservationQuery(null, null, null, ns, null, 3, null));
      assertThat(first.items())
          .extracting(o -> o.getMetadata().getName())
          .isEqualTo(expected.subList(0, 3));
      assertThat(first.items().get(0).getSpec().details())
          .as("rows are read whole")
          .containsKey("rule");
      assertThat(first.items().get(0).getStatus().count()).isEqualTo(1L);
      ObservationPage second =
          store.list(new ObservationQuery(null, null, null, ns, null, 3, first.continueToken()));
      assertThat(second.items())
          .extracting(o -> o.getMetadata().getName())
          .isEqualTo(expected.subList(3, 4));
      assertThat(second.continueToken()).isNull();
      assertThat(requests.count("list", "observations"))
          .as("no list of the collection: the cache orders")
          .isEqualTo(lists);
      // filters: the severity of one of them
      assertThat(
              store.list(new ObservationQuery(null, "critical", null, ns, null, 10, null)).items())
          .isEmpty();
      assertThat(
              store
                  .list(
                      new ObservationQuery(
                          "falco", "medium", "security", ns, "runtime_threat", 10, null))
                  .items())
          .hasSize(4);
      assertThatThrownBy(
              () ->
                  store.list(
                      new ObservationQuery(
                          null,
                          null,
                          null,
                          ns,
                          null,
                          3,
                          java.util.Base64.getUrlEncoder().encodeToString("k1:x:1:ab".getBytes()))))
          .isInstanceOf(InvalidContinueTokenException.class);
    }
  }

  @Test
  void aNewObservationWithAStatusOfItsOwnGetsItAfterTheCreate() {
    String ns = KubeApiServer.uniqueNamespace("status");
    KubeFixtures.Requests requests = new KubeFixtures.Requests();
    try (KubernetesClient measured = KubeFixtures.measuredClient(requests);
        KubernetesObservationStore store = store(measured, fast())) {
      Observation o =
          withStatus(obs(ns, "falco-bbbb"), 5, "2024-05-01T09:00:00Z", "2024-05-01T12:00:00Z");
      assertThat(store.createOrMerge(List.of(o))).containsExactly(WriteOutcome.CREATED);
      assertThat(read(ns, "falco-bbbb").getStatus())
          .isEqualTo(
              new ObservationStatus(
                  5L, "2024-05-01T09:00:00Z", "2024-05-01T12:00:00Z", null, null));
      assertThat(requests.count("create", "observations")).isEqualTo(1);
      assertThat(requests.count("patch", "observations/status")).isEqualTo(1);
      assertThat(requests.count("delete", "observations")).isZero();
    }
  }

  @Test
  void twoReplicasRacingOnTheSameNamesStoreOneObservationEachWithExactCounts() throws Exception {
    String ns = KubeApiServer.uniqueNamespace("race");
    int names = 40;
    int rounds = 3;
    try (KubernetesObservationStore a = store(client, fast());
        KubernetesObservationStore b = store(client, fast())) {
      CyclicBarrier start = new CyclicBarrier(2);
      ExecutorService pool = Executors.newFixedThreadPool(2);
      List<Future<List<WriteOutcome>>> results = new ArrayList<>();
      for (KubernetesObservationStore s : List.of(a, b)) {
        results.add(
            pool.submit(
                () -> {
                  List<WriteOutcome> all = new ArrayList<>();
                  start.await();
                  for (int r = 0; r < rounds; r++) {
                    List<Observation> batch = new ArrayList<>();
                    for (int i = 0; i < names; i++) {
                      batch.add(obs(ns, "falco-race-" + i));
                    }
                    Collections.shuffle(batch);
                    all.addAll(s.createOrMerge(batch));
                  }
                  return all;
                }));
      }
      List<WriteOutcome> outcomes = new ArrayList<>();
      for (Future<List<WriteOutcome>> f : results) {
        outcomes.addAll(f.get());
      }
      pool.shutdown();
      assertThat(outcomes.stream().filter(o -> o == WriteOutcome.CREATED).count()).isEqualTo(names);
      assertThat(outcomes.stream().filter(o -> o == WriteOutcome.MERGED).count())
          .isEqualTo(names * (2L * rounds - 1));
    }
    List<Observation> stored =
        client.resources(Observation.class).inNamespace(ns).list().getItems();
    assertThat(stored).hasSize(names);
    assertThat(stored).allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(2L * rounds));
  }

  @Test
  void concurrentRepeatsOnOneObservationRetryConflictsAndCountExactly() throws Exception {
    String ns = KubeApiServer.uniqueNamespace("conflict");
    try (KubernetesObservationStore store = store(client, fast())) {
      store.createOrMerge(List.of(obs(ns, "falco-cccc")));
      int threads = 4;
      int each = 25;
      CyclicBarrier start = new CyclicBarrier(threads);
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        fs.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < each; i++) {
                    Instant seen = Instant.parse(DETECTED).plusSeconds(thread * 1000L + i);
                    assertThat(store.addRepeats(List.of(new Repeat(ns, "falco-cccc", 1, seen))))
                        .containsExactly(WriteOutcome.MERGED);
                  }
                  return null;
                }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      pool.shutdown();
      ObservationStatus s = read(ns, "falco-cccc").getStatus();
      assertThat(s.count()).isEqualTo(1 + threads * each);
      assertThat(s.lastSeen()).isEqualTo(Instant.parse(DETECTED).plusSeconds(3000 + 24).toString());
      assertThat(s.firstSeen()).isEqualTo(DETECTED);
      assertThat(store.conflictRetries()).isPositive();
      assertThat(store.addRepeats(List.of(new Repeat(ns, "falco-gone", 2, Instant.now()))))
          .containsExactly(WriteOutcome.MISSING);
    }
  }

  @Test
  void createIfAbsentResolveAndListByOrigin() {
    String ns = KubeApiServer.uniqueNamespace("reconcile");
    String uid = java.util.UUID.randomUUID().toString();
    KubeFixtures.Requests requests = new KubeFixtures.Requests();
    try (KubernetesClient measured = KubeFixtures.measuredClient(requests);
        KubernetesObservationStore store = store(measured, fast())) {
      Observation one = obs(ns, "trivy-0001");
      one.getMetadata().getLabels().put(Observation.LABEL_ORIGIN_UID, uid);
      Observation two = obs(ns, "trivy-0002");
      two.getMetadata().getLabels().put(Observation.LABEL_ORIGIN_UID, uid);
      assertThat(store.createIfAbsent(List.of(one, two)))
          .containsExactly(WriteOutcome.CREATED, WriteOutcome.CREATED);
      store.createOrMerge(List.of(obs(ns, "falco-other")));

      long writes = requests.writes();
      assertThat(store.createIfAbsent(List.of(obs(ns, "trivy-0001"))))
          .containsExactly(WriteOutcome.EXISTED);
      assertThat(requests.writes())
          .as("an existing unresolved one costs no write at all (a read finds it)")
          .isEqualTo(writes);
      assertThat(read(ns, "trivy-0001").getStatus().count()).isEqualTo(1L);

      assertThat(store.listByOrigin(uid))
          .extracting(o -> o.getMetadata().getName())
          .containsExactlyInAnyOrder("trivy-0001", "trivy-0002");

      Instant at = Instant.parse("2024-05-03T08:00:00Z");
      assertThat(
              store.resolve(
                  List.of(
                      new ObservationKey(ns, "trivy-0002"), new ObservationKey(ns, "trivy-gone")),
                  at))
          .containsExactly(WriteOutcome.MERGED, WriteOutcome.MISSING);
      assertThat(store.resolve(List.of(new ObservationKey(ns, "trivy-0002")), at.plusSeconds(60)))
          .containsExactly(WriteOutcome.MERGED);
      ObservationStatus resolved = read(ns, "trivy-0002").getStatus();
      assertThat(resolved.resolved()).isTrue();
      assertThat(resolved.resolvedAt()).as("the first resolvedAt is kept").isEqualTo(at.toString());
      assertThat(resolved.count()).isEqualTo(1);

      // The finding is back: create-if-absent leaves the count alone and unresolves.
      assertThat(store.createIfAbsent(List.of(obs(ns, "trivy-0002"))))
          .containsExactly(WriteOutcome.EXISTED);
      ObservationStatus back = read(ns, "trivy-0002").getStatus();
      assertThat(back.resolved()).isFalse();
      assertThat(back.count()).isEqualTo(1);
    }
  }

  @Test
  void listFiltersAndPagesNewestFirst() {
    String ns = KubeApiServer.uniqueNamespace("list");
    try (KubernetesObservationStore store = store(client, fast())) {
      List<Observation> batch = new ArrayList<>();
      for (int i = 0; i < 7; i++) {
        batch.add(
            obs(
                ns,
                "falco-l" + i,
                i < 3 ? Severity.CRITICAL : Severity.LOW,
                i % 2 == 0 ? "runtime_threat" : "_odd_event_type_",
                TTL_LONG));
      }
      store.createOrMerge(batch);
      // Right after the store starts, its cache's initial list may drop what was written before the
      // list's snapshot until the watch delivers it again (milliseconds): wait until it has all.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  store
                          .list(new ObservationQuery(null, null, null, ns, null, 100, null))
                          .items()
                          .size()
                      == 7);
      List<String> names = new ArrayList<>();
      String token = null;
      int pages = 0;
      do {
        ObservationPage page =
            store.list(new ObservationQuery(null, null, null, ns, null, 3, token));
        page.items().forEach(o -> names.add(o.getMetadata().getName()));
        assertThat(page.items()).allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(1));
        token = page.continueToken();
        pages++;
      } while (token != null);
      assertThat(pages).isEqualTo(3);
      // Newest first, then by name (created in one batch: mostly one second, maybe two).
      List<String> expected =
          client.resources(Observation.class).inNamespace(ns).list().getItems().stream()
              .sorted(
                  java.util.Comparator.comparing(
                          (Observation o) -> o.getMetadata().getCreationTimestamp())
                      .reversed()
                      .thenComparing(o -> o.getMetadata().getName()))
              .map(o -> o.getMetadata().getName())
              .toList();
      assertThat(names).hasSize(7).isEqualTo(expected);

      assertThat(
              store.list(new ObservationQuery(null, "critical", null, ns, null, 100, null)).items())
          .extracting(o -> o.getMetadata().getName())
          .containsExactlyInAnyOrder("falco-l0", "falco-l1", "falco-l2");
      // An eventType that is not a valid label value is found through its hashed label.
      assertThat(
              store
                  .list(
                      new ObservationQuery(
                          "falco", "low", "security", ns, "_odd_event_type_", 100, null))
                  .items())
          .extracting(o -> o.getMetadata().getName())
          .containsExactly("falco-l3", "falco-l5");
      assertThat(
              store
                  .list(new ObservationQuery(null, "no such severity!", null, ns, null, 100, null))
                  .items())
          .isEmpty();
      assertThatThrownBy(
              () -> store.list(new ObservationQuery(null, null, null, ns, null, 3, "not-a-token")))
          .isInstanceOf(InvalidContinueTokenException.class);
      assertThat(store.get(ns, "falco-nope")).isEmpty();
    }
  }

  @Test
  void gcPagesThroughEverythingDeletesTheExpiredAndSurvivesAFailingDelete() {
    String ns = KubeApiServer.uniqueNamespace("gc");
    int total = 1100;
    KubeFixtures.Counting counting = new KubeFixtures.Counting();
    try (KubernetesClient counted = KubeFixtures.countingClient(counting);
        KubernetesObservationStore store = store(counted, fast())) {
      List<Observation> all = new ArrayList<>();
      for (int i = 0; i < total; i++) {
        all.add(
            obs(
                ns,
                String.format("falco-gc-%04d", i),
                Severity.LOW,
                "runtime_threat",
                i % 2 == 0 ? 60 : TTL_LONG));
      }
      for (int i = 0; i < total; i += 500) {
        assertThat(store.createOrMerge(all.subList(i, Math.min(total, i + 500))))
            .containsOnly(WriteOutcome.CREATED);
      }
      // One delete is refused by the API server (405: the request is redirected to the status
      // subresource, which has no delete).
      String failing = "falco-gc-0010";
      AtomicBoolean injected = new AtomicBoolean();
      counting.hook =
          (builder, request) -> {
            if ("DELETE".equals(request.method())
                && request.uri().getPath().endsWith("/" + failing)) {
              builder.uri(java.net.URI.create(request.uri() + "/status"));
              injected.set(true);
            }
          };
      long listsBefore = counting.count("GET");
      Instant created =
          Instant.parse(read(ns, "falco-gc-0000").getMetadata().getCreationTimestamp());
      // The clock of the sweep: an hour after the creations, long after the 60 s TTLs.
      GcResult result =
          store.deleteExpired(
              Clock.offset(Clock.fixed(created, java.time.ZoneOffset.UTC), Duration.ofHours(1))
                  .instant());

      assertThat(injected).isTrue();
      assertThat(result.errors()).isEqualTo(1);
      assertThat(result.deleted()).isGreaterThanOrEqualTo(total / 2 - 1);
      assertThat(counting.count("GET") - listsBefore)
          .as("GC sweeps the Observation cache: no list, no read")
          .isZero();
      List<String> left =
          client.resources(Observation.class).inNamespace(ns).list().getItems().stream()
              .map(o -> o.getMetadata().getName())
              .toList();
      assertThat(left)
          .hasSize(total / 2 + 1)
          .contains(failing)
          .allSatisfy(
              n ->
                  assertThat(Integer.parseInt(n.substring(9)) % 2 == 1 || n.equals(failing))
                      .isTrue());
      assertThat(store.liveCount()).isGreaterThanOrEqualTo(total / 2 + 1);

      counting.hook = (b, r) -> {};
      GcResult second = store.deleteExpired(created.plus(Duration.ofHours(1)));
      assertThat(second.errors()).isZero();
      assertThat(read(ns, failing)).isNull();
      client.resources(Observation.class).inNamespace(ns).delete();
    }
  }

  @Test
  void kubeWriteQpsIsAHardCeiling() {
    String ns = KubeApiServer.uniqueNamespace("rate");
    KubernetesStoreOptions slow =
        KubernetesStoreOptions.defaults().withWriteRate(20, 5).withMaxInFlight(8);
    KubeFixtures.Requests requests = new KubeFixtures.Requests();
    try (KubernetesClient measured = KubeFixtures.measuredClient(requests);
        KubernetesObservationStore store = store(measured, slow)) {
      List<Observation> batch =
          IntStream.range(0, 60).mapToObj(i -> obs(ns, "falco-rate-" + i)).toList();
      long start = System.nanoTime();
      assertThat(store.createOrMerge(batch)).containsOnly(WriteOutcome.CREATED);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      // 5 at once, then 55 at 20/s: at least 2.75 s.
      assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(2500));
      assertThat(requests.count("create", "observations")).isEqualTo(60);
    }
  }

  @Test
  void maxObservationsShedsTheLowestSeverityFirst() {
    String ns = KubeApiServer.uniqueNamespace("cap");
    // The cap is global: leave room for exactly three more than exist now.
    long existing = countAll(null);
    try (KubernetesObservationStore store =
        store(client, fast().withMaxObservations(existing + 3))) {
      await().atMost(Duration.ofSeconds(30)).until(() -> store.liveCount() >= 0);
      assertThat(store.liveCount()).isEqualTo(existing);
      assertThat(
              store.createOrMerge(
                  List.of(
                      obs(ns, "falco-cap-i1", Severity.INFO, "runtime_threat", TTL_LONG),
                      obs(ns, "falco-cap-i2", Severity.INFO, "runtime_threat", TTL_LONG),
                      obs(ns, "falco-cap-m1", Severity.MEDIUM, "runtime_threat", TTL_LONG))))
          .containsOnly(WriteOutcome.CREATED);
      assertThat(store.liveCount()).isEqualTo(existing + 3);

      // Full. A new info finding has nothing lower to evict: refused.
      assertThat(
              store.createOrMerge(
                  List.of(obs(ns, "falco-cap-i3", Severity.INFO, "runtime_threat", TTL_LONG))))
          .containsExactly(WriteOutcome.MISSING);
      assertThat(read(ns, "falco-cap-i3")).isNull();
      assertThat(store.shedCount(Severity.INFO, Shed.REFUSED)).isEqualTo(1);
      // An existing one still merges at the cap.
      assertThat(
              store.createOrMerge(
                  List.of(obs(ns, "falco-cap-i1", Severity.INFO, "runtime_threat", TTL_LONG))))
          .containsExactly(WriteOutcome.MERGED);

      // A critical one evicts an info one (the lowest severity there is).
      long infoBefore = countAll("info");
      assertThat(
              store.createOrMerge(
                  List.of(obs(ns, "falco-cap-c1", Severity.CRITICAL, "runtime_threat", TTL_LONG))))
          .containsExactly(WriteOutcome.CREATED);
      assertThat(read(ns, "falco-cap-c1")).isNotNull();
      assertThat(countAll("info")).isEqualTo(infoBefore - 1);
      assertThat(store.shedCount(Severity.INFO, Shed.EVICTED)).isEqualTo(1);
      assertThat(store.liveCount()).isEqualTo(existing + 3);
      assertThat(countAll(null)).isEqualTo(existing + 3);
    } finally {
      client.resources(Observation.class).inNamespace(ns).delete();
    }
  }

  private static long countAll(String severity) {
    long n = 0;
    String cont = null;
    do {
      var page =
          client
              .resources(Observation.class)
              .inAnyNamespace()
              .list(
                  new ListOptionsBuilder()
                      .withLimit(500L)
                      .withContinue(cont)
                      .withLabelSelector(
                          severity == null ? null : Observation.LABEL_SEVERITY + "=" + severity)
                      .build());
      n += page.getItems().size();
      cont = page.getMetadata().getContinue();
    } while (cont != null && !cont.isEmpty());
    return n;
  }

  @Test
  void detailsLargerThanTheCapAreCutLargestFirst() {
    String ns = KubeApiServer.uniqueNamespace("details");
    try (KubernetesObservationStore store = store(client, fast().withMaxDetailsBytes(256))) {
      Observation o = obs(ns, "falco-big");
      Map<String, Object> details = new LinkedHashMap<>(o.getSpec().details());
      details.put("output", "x".repeat(5000));
      details.put("cmdline", "y".repeat(150));
      o.setSpec(
          new io.kubezen.api.v1alpha1.ObservationSpec(
              o.getSpec().source(),
              o.getSpec().category(),
              o.getSpec().severity(),
              o.getSpec().eventType(),
              o.getSpec().resource(),
              o.getSpec().title(),
              details,
              o.getSpec().detectedAt(),
              o.getSpec().fingerprint(),
              o.getSpec().ttlSecondsAfterCreation(),
              null));
      store.createOrMerge(List.of(o));
      Map<String, Object> stored = read(ns, "falco-big").getSpec().details();
      assertThat(stored)
          .containsEntry("truncated", true)
          .containsKeys("rule", "priority", "tags")
          .doesNotContainKeys("output", "cmdline");
      assertThat(DetailsCap.size(stored)).isLessThanOrEqualTo(256);
      assertThat(read(ns, "falco-big").getMetadata().getLabels())
          .containsEntry(KubernetesObservationStore.LABEL_EVENT_TYPE, "runtime_threat");
    }
  }

  @Test
  void isReachableIsTrueForTheServerAndFalseForAClosedPort() {
    try (KubernetesObservationStore store = store(client, fast())) {
      assertThat(store.isReachable()).isTrue();
    }
    try (KubernetesClient nowhere =
            new KubernetesClientBuilder()
                .withConfig(
                    new ConfigBuilder()
                        .withMasterUrl("https://127.0.0.1:1")
                        .withRequestRetryBackoffLimit(0)
                        .build())
                .build();
        KubernetesObservationStore store = store(nowhere, fast())) {
      long start = System.nanoTime();
      assertThat(store.isReachable()).isFalse();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(6));
      assertThat(store.liveCount()).isEqualTo(-1);
    }
    KubernetesObservationStore closed = store(client, fast());
    closed.close();
    assertThat(closed.isReachable()).isFalse();
  }
}
