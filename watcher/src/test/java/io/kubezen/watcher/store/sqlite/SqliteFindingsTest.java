package io.kubezen.watcher.store.sqlite;

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
import io.kubezen.watcher.store.GroupCount;
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
import java.nio.file.Path;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The console's reads on the real SQLite store: filters, sorts, keyset pages, aggregates. */
class SqliteFindingsTest {
  /** The console's SQL as the SQLite store builds it (for the query-plan cases). */
  static final ConsoleSql SQL = new ConsoleSql(SqlDialect.SQLITE);

  static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
  @TempDir Path dir;
  SqliteObservationStore store;

  @BeforeEach
  void open() {
    store = SqliteObservationStore.open(dir.resolve("f.db"), Clock.fixed(T0, ZoneOffset.UTC));
  }

  @AfterEach
  void close() {
    store.close();
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

  void fill() {
    Map<String, Object> cve = new LinkedHashMap<>();
    cve.put("vulnerabilityID", "CVE-2024-3094");
    cve.put("primaryLink", "https://avd.aquasec.com/nvd/cve-2024-3094");
    List<Observation> all =
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
                null));
    store.createOrMerge(all);
    store.resolve(List.of(new ObservationKey("shop", "trivy-2")), T0.minusSeconds(1800));
  }

  List<String> names(ObservationPage p) {
    return p.items().stream().map(o -> o.getMetadata().getName()).toList();
  }

  @Test
  void filtersAndFreeText() {
    fill();
    FindingFilter f = FindingFilter.NONE;
    assertThat(names(store.findings(FindingsQuery.first(f, FindingSort.LAST_SEEN, 100))))
        .containsExactly("falco-1", "kube-bench-1", "kyverno-1", "trivy-1", "trivy-2", "falco-2");
    assertThat(
            names(
                store.findings(
                    FindingsQuery.first(
                        f.withState(FindingFilter.State.OPEN), FindingSort.LAST_SEEN, 100))))
        .doesNotContain("trivy-2")
        .hasSize(5);
    assertThat(
            names(
                store.findings(
                    FindingsQuery.first(
                        f.withState(FindingFilter.State.RESOLVED), FindingSort.LAST_SEEN, 100))))
        .containsExactly("trivy-2");
    // Free text: CVE id (case-insensitive), rule, policy, resource name, test number; LIKE
    // characters literal.
    assertThat(
            names(
                store.findings(
                    FindingsQuery.first(text("cve-2024-3094"), FindingSort.LAST_SEEN, 10))))
        .containsExactly("trivy-1");
    assertThat(
            names(
                store.findings(FindingsQuery.first(text("untrusted"), FindingSort.LAST_SEEN, 10))))
        .containsExactly("falco-2");
    assertThat(
            names(
                store.findings(
                    FindingsQuery.first(text("REQUIRE-labels"), FindingSort.LAST_SEEN, 10))))
        .containsExactly("kyverno-1");
    assertThat(
            names(store.findings(FindingsQuery.first(text("node-1"), FindingSort.LAST_SEEN, 10))))
        .containsExactly("kube-bench-1");
    assertThat(names(store.findings(FindingsQuery.first(text("100%"), FindingSort.LAST_SEEN, 10))))
        .containsExactly("falco-1");
    assertThat(names(store.findings(FindingsQuery.first(text("1_1"), FindingSort.LAST_SEEN, 10))))
        .isEmpty();
    // Namespace is the resource's; cluster; resource; time ranges.
    FindingFilter pay =
        new FindingFilter(
            null, null, null, null, "pay", null, null, null, null, null, null, null, null, null);
    assertThat(names(store.findings(FindingsQuery.first(pay, FindingSort.LAST_SEEN, 10))))
        .containsExactly("kyverno-1", "falco-2");
    FindingFilter staging =
        new FindingFilter(
            null, null, null, null, null, "staging", null, null, null, null, null, null, null,
            null);
    assertThat(names(store.findings(FindingsQuery.first(staging, FindingSort.LAST_SEEN, 10))))
        .containsExactly("kyverno-1");
    assertThat(
            names(
                store.findings(
                    FindingsQuery.first(
                        FindingFilter.NONE.withResource("Deployment", "shop", "web"),
                        FindingSort.SEVERITY,
                        10))))
        .containsExactly("trivy-1", "trivy-2");
    FindingFilter lastHour =
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
            null);
    assertThat(names(store.findings(FindingsQuery.first(lastHour, FindingSort.LAST_SEEN, 10))))
        .containsExactly("falco-1", "kube-bench-1", "kyverno-1", "trivy-1");
    FindingFilter firstSeenOld =
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
            null);
    assertThat(names(store.findings(FindingsQuery.first(firstSeenOld, FindingSort.LAST_SEEN, 10))))
        .containsExactly("falco-2");
    FindingFilter high = FindingFilter.NONE.withSeverity("high");
    assertThat(names(store.findings(FindingsQuery.first(high, FindingSort.LAST_SEEN, 10))))
        .containsExactly("falco-1", "kube-bench-1", "trivy-2");
  }

  static FindingFilter text(String t) {
    return new FindingFilter(
        null, null, null, null, null, null, null, null, null, null, null, null, null, t);
  }

  @Test
  void everySortPagesThroughEveryRowOnce() {
    fill();
    for (FindingSort sort : FindingSort.values()) {
      List<String> all = names(store.findings(FindingsQuery.first(FindingFilter.NONE, sort, 100)));
      List<String> paged = new ArrayList<>();
      String after = null;
      do {
        ObservationPage p = store.findings(new FindingsQuery(FindingFilter.NONE, sort, 2, after));
        paged.addAll(names(p));
        after = p.continueToken();
      } while (after != null);
      assertThat(paged).as("%s", sort).isEqualTo(all).hasSize(6);
    }
    assertThat(
            names(store.findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.SEVERITY, 2))))
        .containsExactly("trivy-1", "falco-1");
    assertThat(names(store.findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.COUNT, 2))))
        .containsExactly("falco-1", "falco-2");
    String token =
        store
            .findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.COUNT, 2))
            .continueToken();
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
  }

  @Test
  void aggregates() {
    fill();
    List<GroupCount> bySourceSeverity =
        store.countBy(FindingFilter.OPEN, List.of(GroupField.SOURCE, GroupField.SEVERITY));
    assertThat(bySourceSeverity)
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
    assertThatThrownBy(() -> store.countBy(FindingFilter.NONE, List.of()))
        .isInstanceOf(IllegalArgumentException.class);

    assertThat(store.topByCriticalHigh(FindingFilter.OPEN, RankedGroup.By.NAMESPACE, 10))
        .containsExactly(new RankedGroup("shop", null, null, 1, 1, 2));
    assertThat(store.topByCriticalHigh(FindingFilter.NONE, RankedGroup.By.RESOURCE, 10))
        .containsExactly(
            new RankedGroup("shop", "Deployment", "web", 1, 1, 2),
            new RankedGroup(null, "Node", "node-1", 0, 1, 1),
            new RankedGroup("shop", "Pod", "web-abc", 0, 1, 1));

    List<TimeBucket> day =
        store.timeline(FindingFilter.NONE, T0.minus(Duration.ofHours(24)), T0, Duration.ofHours(1));
    assertThat(day).hasSize(24);
    assertThat(day.get(23)).isEqualTo(new TimeBucket(T0.minusSeconds(3600), 4, 1));
    assertThat(day.get(22)).isEqualTo(new TimeBucket(T0.minusSeconds(7200), 1, 0));
    assertThat(day.stream().mapToLong(TimeBucket::opened).sum()).isEqualTo(5);

    List<SourceActivity> act = store.sourceActivity(FindingFilter.NONE);
    assertThat(act)
        .extracting(SourceActivity::source)
        .containsExactly("falco", "kube-bench", "kyverno", "trivy");
    assertThat(act.get(3)).isEqualTo(new SourceActivity("trivy", T0.minusSeconds(3600), 1, 2));

    StoreSummary s = store.summary();
    assertThat(s.total()).isEqualTo(6);
    assertThat(s.resolved()).isEqualTo(1);
    assertThat(s.countSum()).isEqualTo(13);
    assertThat(s.lastSeen()).isEqualTo(T0.minusSeconds(60));
    String before = s.tag();
    store.addRepeats(List.of(new io.kubezen.watcher.store.Repeat("pay", "falco-2", 1, null)));
    assertThat(store.summary().tag()).isNotEqualTo(before);
  }

  @Test
  void emptyStore() {
    assertThat(store.summary()).isEqualTo(StoreSummary.EMPTY);
    assertThat(store.countBy(FindingFilter.OPEN, List.of(GroupField.SEVERITY))).isEmpty();
    assertThat(store.timeline(FindingFilter.NONE, T0.minusSeconds(60), T0, Duration.ofSeconds(30)))
        .containsExactly(
            new TimeBucket(T0.minusSeconds(60), 0, 0), new TimeBucket(T0.minusSeconds(30), 0, 0));
  }

  @Test
  void aVersion3DatabaseIsBackfilledForTheConsole() throws Exception {
    store.close();
    Path db = dir.resolve("v3.db");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        java.sql.Statement st = c.createStatement()) {
      for (int v = 0; v < 3; v++) {
        for (String sql : Schema.MIGRATIONS.get(v)) {
          st.execute(sql);
        }
      }
      st.execute("PRAGMA user_version = 3");
      st.execute(
          """
          INSERT INTO observations (namespace, name, source, category, severity, event_type, fingerprint, created_at,
            first_seen, last_seen, count, resolved, resolved_at, body)
          VALUES ('shop', 'trivy-1', 'trivy', 'security', 'critical', 'vulnerability', 'f', 1, 10, 20, 3, 1,
            '2026-12-01T00:00:00Z', '{"metadata":{"name":"trivy-1","namespace":"shop"},"spec":{"source":"trivy",
            "category":"security","severity":"critical","eventType":"vulnerability","title":"xz",
            "resource":{"kind":"Deployment","name":"web","namespace":"shop"},"clusterName":"prod",
            "details":{"vulnerabilityID":"CVE-2024-3094"},"detectedAt":"2026-12-01T00:00:00Z","fingerprint":"f"}}')""");
    }
    store = SqliteObservationStore.open(db, Clock.fixed(T0, ZoneOffset.UTC));
    assertThat(
            names(
                store.findings(
                    FindingsQuery.first(text("CVE-2024-3094"), FindingSort.SEVERITY, 10))))
        .containsExactly("trivy-1");
    assertThat(store.summary().total()).isEqualTo(1);
    assertThat(store.summary().resolved()).isEqualTo(1);
    assertThat(store.summary().countSum()).isEqualTo(3);
    assertThat(store.topByCriticalHigh(FindingFilter.NONE, RankedGroup.By.RESOURCE, 5))
        .containsExactly(new RankedGroup("shop", "Deployment", "web", 1, 0, 1));
    assertThat(store.countBy(FindingFilter.NONE, List.of(GroupField.CLUSTER)))
        .extracting(g -> g.key(0))
        .containsExactly("prod");
    assertThat(
            store.timeline(
                FindingFilter.NONE,
                Instant.parse("2026-11-30T00:00:00Z"),
                Instant.parse("2026-12-02T00:00:00Z"),
                Duration.ofDays(1)))
        .extracting(TimeBucket::resolved)
        .containsExactly(0L, 1L);
    // Deletions keep the summary and the search index in step.
    store.executeOnWriter("DELETE FROM observations");
    assertThat(store.summary()).isEqualTo(StoreSummary.EMPTY);
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
                Map.of("vulnerabilityID", "CVE-2024-3094"),
                1,
                T0,
                T0,
                null)));
    assertThat(
            names(
                store.findings(
                    FindingsQuery.first(text("cve-2024-3094"), FindingSort.SEVERITY, 10))))
        .containsExactly("trivy-2");
  }

  @Test
  void pagesAreIndexScansWithoutSorting() throws Exception {
    Path db = dir.resolve("f.db");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
      for (FindingSort sort : FindingSort.values()) {
        ConsoleSql.After after = new ConsoleSql.After(sort, 1, 2, "ns", "n", null);
        for (ConsoleSql.After a : java.util.Arrays.asList(null, after)) {
          List<Object> args = new ArrayList<>();
          String plan =
              plan(
                  c,
                  SQL.page(new FindingsQuery(FindingFilter.OPEN, sort, 50, null), a, args),
                  args);
          assertThat(plan)
              .as("%s %s", sort, a)
              .contains("USING INDEX findings_")
              .doesNotContain("TEMP B-TREE");
        }
      }
      // The console's namespace filter and one resource's findings: their own index, in the list's
      // order.
      FindingFilter namespace =
          new FindingFilter(
              null,
              null,
              null,
              null,
              "ns-7",
              null,
              null,
              null,
              FindingFilter.State.OPEN,
              null,
              null,
              null,
              null,
              null);
      List<Object> nsArgs = new ArrayList<>();
      assertThat(
              plan(
                  c,
                  SQL.page(
                      new FindingsQuery(namespace, FindingSort.LAST_SEEN, 50, null), null, nsArgs),
                  nsArgs))
          .contains("USING INDEX findings_namespace_last_seen")
          .doesNotContain("TEMP B-TREE");
      List<Object> resArgs = new ArrayList<>();
      assertThat(
              plan(
                  c,
                  SQL.page(
                      new FindingsQuery(
                          namespace.withResource("Deployment", "ns-7", "app-7-3"),
                          FindingSort.LAST_SEEN,
                          50,
                          null),
                      null,
                      resArgs),
                  resArgs))
          .contains("USING INDEX findings_resource")
          .doesNotContain("TEMP B-TREE");
      List<Object> args = new ArrayList<>();
      assertThat(
              plan(
                  c,
                  SQL.countBy(
                      FindingFilter.OPEN, List.of(GroupField.SOURCE, GroupField.SEVERITY), args),
                  args))
          .contains("COVERING INDEX findings_open");
    }
  }

  private static String plan(Connection c, String sql, List<Object> args) throws Exception {
    try (PreparedStatement st = c.prepareStatement("EXPLAIN QUERY PLAN " + sql)) {
      for (int i = 0; i < args.size(); i++) {
        st.setObject(i + 1, args.get(i));
      }
      StringBuilder out = new StringBuilder();
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          out.append(rs.getString("detail")).append('\n');
        }
      }
      return out.toString();
    }
  }
}
