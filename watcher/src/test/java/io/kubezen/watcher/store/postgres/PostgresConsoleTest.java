package io.kubezen.watcher.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.SourceActivity;
import io.kubezen.watcher.store.StoreSummary;
import io.kubezen.watcher.store.TimeBucket;
import io.kubezen.watcher.store.jdbc.ConsoleSql;
import io.kubezen.watcher.store.jdbc.SqlDialect;
import io.kubezen.watcher.testing.PostgresServer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The console's reads on a real PostgreSQL: the SQLite store's cases (SqliteFindingsTest), then
 * what only this store has: many clusters in one database, the version-1 backfill, index plans.
 */
class PostgresConsoleTest {
  /** The console's SQL as the PostgreSQL store builds it (for the query-plan cases). */
  static final ConsoleSql SQL = new ConsoleSql(SqlDialect.POSTGRES);

  static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
  final Clock clock = Clock.fixed(T0, ZoneOffset.UTC);
  String url;
  PostgresObservationStore store;

  @BeforeEach
  void open() {
    url = PostgresServer.get().createDatabase("console");
    store = PostgresObservationStore.open(options("prod"), clock);
  }

  @AfterEach
  void close() {
    store.close();
  }

  PostgresStoreOptions options(String cluster) {
    return PostgresStoreOptions.of(url, PostgresServer.USER, null, cluster);
  }

  static Observation obs(
      String name,
      String source,
      Severity sev,
      String ns,
      String kind,
      String res,
      String title,
      Map<String, Object> details,
      long count,
      Instant first,
      Instant last,
      String cluster) {
    ObservationSpec spec =
        new ObservationSpec(
            source,
            Category.SECURITY,
            sev,
            "type_" + source,
            res == null ? null : ResourceRef.of("v1", kind, ns, res),
            title,
            details,
            first.toString(),
            "0".repeat(64),
            3600L,
            cluster);
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(ns == null ? "zen" : ns).build());
    o.setSpec(spec);
    o.setStatus(ObservationStatus.seen(count, first.toString(), last.toString()));
    return o;
  }

  /** SqliteFindingsTest's six findings, written by the watcher of cluster "prod". */
  void fill() {
    Map<String, Object> cve = new LinkedHashMap<>();
    cve.put("vulnerabilityID", "CVE-2024-3094");
    cve.put("primaryLink", "https://avd.aquasec.com/nvd/cve-2024-3094");
    store.createOrMerge(
        List.of(
            obs(
                "trivy-1",
                "trivy",
                Severity.CRITICAL,
                "shop",
                "Deployment",
                "web",
                "xz backdoor",
                cve,
                1,
                T0.minusSeconds(3600),
                T0.minusSeconds(3600),
                "prod"),
            obs(
                "trivy-2",
                "trivy",
                Severity.HIGH,
                "shop",
                "Deployment",
                "web",
                "openssl",
                Map.of("vulnerabilityID", "CVE-2023-0001"),
                1,
                T0.minusSeconds(7200),
                T0.minusSeconds(7200),
                "prod"),
            obs(
                "falco-1",
                "falco",
                Severity.HIGH,
                "shop",
                "Pod",
                "web-abc",
                "Terminal shell 100% <script>",
                Map.of("rule", "Terminal shell in container"),
                7,
                T0.minusSeconds(600),
                T0.minusSeconds(60),
                "prod"),
            obs(
                "falco-2",
                "falco",
                Severity.MEDIUM,
                "pay",
                "Pod",
                "api-1",
                "Read sensitive file",
                Map.of("rule", "Read sensitive file untrusted"),
                2,
                T0.minusSeconds(86400 * 2),
                T0.minusSeconds(86400),
                "prod"),
            obs(
                "kyverno-1",
                "kyverno",
                Severity.LOW,
                "pay",
                "Deployment",
                "api",
                "require labels",
                Map.of("policy", "require-labels"),
                1,
                T0.minusSeconds(300),
                T0.minusSeconds(300),
                "staging"),
            obs(
                "kube-bench-1",
                "kube-bench",
                Severity.HIGH,
                null,
                "Node",
                "node-1",
                "1.1.1 Ensure perms",
                Map.of("test_number", "1.1.1"),
                1,
                T0.minusSeconds(100),
                T0.minusSeconds(100),
                null)));
    store.resolve(List.of(new ObservationKey("shop", "trivy-2")), T0.minusSeconds(1800));
  }

  static List<String> names(ObservationPage p) {
    return p.items().stream().map(o -> o.getMetadata().getName()).toList();
  }

  List<String> names(FindingFilter f, FindingSort sort, int limit) {
    return names(store.findings(FindingsQuery.first(f, sort, limit)));
  }

  static FindingFilter text(String t) {
    return new FindingFilter(
        null, null, null, null, null, null, null, null, null, null, null, null, null, t);
  }

  static FindingFilter cluster(String c) {
    return new FindingFilter(
        null, null, null, null, null, c, null, null, null, null, null, null, null, null);
  }

  @Test
  void filtersAndFreeText() {
    fill();
    FindingFilter f = FindingFilter.NONE;
    assertThat(names(f, FindingSort.LAST_SEEN, 100))
        .containsExactly("falco-1", "kube-bench-1", "kyverno-1", "trivy-1", "trivy-2", "falco-2");
    assertThat(names(f.withState(FindingFilter.State.OPEN), FindingSort.LAST_SEEN, 100))
        .doesNotContain("trivy-2")
        .hasSize(5);
    assertThat(names(f.withState(FindingFilter.State.RESOLVED), FindingSort.LAST_SEEN, 100))
        .containsExactly("trivy-2");
    assertThat(names(text("cve-2024-3094"), FindingSort.LAST_SEEN, 10)).containsExactly("trivy-1");
    assertThat(names(text("untrusted"), FindingSort.LAST_SEEN, 10)).containsExactly("falco-2");
    assertThat(names(text("REQUIRE-labels"), FindingSort.LAST_SEEN, 10))
        .containsExactly("kyverno-1");
    assertThat(names(text("node-1"), FindingSort.LAST_SEEN, 10)).containsExactly("kube-bench-1");
    assertThat(names(text("100%"), FindingSort.LAST_SEEN, 10)).containsExactly("falco-1");
    assertThat(names(text("1_1"), FindingSort.LAST_SEEN, 10)).isEmpty();
    assertThat(names(text("E"), FindingSort.LAST_SEEN, 10))
        .containsExactly(
            "falco-1",
            "kube-bench-1",
            "kyverno-1",
            "trivy-1",
            "trivy-2",
            "falco-2"); // shorter than a trigram: still a substring test
    // Hostile text: no error, no match.
    assertThat(names(text("x\0'\\%_;--"), FindingSort.LAST_SEEN, 10)).isEmpty();
    assertThat(
            names(
                new FindingFilter(
                    null, null, null, null, "pay", null, null, null, null, null, null, null, null,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("kyverno-1", "falco-2");
    // The cluster is spec.clusterName.
    assertThat(names(cluster("staging"), FindingSort.LAST_SEEN, 10)).containsExactly("kyverno-1");
    assertThat(names(f.withResource("Deployment", "shop", "web"), FindingSort.SEVERITY, 10))
        .containsExactly("trivy-1", "trivy-2");
    assertThat(
            names(
                new FindingFilter(
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
                    T0.minusSeconds(3600),
                    T0,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("falco-1", "kube-bench-1", "kyverno-1", "trivy-1");
    assertThat(
            names(
                new FindingFilter(
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
                    T0.minusSeconds(7200),
                    null,
                    null,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("falco-2");
    assertThat(names(f.withSeverity("high"), FindingSort.LAST_SEEN, 10))
        .containsExactly("falco-1", "kube-bench-1", "trivy-2");
    // Rows come back whole.
    Observation row =
        store
            .findings(FindingsQuery.first(text("backdoor"), FindingSort.LAST_SEEN, 1))
            .items()
            .get(0);
    assertThat(row.getSpec().details()).containsEntry("vulnerabilityID", "CVE-2024-3094");
    assertThat(row.getStatus().count()).isEqualTo(1L);
    assertThat(row.getStatus().lastSeen()).isEqualTo(T0.minusSeconds(3600).toString());
  }

  @Test
  void everySortPagesThroughEveryRowOnce() {
    fill();
    for (FindingSort sort : FindingSort.values()) {
      List<String> all = names(FindingFilter.NONE, sort, 100);
      for (int size = 1; size <= 3; size++) {
        List<String> paged = new ArrayList<>();
        String after = null;
        do {
          ObservationPage p =
              store.findings(new FindingsQuery(FindingFilter.NONE, sort, size, after));
          paged.addAll(names(p));
          after = p.continueToken();
        } while (after != null);
        assertThat(paged).as("%s by %d", sort, size).isEqualTo(all).hasSize(6);
      }
    }
    assertThat(names(FindingFilter.NONE, FindingSort.SEVERITY, 2))
        .containsExactly("trivy-1", "falco-1");
    assertThat(names(FindingFilter.NONE, FindingSort.COUNT, 2))
        .containsExactly("falco-1", "falco-2");
    assertThat(
            store
                .findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.LAST_SEEN, 6))
                .continueToken())
        .isNull();
    String token =
        store
            .findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.COUNT, 2))
            .continueToken();
    assertThat(token).isNotNull();
    assertThatThrownBy(
            () ->
                store.findings(
                    new FindingsQuery(FindingFilter.NONE, FindingSort.SEVERITY, 2, token)))
        .isInstanceOf(InvalidContinueTokenException.class);
    assertThatThrownBy(
            () ->
                store.findings(
                    new FindingsQuery(FindingFilter.NONE, FindingSort.SEVERITY, 2, "!!")))
        .isInstanceOf(InvalidContinueTokenException.class);
    // A token of the SQLite layout is refused too.
    assertThatThrownBy(
            () ->
                store.findings(
                    new FindingsQuery(
                        FindingFilter.NONE,
                        FindingSort.LAST_SEEN,
                        2,
                        java.util.Base64.getUrlEncoder()
                            .encodeToString("f1:0:1:2:2:nsname".getBytes()))))
        .isInstanceOf(InvalidContinueTokenException.class);
    // A token stays valid when its row goes.
    ObservationPage first =
        store.findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.LAST_SEEN, 2));
    PostgresServer.execute(url, "DELETE FROM observations WHERE name = 'kube-bench-1'");
    assertThat(
            names(
                store.findings(
                    new FindingsQuery(
                        FindingFilter.NONE, FindingSort.LAST_SEEN, 2, first.continueToken()))))
        .containsExactly("kyverno-1", "trivy-1");
  }

  @Test
  void aggregates() {
    fill();
    assertThat(store.countBy(FindingFilter.OPEN, List.of(GroupField.SOURCE, GroupField.SEVERITY)))
        .extracting(g -> g.key(0) + "/" + g.key(1) + "=" + g.count())
        .containsExactlyInAnyOrder(
            "trivy/critical=1",
            "falco/high=1",
            "falco/medium=1",
            "kyverno/low=1",
            "kube-bench/high=1");
    assertThat(store.countBy(FindingFilter.NONE, List.of(GroupField.NAMESPACE)))
        .extracting(g -> g.key(0) + "=" + g.count())
        .containsExactly("shop=3", "pay=2", "null=1");
    assertThat(store.countBy(FindingFilter.NONE, List.of(GroupField.RESOLVED)))
        .extracting(g -> g.key(0) + "=" + g.count())
        .containsExactly("false=5", "true=1");
    assertThat(store.countBy(FindingFilter.NONE, List.of(GroupField.CLUSTER)))
        .extracting(g -> g.key(0) + "=" + g.count())
        .containsExactly("prod=4", "null=1", "staging=1");
    assertThat(store.countBy(FindingFilter.NONE, List.of(GroupField.SOURCE)))
        .extracting(g -> g.key(0) + "=" + g.count())
        .containsExactly("falco=2", "trivy=2", "kube-bench=1", "kyverno=1");
    assertThatThrownBy(() -> store.countBy(FindingFilter.NONE, List.of()))
        .isInstanceOf(IllegalArgumentException.class);

    assertThat(store.topByCriticalHigh(FindingFilter.OPEN, RankedGroup.By.NAMESPACE, 10))
        .containsExactly(new RankedGroup("shop", null, null, 1, 1, 2));
    assertThat(store.topByCriticalHigh(FindingFilter.NONE, RankedGroup.By.RESOURCE, 10))
        .containsExactly(
            new RankedGroup("shop", "Deployment", "web", 1, 1, 2),
            new RankedGroup(null, "Node", "node-1", 0, 1, 1),
            new RankedGroup("shop", "Pod", "web-abc", 0, 1, 1));
    assertThat(store.topByCriticalHigh(FindingFilter.NONE, RankedGroup.By.RESOURCE, 1))
        .containsExactly(new RankedGroup("shop", "Deployment", "web", 1, 1, 2));

    List<TimeBucket> day =
        store.timeline(FindingFilter.NONE, T0.minus(Duration.ofHours(24)), T0, Duration.ofHours(1));
    assertThat(day).hasSize(24);
    assertThat(day.get(23)).isEqualTo(new TimeBucket(T0.minusSeconds(3600), 4, 1));
    assertThat(day.get(22)).isEqualTo(new TimeBucket(T0.minusSeconds(7200), 1, 0));
    assertThat(day.stream().mapToLong(TimeBucket::opened).sum()).isEqualTo(5);
    assertThatThrownBy(
            () ->
                store.timeline(
                    FindingFilter.NONE, T0.minus(Duration.ofDays(2)), T0, Duration.ofMinutes(1)))
        .isInstanceOf(IllegalArgumentException.class);
    // Reopened: no longer counted as resolved.
    store.createOrMerge(
        List.of(
            obs(
                "trivy-2",
                "trivy",
                Severity.HIGH,
                "shop",
                "Deployment",
                "web",
                "openssl",
                Map.of(),
                1,
                T0.minusSeconds(10),
                T0.minusSeconds(10),
                "prod")));
    assertThat(
            store
                .timeline(FindingFilter.NONE, T0.minusSeconds(3600), T0, Duration.ofHours(1))
                .get(0)
                .resolved())
        .isZero();

    List<SourceActivity> act = store.sourceActivity(FindingFilter.NONE);
    assertThat(act)
        .extracting(SourceActivity::source)
        .containsExactly("falco", "kube-bench", "kyverno", "trivy");
    assertThat(act.get(0)).isEqualTo(new SourceActivity("falco", T0.minusSeconds(60), 2, 2));
    assertThat(act.get(3)).isEqualTo(new SourceActivity("trivy", T0.minusSeconds(10), 2, 2));

    StoreSummary s = store.summary();
    assertThat(s.total()).isEqualTo(6);
    assertThat(s.resolved()).isZero();
    assertThat(s.countSum()).isEqualTo(14);
    assertThat(s.lastSeen()).isEqualTo(T0.minusSeconds(10));
    assertThat(s.lastCreated()).isEqualTo(T0);
    String before = s.tag();
    store.addRepeats(List.of(new io.kubezen.watcher.store.Repeat("pay", "falco-2", 1, null)));
    assertThat(store.summary().tag()).isNotEqualTo(before);
  }

  @Test
  void emptyStore() {
    assertThat(store.summary()).isEqualTo(StoreSummary.EMPTY);
    assertThat(store.countBy(FindingFilter.OPEN, List.of(GroupField.SEVERITY))).isEmpty();
    assertThat(store.topByCriticalHigh(FindingFilter.OPEN, RankedGroup.By.RESOURCE, 10)).isEmpty();
    assertThat(store.sourceActivity(FindingFilter.NONE)).isEmpty();
    assertThat(
            store
                .findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.COUNT, 5))
                .continueToken())
        .isNull();
    assertThat(store.timeline(FindingFilter.NONE, T0.minusSeconds(60), T0, Duration.ofSeconds(30)))
        .containsExactly(
            new TimeBucket(T0.minusSeconds(60), 0, 0), new TimeBucket(T0.minusSeconds(30), 0, 0));
  }

  @Test
  void manyClustersInOneDatabaseAreReadTogetherOrOneByOne() {
    // The same Observation name in two clusters: two rows, both shown, paged without gaps or
    // repeats.
    try (PostgresObservationStore west = PostgresObservationStore.open(options("west"), clock);
        PostgresObservationStore reader =
            PostgresObservationStore.open(
                PostgresStoreOptions.reader(url, PostgresServer.USER, null), clock)) {
      for (int i = 0; i < 3; i++) {
        Instant t = T0.minusSeconds(100 - i);
        store.createOrMerge(
            List.of(
                obs(
                    "f-" + i,
                    "falco",
                    Severity.HIGH,
                    "shop",
                    "Pod",
                    "p" + i,
                    "shell",
                    Map.of(),
                    1,
                    t,
                    t,
                    "prod")));
        west.createOrMerge(
            List.of(
                obs(
                    "f-" + i,
                    "falco",
                    Severity.HIGH,
                    "shop",
                    "Pod",
                    "p" + i,
                    "shell",
                    Map.of(),
                    1,
                    t,
                    t,
                    "west")));
      }
      west.resolve(List.of(new ObservationKey("shop", "f-0")), T0.minusSeconds(5));
      for (FindingSort sort : FindingSort.values()) {
        List<String> paged = new ArrayList<>();
        String after = null;
        do {
          ObservationPage p =
              reader.findings(new FindingsQuery(FindingFilter.NONE, sort, 1, after));
          p.items()
              .forEach(o -> paged.add(o.getSpec().clusterName() + "/" + o.getMetadata().getName()));
          after = p.continueToken();
        } while (after != null);
        assertThat(paged).as("%s", sort).hasSize(6).doesNotHaveDuplicates();
      }
      assertThat(
              reader
                  .findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.LAST_SEEN, 2))
                  .items())
          .extracting(o -> o.getSpec().clusterName())
          .containsExactly("prod", "west");
      assertThat(
              reader
                  .findings(FindingsQuery.first(cluster("west"), FindingSort.LAST_SEEN, 10))
                  .items())
          .extracting(o -> o.getSpec().clusterName())
          .containsOnly("west")
          .hasSize(3);
      assertThat(
              reader.countBy(FindingFilter.NONE, List.of(GroupField.CLUSTER, GroupField.RESOLVED)))
          .extracting(g -> g.key(0) + "/" + g.key(1) + "=" + g.count())
          .containsExactly("prod/false=3", "west/false=2", "west/true=1");
      assertThat(reader.topByCriticalHigh(cluster("west"), RankedGroup.By.NAMESPACE, 5))
          .containsExactly(new RankedGroup("shop", null, null, 0, 3, 3));
      assertThat(reader.timeline(cluster("west"), T0.minusSeconds(10), T0, Duration.ofSeconds(10)))
          .containsExactly(new TimeBucket(T0.minusSeconds(10), 0, 1));
      assertThat(reader.sourceActivity(cluster("prod")))
          .containsExactly(new SourceActivity("falco", T0.minusSeconds(98), 3, 3));
      assertThat(reader.summary()).isEqualTo(new StoreSummary(6, 1, 6, T0, T0.minusSeconds(98)));
      // The summary is kept per cluster by triggers: a repeat, a reopen, a GC of one cluster.
      west.addRepeats(
          List.of(new io.kubezen.watcher.store.Repeat("shop", "f-1", 4, T0.minusSeconds(1))));
      assertThat(reader.summary()).isEqualTo(new StoreSummary(6, 1, 10, T0, T0.minusSeconds(1)));
      west.createIfAbsent(
          List.of(
              obs(
                  "f-0",
                  "falco",
                  Severity.HIGH,
                  "shop",
                  "Pod",
                  "p0",
                  "shell",
                  Map.of(),
                  1,
                  T0,
                  T0,
                  "west")));
      assertThat(reader.summary().resolved()).isZero();
      assertThat(west.deleteExpired(T0.plus(Duration.ofDays(1))).deleted()).isEqualTo(3);
      assertThat(reader.summary())
          .isEqualTo(new StoreSummary(3, 0, 3, T0, T0.minusSeconds(98))); // prod's row
      assertThat(store.deleteExpired(T0.plus(Duration.ofDays(1))).deleted()).isEqualTo(3);
      assertThat(reader.summary()).isEqualTo(StoreSummary.EMPTY);
    }
  }

  @Test
  void aVersionOneDatabaseIsBackfilledForTheConsole() throws Exception {
    store.close();
    String old = PostgresServer.get().createDatabase("v1");
    Flyway.configure(getClass().getClassLoader())
        .dataSource(old, PostgresServer.USER, "")
        .locations(PostgresObservationStore.MIGRATIONS)
        .table(PostgresObservationStore.HISTORY_TABLE)
        .target("1")
        .load()
        .migrate();
    PostgresServer.execute(
        old,
        """
        INSERT INTO observations (cluster, namespace, name, source, category, severity, event_type, created_ms,
          first_seen_us, last_seen_us, count, resolved, resolved_at, metadata, spec)
        VALUES ('prod', 'shop', 'trivy-1', 'trivy', 'security', 'critical', 'vulnerability', 1764547200000,
          1764547200000000, 1764547200000000, 3, true, '2026-12-01T00:00:00Z', '{"name":"trivy-1","namespace":"shop"}',
          '{"source":"trivy","category":"security","severity":"critical","eventType":"vulnerability","title":"XZ",
            "resource":{"kind":"Deployment","name":"web","namespace":"shop"},"clusterName":"prod",
            "details":{"vulnerabilityID":"CVE-2024-3094","rule":{"not":"text"}},"fingerprint":"f"}'),
          ('prod', 'shop', 'bad-time', 'trivy', 'security', 'low', 'vulnerability', 1764547200000,
          1764547200000000, 1764547200000000, 1, true, 'yesterday', '{"name":"bad-time","namespace":"shop"}',
          '{"source":"trivy","category":"security","severity":"low","eventType":"vulnerability","title":"t"}')""");
    url = old;
    store = PostgresObservationStore.open(options("prod"), clock);
    assertThat(names(text("cve-2024-3094"), FindingSort.SEVERITY, 10)).containsExactly("trivy-1");
    assertThat(names(text("xz\nweb"), FindingSort.SEVERITY, 10)).containsExactly("trivy-1");
    assertThat(names(text("not"), FindingSort.SEVERITY, 10))
        .isEmpty(); // an object detail is not searched
    assertThat(names(FindingFilter.NONE, FindingSort.SEVERITY, 10))
        .containsExactly("trivy-1", "bad-time");
    assertThat(store.countBy(FindingFilter.NONE, List.of(GroupField.CLUSTER)))
        .extracting(g -> g.key(0) + "=" + g.count())
        .containsExactly("null=1", "prod=1"); // ties: null first
    assertThat(
            store.timeline(
                FindingFilter.NONE,
                Instant.parse("2026-11-30T00:00:00Z"),
                Instant.parse("2026-12-02T00:00:00Z"),
                Duration.ofDays(1)))
        .extracting(TimeBucket::resolved)
        .containsExactly(0L, 1L);
    assertThat(store.summary())
        .isEqualTo(
            new StoreSummary(
                2,
                2,
                4,
                Instant.ofEpochMilli(1764547200000L),
                Instant.ofEpochMilli(1764547200000L)));
  }

  @Test
  void pagesAreIndexScansInOrderAndFreeTextUsesTheTrigramIndex() throws Exception {
    fill();
    try (Connection c = DriverManager.getConnection(url, PostgresServer.USER, "");
        java.sql.Statement st = c.createStatement()) {
      st.execute("ANALYZE observations");
      // On six rows a sequential scan wins; forbid it to see which index serves each page.
      st.execute("SET enable_seqscan = off");
      for (FindingSort sort : FindingSort.values()) {
        for (ConsoleSql.After a :
            java.util.Arrays.asList(null, new ConsoleSql.After(sort, 1, 2, "ns", "n", "c"))) {
          List<Object> args = new ArrayList<>();
          String plan =
              plan(
                  c,
                  SQL.page(new FindingsQuery(FindingFilter.OPEN, sort, 50, null), a, args),
                  args);
          assertThat(plan)
              .as("%s %s", sort, a)
              .contains("Index Scan using findings_")
              .doesNotContain("Sort");
        }
      }
      // The namespace filter: an index range in the page's order (not a walk of
      // findings_last_seen).
      List<Object> nsArgs = new ArrayList<>();
      assertThat(
              plan(
                  c,
                  SQL.page(
                      FindingsQuery.first(
                          new FindingFilter(
                              null,
                              null,
                              null,
                              null,
                              "shop",
                              null,
                              null,
                              null,
                              FindingFilter.State.OPEN,
                              null,
                              null,
                              null,
                              null,
                              null),
                          FindingSort.LAST_SEEN,
                          50),
                      null,
                      nsArgs),
                  nsArgs))
          .contains("Index Scan using findings_namespace_last_seen")
          .doesNotContain("Sort");
      List<Object> args = new ArrayList<>();
      assertThat(
              plan(
                  c,
                  SQL.page(
                      FindingsQuery.first(text("cve-2024"), FindingSort.LAST_SEEN, 50), null, args),
                  args))
          .contains("findings_");
      st.execute("SET enable_indexscan = off");
      args.clear();
      assertThat(
              plan(
                  c,
                  SQL.page(
                      FindingsQuery.first(text("cve-2024"), FindingSort.LAST_SEEN, 50), null, args),
                  args))
          .contains("Bitmap Index Scan on findings_search");
    }
  }

  private static String plan(Connection c, String sql, List<Object> args) throws Exception {
    try (PreparedStatement st = c.prepareStatement("EXPLAIN " + sql)) {
      for (int i = 0; i < args.size(); i++) {
        st.setObject(i + 1, args.get(i));
      }
      StringBuilder out = new StringBuilder();
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          out.append(rs.getString(1)).append('\n');
        }
      }
      return out.toString();
    }
  }
}
