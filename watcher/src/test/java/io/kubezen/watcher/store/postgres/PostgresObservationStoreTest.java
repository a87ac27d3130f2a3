package io.kubezen.watcher.store.postgres;

import static io.kubezen.watcher.store.StoreFixtures.falco;
import static io.kubezen.watcher.store.StoreFixtures.obs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.SqlObservationStoreContract;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.testing.PostgresServer;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL store on a real PostgreSQL: the store contract suite, then many clusters in one
 * database.
 */
class PostgresObservationStoreTest extends SqlObservationStoreContract {
  String url;

  @Override
  protected ObservationStore open() {
    url = PostgresServer.get().createDatabase("store");
    return PostgresObservationStore.open(options("east"), clock);
  }

  PostgresStoreOptions options(String cluster) {
    return PostgresStoreOptions.of(url, PostgresServer.USER, null, cluster);
  }

  @Override
  protected ObservationStore openWithMaxObservations(long max) {
    return PostgresObservationStore.open(options("east").withMaxObservations(max), clock);
  }

  @Override
  protected ObservationStore reopen() {
    store.close();
    return PostgresObservationStore.open(options("east"), clock);
  }

  @Override
  protected int gcChunk() {
    return PostgresObservationStore.GC_CHUNK;
  }

  @Test
  void migratesToTheCurrentVersionWithFlywayAndIsIdempotent() throws Exception {
    try (Connection c = DriverManager.getConnection(url, PostgresServer.USER, "");
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT version, success FROM "
                    + PostgresObservationStore.HISTORY_TABLE
                    + " WHERE version IS NOT NULL AND type = 'SQL' ORDER BY installed_rank")) {
      for (String version : List.of("1", "2", "3")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).isEqualTo(version);
        assertThat(rs.getBoolean(2)).isTrue();
      }
      assertThat(rs.next()).isFalse();
    }
    // A second watcher on the same database migrates nothing and works.
    try (PostgresObservationStore west = PostgresObservationStore.open(options("west"), clock)) {
      assertThat(west.createOrMerge(List.of(falco("a", "x"))))
          .containsExactly(WriteOutcome.CREATED);
    }
  }

  @Test
  void twoClustersShareOneDatabaseWithOneRowPerFindingAndCluster() {
    try (PostgresObservationStore west = PostgresObservationStore.open(options("west"), clock)) {
      assertThat(store.createOrMerge(List.of(withCluster(falco("shop", "falco-1"), "east"))))
          .containsExactly(WriteOutcome.CREATED);
      assertThat(
              west.createOrMerge(
                  List.of(
                      withCluster(falco("shop", "falco-1"), "west"),
                      withCluster(falco("shop", "falco-1"), "west"))))
          .containsExactly(WriteOutcome.CREATED, WriteOutcome.MERGED);

      // Each watcher reads and counts its own cluster's row.
      assertThat(store.get("shop", "falco-1").orElseThrow().getStatus().count()).isEqualTo(1L);
      assertThat(west.get("shop", "falco-1").orElseThrow().getStatus().count()).isEqualTo(2L);
      assertThat(west.get("east", "shop", "falco-1").orElseThrow().getSpec().clusterName())
          .isEqualTo("east");
      // The read API shows every cluster by default, one when asked.
      assertThat(store.list(ObservationQuery.all(10)).items())
          .extracting(o -> o.getSpec().clusterName())
          .containsExactlyInAnyOrder("east", "west");
      assertThat(store.list(ObservationQuery.all(10).withCluster("west")).items())
          .extracting(o -> o.getSpec().clusterName())
          .containsExactly("west");
      assertThat(store.list(ObservationQuery.all(10).withCluster("north")).items()).isEmpty();
      // GC and repeats touch only the store's own cluster.
      assertThat(
              west.addRepeats(
                  List.of(new io.kubezen.watcher.store.Repeat("shop", "falco-1", 5, null))))
          .containsExactly(WriteOutcome.MERGED);
      assertThat(store.get("shop", "falco-1").orElseThrow().getStatus().count()).isEqualTo(1L);
      clock.advance(Duration.ofDays(30));
      assertThat(west.deleteExpired(clock.instant())).isEqualTo(new GcResult(1, 0));
      assertThat(store.get("shop", "falco-1")).isPresent();
    }
  }

  @Test
  void aReaderSeesEveryClusterAndWritesNothing() {
    store.createOrMerge(List.of(withCluster(falco("shop", "falco-1"), "east")));
    try (PostgresObservationStore reader =
        PostgresObservationStore.open(
            PostgresStoreOptions.reader(url, PostgresServer.USER, null), clock)) {
      assertThat(reader.cluster()).isNull();
      assertThat(reader.get("shop", "falco-1")).isPresent();
      assertThat(reader.list(ObservationQuery.all(10)).items()).hasSize(1);
      assertThat(reader.isReachable()).isTrue();
      assertThatThrownBy(() -> reader.createOrMerge(List.of(falco("shop", "x"))))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("read-only");
      assertThatThrownBy(() -> reader.deleteExpired(clock.instant()))
          .isInstanceOf(StoreException.class);
    }
  }

  @Test
  void aReaderRefusesADatabaseNoWatcherHasMigrated() {
    String empty = PostgresServer.get().createDatabase("empty");
    assertThatThrownBy(
            () ->
                PostgresObservationStore.open(
                    PostgresStoreOptions.reader(empty, PostgresServer.USER, null), clock))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("a reader does not migrate");
  }

  @Test
  void aFailedMigrationStopsTheOpenWithTheReason() {
    String taken = PostgresServer.get().createDatabase("taken");
    // Another program's table of the same name: version 1 cannot be applied.
    PostgresServer.execute(taken, "CREATE TABLE observations (id int)");
    assertThatThrownBy(
            () ->
                PostgresObservationStore.open(
                    PostgresStoreOptions.of(taken, PostgresServer.USER, null, "east"), clock))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("migration")
        .hasMessageContaining(taken)
        .hasMessageContaining("observations");
  }

  @Test
  void aDatabaseWithOtherProgramsTablesIsMigratedBesideThem() {
    String shared = PostgresServer.get().createDatabase("shared");
    PostgresServer.execute(shared, "CREATE TABLE unrelated (id int)");
    try (PostgresObservationStore s =
        PostgresObservationStore.open(
            PostgresStoreOptions.of(shared, PostgresServer.USER, null, "east"), clock)) {
      assertThat(s.createOrMerge(List.of(falco("a", "x")))).containsExactly(WriteOutcome.CREATED);
    }
  }

  @Test
  void anUnreachableDatabaseFailsFastNamingTheUrlButNotThePassword() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    String nowhere = "jdbc:postgresql://127.0.0.1:" + closed + "/zw";
    long t0 = System.nanoTime();
    assertThatThrownBy(
            () ->
                PostgresObservationStore.open(
                    new PostgresStoreOptions(
                        nowhere,
                        "zw",
                        "s3cret-Pa55word",
                        2,
                        Duration.ofSeconds(5),
                        Duration.ofSeconds(1),
                        "east",
                        false,
                        0),
                    clock))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining(nowhere)
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret-Pa55word"));
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(15));
    assertThat(
            new PostgresStoreOptions(
                    nowhere,
                    "zw",
                    "s3cret-Pa55word",
                    2,
                    Duration.ofSeconds(5),
                    Duration.ofSeconds(1),
                    "east",
                    false,
                    0)
                .toString())
        .doesNotContain("s3cret-Pa55word");
  }

  @Test
  void replicasOfTwoClustersRacingOnTheSameNamesCountExactly() throws Exception {
    int names = 200;
    int rounds = 5;
    List<PostgresObservationStore> replicas = new ArrayList<>();
    for (String cluster : List.of("east", "east", "west", "west")) {
      replicas.add(PostgresObservationStore.open(options(cluster), clock));
    }
    ExecutorService pool = Executors.newFixedThreadPool(replicas.size());
    try {
      CyclicBarrier start = new CyclicBarrier(replicas.size());
      List<Future<List<WriteOutcome>>> results = new ArrayList<>();
      for (PostgresObservationStore s : replicas) {
        results.add(
            pool.submit(
                () -> {
                  List<WriteOutcome> all = new ArrayList<>();
                  start.await();
                  for (int r = 0; r < rounds; r++) {
                    List<Observation> batch = new ArrayList<>();
                    for (int i = 0; i < names; i++) {
                      batch.add(falco("ns-" + (i % 3), "falco-race-" + i));
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
      assertThat(outcomes.stream().filter(o -> o == WriteOutcome.CREATED).count())
          .isEqualTo(2L * names);
    } finally {
      pool.shutdownNow();
      replicas.forEach(PostgresObservationStore::close);
    }
    for (String cluster : List.of("east", "west")) {
      List<Observation> all = new ArrayList<>();
      ObservationPage page = store.list(ObservationQuery.all(1000).withCluster(cluster));
      all.addAll(page.items());
      assertThat(page.continueToken()).isNull();
      assertThat(all).hasSize(names);
      assertThat(all).allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(2L * rounds));
    }
  }

  @Test
  void aNulCharacterInAnyFieldIsStoredAsTheReplacementCharacter() {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("output", "before\u0000after");
    details.put("key\u0000", List.of("x\u0000y"));
    ObservationSpec spec =
        new ObservationSpec(
            "falco",
            Category.SECURITY,
            Severity.HIGH,
            "runtime\u0000threat",
            new ResourceRef("v1", "Pod", "web", "shop"),
            "title \u0000",
            details,
            "2024-05-01T10:00:00Z",
            "fp",
            60L,
            "east");
    Observation o = falco("shop", "falco-nul");
    o.setSpec(spec);
    assertThat(store.createOrMerge(List.of(o))).containsExactly(WriteOutcome.CREATED);
    Observation got = store.get("shop", "falco-nul").orElseThrow();
    assertThat(got.getSpec().details())
        .containsEntry("output", "before\uFFFDafter")
        .containsEntry("key\uFFFD", List.of("x\uFFFDy"));
    assertThat(got.getSpec().eventType()).isEqualTo("runtime\uFFFDthreat");
    assertThat(got.getSpec().title()).isEqualTo("title \uFFFD");
    assertThat(names(new ObservationQuery(null, null, null, null, "runtime\u0000threat", 10, null)))
        .containsExactly("falco-nul");
  }

  @Test
  void theLiveCountCapEvictsTheLowestSeverityOldestFirstAtWriteTimeAndTheSweepShedsALoweredCap() {
    store.close();
    store = PostgresObservationStore.open(options("east").withMaxObservations(3), clock);
    store.createOrMerge(List.of(sev("low-old", Severity.LOW), sev("critical", Severity.CRITICAL)));
    clock.advance(Duration.ofSeconds(1));
    assertThat(
            store.createOrMerge(
                List.of(
                    sev("low-new", Severity.LOW),
                    sev("info", Severity.INFO),
                    sev("high", Severity.HIGH))))
        .containsExactly(WriteOutcome.CREATED, WriteOutcome.MISSING, WriteOutcome.CREATED);
    PostgresObservationStore pg = (PostgresObservationStore) store;
    assertThat(pg.shedCount(Severity.INFO, io.kubezen.watcher.store.Shed.REFUSED)).isEqualTo(1);
    assertThat(pg.shedCount(Severity.LOW, io.kubezen.watcher.store.Shed.EVICTED)).isEqualTo(1);
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(0, 0));
    assertThat(names(ObservationQuery.all(10)))
        .containsExactlyInAnyOrder("critical", "high", "low-new");
    // Restarted with a lower cap: the sweep deletes the excess, lowest severity first.
    store.close();
    store = PostgresObservationStore.open(options("east").withMaxObservations(2), clock);
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(1, 0));
    assertThat(names(ObservationQuery.all(10))).containsExactlyInAnyOrder("critical", "high");
  }

  /** Replicas of one cluster writing at once never leave more than the cap. */
  @Test
  void concurrentCappedWritersKeepTheCap() throws Exception {
    store.close();
    store = PostgresObservationStore.open(options("east").withMaxObservations(50), clock);
    try (PostgresObservationStore other =
        PostgresObservationStore.open(options("east").withMaxObservations(50), clock)) {
      java.util.concurrent.ExecutorService pool =
          java.util.concurrent.Executors.newFixedThreadPool(4);
      try {
        List<Future<?>> done = new java.util.ArrayList<>();
        for (int t = 0; t < 4; t++) {
          ObservationStore writer = t % 2 == 0 ? store : other;
          int thread = t;
          done.add(
              pool.submit(
                  () -> {
                    for (int b = 0; b < 10; b++) {
                      List<Observation> batch = new java.util.ArrayList<>();
                      for (int i = 0; i < 10; i++) {
                        batch.add(
                            sev(
                                "t" + thread + "-" + b + "-" + i,
                                Severity.values()[(thread + b + i) % 5]));
                      }
                      writer.createOrMerge(batch);
                    }
                    return null;
                  }));
        }
        for (Future<?> f : done) {
          f.get();
        }
      } finally {
        pool.shutdownNow();
      }
    }
    assertThat(store.summary().total()).isEqualTo(50);
    assertThat(store.list(ObservationQuery.all(1000)).items()).hasSize(50);
  }

  @Test
  void continueTokenRoundTripsAnyName() {
    PageToken t = new PageToken(1714564800123L, "na:me:with:colons", "ns-ü", "cluster:ä");
    assertThat(PageToken.decode(t.encode())).isEqualTo(t);
  }

  @Test
  void everyFieldRoundTrips() {
    Observation o = falco("shop", "falco-9f86d081884c7d65");
    o.getMetadata().setAnnotations(Map.of("note", "日本語"));
    o.setStatus(
        new ObservationStatus(
            7L,
            "2024-05-01T10:00:00.123456Z",
            "2024-05-01T10:10:00Z",
            true,
            "2024-05-01T11:00:00Z"));
    store.createOrMerge(List.of(o));
    Observation got = store.get("shop", "falco-9f86d081884c7d65").orElseThrow();
    assertThat(got.getApiVersion()).isEqualTo(Observation.API_VERSION);
    assertThat(got.getSpec()).isEqualTo(o.getSpec());
    assertThat(got.getStatus()).isEqualTo(o.getStatus());
    assertThat(got.getMetadata().getLabels()).isEqualTo(o.getMetadata().getLabels());
    assertThat(got.getMetadata().getAnnotations()).isEqualTo(o.getMetadata().getAnnotations());
  }

  private static Observation sev(String name, Severity severity) {
    return obs(
        "a",
        name,
        "falco",
        severity,
        Category.SECURITY,
        "runtime_threat",
        null,
        1,
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00Z");
  }

  private static Observation withCluster(Observation o, String cluster) {
    ObservationSpec s = o.getSpec();
    o.setSpec(
        new ObservationSpec(
            s.source(),
            s.category(),
            s.severity(),
            s.eventType(),
            s.resource(),
            s.title(),
            s.details(),
            s.detectedAt(),
            s.fingerprint(),
            s.ttlSecondsAfterCreation(),
            cluster));
    return o;
  }
}
