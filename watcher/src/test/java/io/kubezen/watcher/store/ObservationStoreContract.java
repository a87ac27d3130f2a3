package io.kubezen.watcher.store;

import static io.kubezen.watcher.store.StoreFixtures.falco;
import static io.kubezen.watcher.store.StoreFixtures.fromOrigin;
import static io.kubezen.watcher.store.StoreFixtures.obs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.Severity;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@link ObservationStore} contract, run against every store (sqlite, postgres, kubernetes) so
 * that they cannot drift. Only the public contract is used. A subclass opens a fresh, empty store
 * per test; {@link #ns} maps a namespace of the cases to one of its own (the kubernetes store
 * shares one API server between tests).
 */
public abstract class ObservationStoreContract {
  protected ObservationStore store;

  /** A new, empty store. */
  protected abstract ObservationStore open();

  /** A new, empty store that keeps at most {@code max} live Observations (MAX_OBSERVATIONS). */
  protected abstract ObservationStore openWithMaxObservations(long max);

  /** The time the store takes as now (its clock). */
  protected abstract Instant now();

  /** The namespace a case's namespace {@code base} is written in. */
  protected String ns(String base) {
    return base;
  }

  /**
   * The creationTimestamp a store gives an Observation created now; null when it is not
   * predictable.
   */
  protected String expectedCreationTimestamp() {
    return null;
  }

  /** Label keys the store adds to those it was given. */
  protected Set<String> labelsAddedByStore() {
    return Set.of();
  }

  @BeforeEach
  void openStore() {
    store = open();
  }

  @AfterEach
  void closeStore() {
    if (store != null) {
      store.close();
    }
  }

  protected Map<String, String> clientLabels(Observation o) {
    Map<String, String> out = new HashMap<>(o.getMetadata().getLabels());
    out.keySet().removeAll(labelsAddedByStore());
    return out;
  }

  @Test
  void createThenMergeAddsCountsAndWidensSeenTimesButKeepsSpecAndLabels() {
    String shop = ns("shop");
    Observation first =
        falco(
            shop,
            "falco-0123456789abcdef",
            604800L,
            2,
            "2024-05-01T10:00:05Z",
            "2024-05-01T10:00:10Z");
    assertThat(store.createOrMerge(List.of(first))).containsExactly(WriteOutcome.CREATED);
    String created =
        store
            .get(shop, "falco-0123456789abcdef")
            .orElseThrow()
            .getMetadata()
            .getCreationTimestamp();

    Observation again =
        obs(
            shop,
            "falco-0123456789abcdef",
            "falco",
            Severity.CRITICAL,
            Category.COST,
            "other_type",
            1L,
            3,
            "2024-05-01T10:00:01Z",
            "2024-05-01T10:00:20Z");
    again.getMetadata().getLabels().put("extra", "label");
    assertThat(store.createOrMerge(List.of(again))).containsExactly(WriteOutcome.MERGED);

    Observation got = store.get(shop, "falco-0123456789abcdef").orElseThrow();
    assertThat(got.getStatus().count()).isEqualTo(5L);
    assertThat(got.getStatus().firstSeen()).isEqualTo("2024-05-01T10:00:01Z");
    assertThat(got.getStatus().lastSeen()).isEqualTo("2024-05-01T10:00:20Z");
    assertThat(got.getSpec()).isEqualTo(first.getSpec());
    assertThat(clientLabels(got)).isEqualTo(first.getMetadata().getLabels());
    assertThat(got.getMetadata().getCreationTimestamp()).isNotNull().isEqualTo(created);
    if (expectedCreationTimestamp() != null) {
      assertThat(created).isEqualTo(expectedCreationTimestamp());
    }

    // A merge inside the known range moves neither end.
    store.createOrMerge(
        List.of(
            falco(
                shop,
                "falco-0123456789abcdef",
                604800L,
                1,
                "2024-05-01T10:00:15Z",
                "2024-05-01T10:00:16Z")));
    Observation later = store.get(shop, "falco-0123456789abcdef").orElseThrow();
    assertThat(later.getStatus())
        .isEqualTo(ObservationStatus.seen(6, "2024-05-01T10:00:01Z", "2024-05-01T10:00:20Z"));
  }

  @Test
  void aDuplicateInsideOneBatchIsMerged() {
    String a = ns("a");
    String b = ns("b");
    List<WriteOutcome> outcomes =
        store.createOrMerge(
            List.of(falco(a, "one"), falco(a, "two"), falco(a, "one"), falco(b, "one")));
    assertThat(outcomes)
        .containsExactly(
            WriteOutcome.CREATED, WriteOutcome.CREATED, WriteOutcome.MERGED, WriteOutcome.CREATED);
    assertThat(store.get(a, "one").orElseThrow().getStatus().count()).isEqualTo(2L);
    assertThat(store.get(b, "one").orElseThrow().getStatus().count()).isEqualTo(1L);
  }

  @Test
  void anInvalidItemFailsTheWholeBatchBeforeAnythingIsWritten() {
    Observation bad = falco(ns("a"), "bad");
    bad.getMetadata().setNamespace(null);
    assertThatThrownBy(() -> store.createOrMerge(List.of(falco(ns("a"), "good"), bad)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(store.get(ns("a"), "good")).isEmpty();
  }

  @Test
  void addRepeatsMergesExistingAndReportsMissingWithoutCreating() {
    String a = ns("a");
    store.createOrMerge(List.of(falco(a, "x")));
    List<WriteOutcome> outcomes =
        store.addRepeats(
            List.of(
                new Repeat(a, "x", 4, Instant.parse("2024-05-01T10:05:00Z")),
                new Repeat(a, "gone", 2, Instant.parse("2024-05-01T10:05:00Z")),
                new Repeat(a, "x", 1, Instant.parse("2024-05-01T10:01:00Z"))));
    assertThat(outcomes)
        .containsExactly(WriteOutcome.MERGED, WriteOutcome.MISSING, WriteOutcome.MERGED);
    assertThat(store.get(a, "gone")).isEmpty();
    ObservationStatus s = store.get(a, "x").orElseThrow().getStatus();
    assertThat(s.count()).isEqualTo(6L);
    assertThat(s.firstSeen()).isEqualTo("2024-05-01T10:00:00Z");
    assertThat(s.lastSeen())
        .isEqualTo("2024-05-01T10:05:00Z"); // an older repeat does not move it back
  }

  @Test
  void listFiltersOnEachFieldExactly() {
    String prod = ns("prod");
    String dev = ns("dev");
    store.createOrMerge(
        List.of(
            obs(
                prod,
                "falco-1",
                "falco",
                Severity.CRITICAL,
                Category.SECURITY,
                "runtime_threat",
                null,
                1,
                "2024-05-01T10:00:00Z",
                "2024-05-01T10:00:00Z"),
            obs(
                prod,
                "trivy-1",
                "trivy",
                Severity.HIGH,
                Category.SECURITY,
                "vulnerability",
                null,
                1,
                "2024-05-01T10:00:00Z",
                "2024-05-01T10:00:00Z"),
            obs(
                dev,
                "trivy-2",
                "trivy",
                Severity.CRITICAL,
                Category.SECURITY,
                "vulnerability",
                null,
                1,
                "2024-05-01T10:00:00Z",
                "2024-05-01T10:00:00Z"),
            obs(
                dev,
                "bench-1",
                "kube-bench",
                Severity.HIGH,
                Category.COMPLIANCE,
                "cis_benchmark_fail",
                null,
                1,
                "2024-05-01T10:00:00Z",
                "2024-05-01T10:00:00Z")));

    assertThat(names(new ObservationQuery("trivy", null, null, null, null, 10, null)))
        .containsExactlyInAnyOrder("trivy-1", "trivy-2");
    assertThat(names(new ObservationQuery(null, "critical", null, null, null, 10, null)))
        .containsExactlyInAnyOrder("falco-1", "trivy-2");
    assertThat(names(new ObservationQuery(null, null, "compliance", null, null, 10, null)))
        .containsExactly("bench-1");
    assertThat(names(new ObservationQuery(null, null, null, dev, null, 10, null)))
        .containsExactlyInAnyOrder("trivy-2", "bench-1");
    assertThat(names(new ObservationQuery(null, null, null, null, "runtime_threat", 10, null)))
        .containsExactly("falco-1");
    assertThat(
            names(
                new ObservationQuery("trivy", "high", "security", prod, "vulnerability", 10, null)))
        .containsExactly("trivy-1");
    assertThat(names(new ObservationQuery("tri", null, null, null, null, 10, null))).isEmpty();
    assertThat(names(new ObservationQuery(null, "CRITICAL", null, null, null, 10, null))).isEmpty();
  }

  @Test
  void createIfAbsentCountsNothingTwiceAndReopensWhatWasResolved() {
    String a = ns("a");
    Observation one = fromOrigin(falco(a, "trivy-one"), "uid-1");
    Observation two = fromOrigin(falco(a, "trivy-two"), "uid-1");
    Observation other = fromOrigin(falco(a, "trivy-other"), "uid-2");
    assertThat(store.createIfAbsent(List.of(one, two, other)))
        .containsExactly(WriteOutcome.CREATED, WriteOutcome.CREATED, WriteOutcome.CREATED);
    // A re-list of the report: nothing created, nothing counted.
    assertThat(store.createIfAbsent(List.of(fromOrigin(falco(a, "trivy-one"), "uid-1"))))
        .containsExactly(WriteOutcome.EXISTED);
    assertThat(store.get(a, "trivy-one").orElseThrow().getStatus().count()).isEqualTo(1L);
    assertThat(store.listByOrigin("uid-1"))
        .extracting(o -> o.getMetadata().getName())
        .containsExactlyInAnyOrder("trivy-one", "trivy-two");
    assertThat(store.listByOrigin("uid-none")).isEmpty();

    // The finding left its report: resolved, once; a missing one is reported as such.
    Instant at = Instant.parse("2024-05-02T08:00:00Z");
    assertThat(
            store.resolve(
                List.of(new ObservationKey(a, "trivy-two"), new ObservationKey(a, "trivy-gone")),
                at))
        .containsExactly(WriteOutcome.MERGED, WriteOutcome.MISSING);
    ObservationStatus resolved = store.get(a, "trivy-two").orElseThrow().getStatus();
    assertThat(resolved.resolved()).isTrue();
    assertThat(Instant.parse(resolved.resolvedAt())).isEqualTo(at);
    assertThat(store.resolve(List.of(new ObservationKey(a, "trivy-two")), at.plusSeconds(60)))
        .containsExactly(WriteOutcome.MERGED);
    assertThat(Instant.parse(store.get(a, "trivy-two").orElseThrow().getStatus().resolvedAt()))
        .as("resolving again keeps the first resolvedAt")
        .isEqualTo(at);
    assertThat(store.get(a, "trivy-one").orElseThrow().getStatus().resolved())
        .isNotEqualTo(Boolean.TRUE);

    // Back in the report: reopened, not counted again.
    assertThat(store.createIfAbsent(List.of(fromOrigin(falco(a, "trivy-two"), "uid-1"))))
        .containsExactly(WriteOutcome.EXISTED);
    ObservationStatus reopened = store.get(a, "trivy-two").orElseThrow().getStatus();
    assertThat(reopened.resolved()).isFalse();
    assertThat(reopened.count()).isEqualTo(1L);
  }

  @Test
  void deleteExpiredKeepsTheLivingAndOpenStateLikeFindings() {
    String a = ns("a");
    Instant start = now();
    Observation pushed = falco(a, "pushed", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    Observation lasting =
        falco(a, "lasting", 10L * 365 * 86_400, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    Observation watched =
        fromOrigin(
            falco(a, "watched", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"), "uid-1");
    store.createOrMerge(List.of(pushed, lasting));
    store.createIfAbsent(List.of(watched));
    String source = watched.getSpec().source();

    // Well before anything expires: nothing deleted.
    assertThat(store.deleteExpired(start.minusSeconds(3600), Set.of(source)))
        .isEqualTo(new GcResult(0, 0));
    // A day later: the pushed one is gone, the open watched one lives while it is in its report.
    Instant day = start.plus(Duration.ofDays(1));
    assertThat(store.deleteExpired(day, Set.of(source))).isEqualTo(new GcResult(1, 0));
    assertThat(store.get(a, "pushed")).isEmpty();
    assertThat(store.get(a, "watched")).isPresent();
    assertThat(store.get(a, "lasting")).isPresent();

    // Resolved: it expires TTL after it was resolved.
    store.resolve(List.of(new ObservationKey(a, "watched")), day);
    assertThat(store.deleteExpired(day.plusSeconds(30), Set.of(source)))
        .isEqualTo(new GcResult(0, 0));
    assertThat(store.deleteExpired(day.plusSeconds(61), Set.of(source)))
        .isEqualTo(new GcResult(1, 0));
    assertThat(store.get(a, "watched")).isEmpty();
    assertThat(store.get(a, "lasting")).isPresent();
  }

  private static Observation ofSeverity(String namespace, String name, Severity severity) {
    return obs(
        namespace,
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

  @Test
  void maxObservationsIsKeptAtWriteTimeByEvictingALowerSeverityOrRefusing() {
    store.close();
    store = openWithMaxObservations(3);
    String a = ns("capped");
    assertThat(
            store.createOrMerge(
                List.of(
                    ofSeverity(a, "low", Severity.LOW),
                    ofSeverity(a, "medium-1", Severity.MEDIUM),
                    ofSeverity(a, "medium-2", Severity.MEDIUM))))
        .containsExactly(WriteOutcome.CREATED, WriteOutcome.CREATED, WriteOutcome.CREATED);
    // At the cap: a new one with nothing of a lower severity to evict is refused; existing ones
    // still merge.
    assertThat(
            store.createOrMerge(
                List.of(
                    ofSeverity(a, "info", Severity.INFO),
                    ofSeverity(a, "medium-1", Severity.MEDIUM))))
        .containsExactly(WriteOutcome.MISSING, WriteOutcome.MERGED);
    assertThat(store.get(a, "info")).isEmpty();
    assertThat(store.get(a, "medium-1").orElseThrow().getStatus().count()).isEqualTo(2L);
    // A higher severity evicts the lowest there is.
    assertThat(store.createOrMerge(List.of(ofSeverity(a, "high", Severity.HIGH))))
        .containsExactly(WriteOutcome.CREATED);
    assertThat(store.get(a, "low")).isEmpty();
    // Reconciling keeps the cap too.
    assertThat(store.createIfAbsent(List.of(ofSeverity(a, "medium-3", Severity.MEDIUM))))
        .containsExactly(WriteOutcome.MISSING);
    assertThat(store.createIfAbsent(List.of(ofSeverity(a, "critical", Severity.CRITICAL))))
        .containsExactly(WriteOutcome.CREATED);
    List<String> left = names(new ObservationQuery(null, null, null, a, null, 10, null, null));
    assertThat(left)
        .hasSize(3)
        .contains("high", "critical")
        .containsAnyOf("medium-1", "medium-2")
        .doesNotContain("low", "info", "medium-3");
    assertThat(store.summary().total()).isEqualTo(3);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> store.liveCount() == 3);
    // What was shed, by severity (zen_watcher_observations_shed_total): info and medium-3
    // refused; low evicted by high, a medium by critical.
    assertThat(store.shedCount(Severity.INFO, Shed.REFUSED)).isEqualTo(1);
    assertThat(store.shedCount(Severity.MEDIUM, Shed.REFUSED)).isEqualTo(1);
    assertThat(store.shedCount(Severity.LOW, Shed.EVICTED)).isEqualTo(1);
    assertThat(store.shedCount(Severity.MEDIUM, Shed.EVICTED)).isEqualTo(1);
    assertThat(store.shedCount(Severity.HIGH, Shed.REFUSED)).isZero();
  }

  @Test
  void theLiveCountFollowsCreatesAndDeletes() {
    String a = ns("live");
    store.createOrMerge(
        List.of(
            falco(a, "one", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
            falco(a, "two", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z")));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> store.liveCount() == 2);
    store.deleteExpired(now().plus(Duration.ofDays(1)));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> store.liveCount() == 0);
  }

  protected List<String> names(ObservationQuery q) {
    return store.list(q).items().stream().map(o -> o.getMetadata().getName()).toList();
  }

  // ================================================================== console reads (kconsole)
  // The console's six reads (ObservationStore "console reads"), the cases of SqliteFindingsTest
  // held against every store. Observations are stored in ns(...) namespaces; the filters use the
  // finding's resource namespace (spec.resource.namespace), which stays the literal one.

  /** The reference time of the console cases: the data lie in the day before it. */
  protected Instant consoleT0() {
    return now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
  }

  private static Observation finding(
      String storedNs,
      String name,
      String source,
      Severity sev,
      String resNs,
      String kind,
      String res,
      String title,
      Map<String, Object> details,
      long count,
      Instant first,
      Instant last,
      String cluster) {
    io.kubezen.api.v1alpha1.ObservationSpec spec =
        new io.kubezen.api.v1alpha1.ObservationSpec(
            source,
            Category.SECURITY,
            sev,
            "type_" + source.replace('-', '_'),
            res == null ? null : io.kubezen.api.v1alpha1.ResourceRef.of("v1", kind, resNs, res),
            title,
            details,
            first.toString(),
            StoreFixtures.sha256(name),
            3600L,
            cluster);
    Observation o = new Observation();
    o.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
            .withName(name)
            .withNamespace(storedNs)
            .build());
    o.setSpec(spec);
    o.setStatus(ObservationStatus.seen(count, first.toString(), last.toString()));
    return o;
  }

  /** Six findings of four sources, one of them resolved (trivy-2, half an hour before T0). */
  protected void fillConsole(Instant t0) {
    Map<String, Object> cve = new java.util.LinkedHashMap<>();
    cve.put("vulnerabilityID", "CVE-2024-3094");
    cve.put("primaryLink", "https://avd.aquasec.com/nvd/cve-2024-3094");
    String shop = ns("shop");
    String pay = ns("pay");
    String zen = ns("zen");
    store.createOrMerge(
        List.of(
            finding(
                shop,
                "trivy-1",
                "trivy",
                Severity.CRITICAL,
                "shop",
                "Deployment",
                "web",
                "xz backdoor",
                cve,
                1,
                t0.minusSeconds(3600),
                t0.minusSeconds(3600),
                "prod"),
            finding(
                shop,
                "trivy-2",
                "trivy",
                Severity.HIGH,
                "shop",
                "Deployment",
                "web",
                "openssl",
                Map.of("vulnerabilityID", "CVE-2023-0001"),
                1,
                t0.minusSeconds(7200),
                t0.minusSeconds(7200),
                "prod"),
            finding(
                shop,
                "falco-1",
                "falco",
                Severity.HIGH,
                "shop",
                "Pod",
                "web-abc",
                "Terminal shell 100% <script>",
                Map.of("rule", "Terminal shell in container"),
                7,
                t0.minusSeconds(600),
                t0.minusSeconds(60),
                "prod"),
            finding(
                pay,
                "falco-2",
                "falco",
                Severity.MEDIUM,
                "pay",
                "Pod",
                "api-1",
                "Read sensitive file",
                Map.of("rule", "Read sensitive file untrusted"),
                2,
                t0.minusSeconds(86400 * 2),
                t0.minusSeconds(86400),
                "prod"),
            finding(
                pay,
                "kyverno-1",
                "kyverno",
                Severity.LOW,
                "pay",
                "Deployment",
                "api",
                "require labels",
                Map.of("policy", "require-labels"),
                1,
                t0.minusSeconds(300),
                t0.minusSeconds(300),
                "staging"),
            finding(
                zen,
                "kube-bench-1",
                "kube-bench",
                Severity.HIGH,
                null,
                "Node",
                "node-1",
                "1.1.1 Ensure perms",
                Map.of("test_number", "1.1.1"),
                1,
                t0.minusSeconds(100),
                t0.minusSeconds(100),
                null)));
    store.resolve(List.of(new ObservationKey(shop, "trivy-2")), t0.minusSeconds(1800));
  }

  protected List<String> findingNames(FindingFilter f, FindingSort sort, int limit) {
    return findingNames(store.findings(FindingsQuery.first(f, sort, limit)));
  }

  protected static List<String> findingNames(ObservationPage p) {
    return p.items().stream().map(o -> o.getMetadata().getName()).toList();
  }

  protected static FindingFilter textFilter(String t) {
    return new FindingFilter(
        null, null, null, null, null, null, null, null, null, null, null, null, null, t);
  }

  @Test
  void consoleFindingsFilterOnEachFieldAndFreeText() {
    Instant t0 = consoleT0();
    fillConsole(t0);
    FindingFilter f = FindingFilter.NONE;
    assertThat(findingNames(f, FindingSort.LAST_SEEN, 100))
        .containsExactly("falco-1", "kube-bench-1", "kyverno-1", "trivy-1", "trivy-2", "falco-2");
    assertThat(findingNames(f.withState(FindingFilter.State.OPEN), FindingSort.LAST_SEEN, 100))
        .doesNotContain("trivy-2")
        .hasSize(5);
    assertThat(findingNames(f.withState(FindingFilter.State.RESOLVED), FindingSort.LAST_SEEN, 100))
        .containsExactly("trivy-2");
    // Free text: CVE id (case-insensitive), rule, policy, resource name, test number; LIKE
    // characters literal.
    assertThat(findingNames(textFilter("cve-2024-3094"), FindingSort.LAST_SEEN, 10))
        .containsExactly("trivy-1");
    assertThat(findingNames(textFilter("untrusted"), FindingSort.LAST_SEEN, 10))
        .containsExactly("falco-2");
    assertThat(findingNames(textFilter("REQUIRE-labels"), FindingSort.LAST_SEEN, 10))
        .containsExactly("kyverno-1");
    assertThat(findingNames(textFilter("node-1"), FindingSort.LAST_SEEN, 10))
        .containsExactly("kube-bench-1");
    assertThat(findingNames(textFilter("100%"), FindingSort.LAST_SEEN, 10))
        .containsExactly("falco-1");
    assertThat(findingNames(textFilter("backdoor"), FindingSort.LAST_SEEN, 10))
        .containsExactly("trivy-1");
    assertThat(findingNames(textFilter("1_1"), FindingSort.LAST_SEEN, 10)).isEmpty();
    // Source, severity, category, event type.
    assertThat(
            findingNames(
                new FindingFilter(
                    "falco", null, null, null, null, null, null, null, null, null, null, null, null,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("falco-1", "falco-2");
    assertThat(findingNames(f.withSeverity("high"), FindingSort.LAST_SEEN, 10))
        .containsExactly("falco-1", "kube-bench-1", "trivy-2");
    assertThat(
            findingNames(
                new FindingFilter(
                    null,
                    null,
                    "security",
                    "type_kyverno",
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("kyverno-1");
    assertThat(
            findingNames(
                new FindingFilter(
                    null,
                    null,
                    "compliance",
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
                    null),
                FindingSort.LAST_SEEN,
                10))
        .isEmpty();
    // Namespace is the resource's; cluster; resource; time ranges.
    assertThat(
            findingNames(
                new FindingFilter(
                    null, null, null, null, "pay", null, null, null, null, null, null, null, null,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("kyverno-1", "falco-2");
    assertThat(
            findingNames(
                new FindingFilter(
                    null, null, null, null, null, "staging", null, null, null, null, null, null,
                    null, null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("kyverno-1");
    assertThat(findingNames(f.withResource("Deployment", "shop", "web"), FindingSort.SEVERITY, 10))
        .containsExactly("trivy-1", "trivy-2");
    assertThat(
            findingNames(
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
                    t0.minusSeconds(3600),
                    t0,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("falco-1", "kube-bench-1", "kyverno-1", "trivy-1");
    assertThat(
            findingNames(
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
                    t0.minusSeconds(7200),
                    null,
                    null,
                    null),
                FindingSort.LAST_SEEN,
                10))
        .containsExactly("falco-2");
    // Resolved within a time range (the overview chart's resolved bars link to it): trivy-2 was
    // resolved at t0 - 30 min; open findings never match a resolved range.
    FindingFilter lastHour = f.withResolvedBetween(t0.minusSeconds(3600), t0);
    assertThat(findingNames(lastHour, FindingSort.LAST_SEEN, 10)).containsExactly("trivy-2");
    assertThat(
            findingNames(lastHour.withState(FindingFilter.State.OPEN), FindingSort.LAST_SEEN, 10))
        .isEmpty();
    assertThat(
            findingNames(
                f.withResolvedBetween(t0.minusSeconds(1000), null), FindingSort.LAST_SEEN, 10))
        .isEmpty();
    assertThat(
            findingNames(
                f.withResolvedBetween(null, t0.minusSeconds(1800)), FindingSort.LAST_SEEN, 10))
        .isEmpty();
    assertThat(store.countBy(lastHour, List.of(GroupField.SOURCE)))
        .extracting(GroupCount::count)
        .containsExactly(1L);
    // A row carries what the list shows: title, severity, resource, status.
    Observation row =
        store
            .findings(FindingsQuery.first(textFilter("backdoor"), FindingSort.LAST_SEEN, 1))
            .items()
            .get(0);
    assertThat(row.getSpec().title()).isEqualTo("xz backdoor");
    assertThat(row.getSpec().severity()).isEqualTo(Severity.CRITICAL);
    assertThat(row.getSpec().resource().name()).isEqualTo("web");
    assertThat(row.getStatus().count()).isEqualTo(1L);
  }

  @Test
  void consoleFindingsPageThroughEverySortWithoutGapsOrRepeats() {
    fillConsole(consoleT0());
    for (FindingSort sort : FindingSort.values()) {
      List<String> all = findingNames(FindingFilter.NONE, sort, 100);
      for (int size = 1; size <= 3; size++) {
        List<String> paged = new java.util.ArrayList<>();
        String after = null;
        do {
          ObservationPage p =
              store.findings(new FindingsQuery(FindingFilter.NONE, sort, size, after));
          assertThat(p.items().size()).isLessThanOrEqualTo(size);
          paged.addAll(findingNames(p));
          after = p.continueToken();
        } while (after != null);
        assertThat(paged).as("%s by %d", sort, size).isEqualTo(all).hasSize(6);
      }
    }
    assertThat(findingNames(FindingFilter.NONE, FindingSort.SEVERITY, 2))
        .containsExactly("trivy-1", "falco-1");
    assertThat(findingNames(FindingFilter.NONE, FindingSort.COUNT, 2))
        .containsExactly("falco-1", "falco-2");
    // An exactly full last page ends with a null token.
    assertThat(
            store
                .findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.LAST_SEEN, 6))
                .continueToken())
        .isNull();
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
    // A token stays valid when its row goes: the next page starts after that row's sort key.
    ObservationPage first =
        store.findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.LAST_SEEN, 2));
    assertThat(findingNames(first)).containsExactly("falco-1", "kube-bench-1");
    store.deleteExpired(Instant.parse("9000-01-01T00:00:00Z"));
    assertThat(
            store
                .findings(
                    new FindingsQuery(
                        FindingFilter.NONE, FindingSort.LAST_SEEN, 2, first.continueToken()))
                .items())
        .isEmpty();
  }

  @Test
  void consoleAggregates() {
    Instant t0 = consoleT0();
    fillConsole(t0);
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
    assertThat(
            store.countBy(FindingFilter.NONE, List.of(GroupField.CATEGORY, GroupField.EVENT_TYPE)))
        .extracting(g -> g.key(0) + "/" + g.key(1) + "=" + g.count())
        .containsExactly(
            "security/type_falco=2",
            "security/type_trivy=2",
            "security/type_kube_bench=1",
            "security/type_kyverno=1");
    assertThatThrownBy(() -> store.countBy(FindingFilter.NONE, List.of()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> store.countBy(FindingFilter.NONE, List.of(GroupField.SOURCE, GroupField.SOURCE)))
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
    assertThatThrownBy(
            () -> store.topByCriticalHigh(FindingFilter.NONE, RankedGroup.By.RESOURCE, 0))
        .isInstanceOf(IllegalArgumentException.class);

    List<TimeBucket> day =
        store.timeline(FindingFilter.NONE, t0.minus(Duration.ofHours(24)), t0, Duration.ofHours(1));
    assertThat(day).hasSize(24);
    assertThat(day.get(0).start()).isEqualTo(t0.minus(Duration.ofHours(24)));
    assertThat(day.get(23)).isEqualTo(new TimeBucket(t0.minusSeconds(3600), 4, 1));
    assertThat(day.get(22)).isEqualTo(new TimeBucket(t0.minusSeconds(7200), 1, 0));
    assertThat(day.stream().mapToLong(TimeBucket::opened).sum()).isEqualTo(5);
    // The filter's state is ignored; its other fields apply.
    assertThat(
            store.timeline(
                new FindingFilter(
                    "trivy",
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    FindingFilter.State.OPEN,
                    null,
                    null,
                    null,
                    null,
                    null),
                t0.minus(Duration.ofHours(3)),
                t0,
                Duration.ofHours(1)))
        .containsExactly(
            new TimeBucket(t0.minusSeconds(3 * 3600), 0, 0),
            new TimeBucket(t0.minusSeconds(7200), 1, 0),
            new TimeBucket(t0.minusSeconds(3600), 1, 1));
    assertThatThrownBy(
            () ->
                store.timeline(
                    FindingFilter.NONE, t0.minus(Duration.ofDays(2)), t0, Duration.ofMinutes(1)))
        .isInstanceOf(IllegalArgumentException.class);

    List<SourceActivity> act = store.sourceActivity(FindingFilter.NONE);
    assertThat(act)
        .extracting(SourceActivity::source)
        .containsExactly("falco", "kube-bench", "kyverno", "trivy");
    assertThat(act.get(0)).isEqualTo(new SourceActivity("falco", t0.minusSeconds(60), 2, 2));
    assertThat(act.get(3)).isEqualTo(new SourceActivity("trivy", t0.minusSeconds(3600), 1, 2));

    StoreSummary s = store.summary();
    assertThat(s.total()).isEqualTo(6);
    assertThat(s.resolved()).isEqualTo(1);
    assertThat(s.countSum()).isEqualTo(13);
    assertThat(s.lastSeen()).isEqualTo(t0.minusSeconds(60));
    assertThat(s.lastCreated()).isNotNull();
    String before = s.tag();
    store.addRepeats(List.of(new Repeat(ns("pay"), "falco-2", 1, null)));
    StoreSummary repeated = store.summary();
    assertThat(repeated.countSum()).isEqualTo(14);
    assertThat(repeated.tag()).isNotEqualTo(before);
    store.resolve(List.of(new ObservationKey(ns("shop"), "falco-1")), t0);
    assertThat(store.summary().resolved()).isEqualTo(2);
    // Deleting everything empties it.
    store.deleteExpired(Instant.parse("9000-01-01T00:00:00Z"));
    assertThat(store.summary()).isEqualTo(StoreSummary.EMPTY);
  }

  /**
   * The same filter with a condition every case's finding meets, so that no store can answer it
   * from a roll-up.
   */
  private static FindingFilter unrolled(FindingFilter f) {
    return new FindingFilter(
        f.source(),
        f.severity(),
        f.category(),
        f.eventType(),
        f.namespace(),
        f.cluster(),
        f.resourceKind(),
        f.resourceName(),
        f.state(),
        f.firstSeenFrom(),
        f.firstSeenTo(),
        Instant.parse("2000-01-01T00:00:00Z"),
        f.lastSeenTo(),
        f.text());
  }

  private void assertAggregatesAgreeWithTheRows(Instant t0) {
    for (FindingFilter f :
        List.of(
            FindingFilter.NONE,
            FindingFilter.OPEN,
            FindingFilter.NONE.withState(FindingFilter.State.RESOLVED),
            FindingFilter.OPEN.withSeverity("high"),
            new FindingFilter(
                "falco", null, null, null, "shop", null, null, null, null, null, null, null, null,
                null))) {
      for (List<GroupField> fields :
          List.of(
              List.of(GroupField.SOURCE, GroupField.SEVERITY, GroupField.CATEGORY),
              List.of(GroupField.CLUSTER),
              List.of(GroupField.NAMESPACE),
              List.of(GroupField.RESOLVED),
              List.of(GroupField.SEVERITY, GroupField.NAMESPACE, GroupField.CLUSTER))) {
        assertThat(store.countBy(f, fields))
            .as("countBy %s %s", f, fields)
            .isEqualTo(store.countBy(unrolled(f), fields));
      }
      assertThat(store.topByCriticalHigh(f, RankedGroup.By.NAMESPACE, 10))
          .as("top namespaces %s", f)
          .isEqualTo(store.topByCriticalHigh(unrolled(f), RankedGroup.By.NAMESPACE, 10));
      assertThat(store.topByCriticalHigh(f, RankedGroup.By.RESOURCE, 10))
          .as("top resources %s", f)
          .isEqualTo(store.topByCriticalHigh(unrolled(f), RankedGroup.By.RESOURCE, 10));
      assertThat(store.sourceActivity(f))
          .as("source activity %s", f)
          .isEqualTo(store.sourceActivity(unrolled(f)));
    }
    for (Duration width : List.of(Duration.ofHours(1), Duration.ofHours(6), Duration.ofDays(1))) {
      Instant from = t0.minus(Duration.ofDays(4));
      Instant to = t0.plus(Duration.ofDays(2));
      assertThat(store.timeline(FindingFilter.NONE, from, to, width))
          .as("timeline by %s", width)
          .isEqualTo(store.timeline(unrolled(FindingFilter.NONE), from, to, width));
    }
  }

  /**
   * A store may keep the overview's counts beside the rows (the SQL stores' roll-up tables):
   * through creates, merges, repeats, resolves, reopens and deletes they agree with counting the
   * rows.
   */
  @Test
  void consoleAggregatesAgreeWithTheRowsThroughEveryKindOfWrite() {
    Instant t0 = now().truncatedTo(java.time.temporal.ChronoUnit.HOURS);
    fillConsole(t0);
    assertAggregatesAgreeWithTheRows(t0);
    assertThat(
            store.timeline(
                FindingFilter.NONE, t0.minus(Duration.ofHours(3)), t0, Duration.ofHours(1)))
        .containsExactly(
            new TimeBucket(t0.minusSeconds(3 * 3600), 0, 0),
            new TimeBucket(t0.minusSeconds(7200), 1, 0),
            new TimeBucket(t0.minusSeconds(3600), 4, 1));
    // A sighting seen earlier moves its first-seen hour; repeats; a resolve, a reopen.
    store.createOrMerge(
        List.of(
            finding(
                ns("pay"),
                "kyverno-1",
                "kyverno",
                Severity.LOW,
                "pay",
                "Deployment",
                "api",
                "require labels",
                Map.of("policy", "require-labels"),
                1,
                t0.minus(Duration.ofDays(3)),
                t0,
                "staging")));
    store.addRepeats(List.of(new Repeat(ns("shop"), "falco-1", 2, t0)));
    store.resolve(
        List.of(
            new ObservationKey(ns("shop"), "trivy-1"), new ObservationKey(ns("shop"), "falco-1")),
        t0.minusSeconds(10));
    store.createIfAbsent(
        List.of(
            finding(
                ns("shop"),
                "trivy-2",
                "trivy",
                Severity.HIGH,
                "shop",
                "Deployment",
                "web",
                "openssl",
                Map.of("vulnerabilityID", "CVE-2023-0001"),
                1,
                t0.minusSeconds(7200),
                t0.minusSeconds(7200),
                "prod")));
    assertAggregatesAgreeWithTheRows(t0);
    assertThat(
            store.countBy(
                FindingFilter.NONE.withState(FindingFilter.State.RESOLVED),
                List.of(GroupField.SOURCE)))
        .extracting(g -> g.key(0) + "=" + g.count())
        .containsExactly("falco=1", "trivy=1");
    // Everything deleted: nothing counted.
    store.deleteExpired(Instant.parse("9000-01-01T00:00:00Z"));
    assertAggregatesAgreeWithTheRows(t0);
    assertThat(store.countBy(FindingFilter.NONE, List.of(GroupField.SOURCE))).isEmpty();
    assertThat(store.sourceActivity(FindingFilter.NONE)).isEmpty();
    assertThat(
            store.timeline(
                FindingFilter.NONE, t0.minus(Duration.ofDays(4)), t0, Duration.ofDays(1)))
        .allMatch(b -> b.opened() == 0 && b.resolved() == 0);
  }

  @Test
  void consoleReadsOfAnEmptyStore() {
    Instant t0 = consoleT0();
    assertThat(store.summary()).isEqualTo(StoreSummary.EMPTY);
    assertThat(store.countBy(FindingFilter.OPEN, List.of(GroupField.SEVERITY))).isEmpty();
    assertThat(store.topByCriticalHigh(FindingFilter.OPEN, RankedGroup.By.NAMESPACE, 10)).isEmpty();
    assertThat(store.sourceActivity(FindingFilter.NONE)).isEmpty();
    ObservationPage p =
        store.findings(FindingsQuery.first(FindingFilter.NONE, FindingSort.SEVERITY, 10));
    assertThat(p.items()).isEmpty();
    assertThat(p.continueToken()).isNull();
    assertThat(store.timeline(FindingFilter.NONE, t0.minusSeconds(60), t0, Duration.ofSeconds(30)))
        .containsExactly(
            new TimeBucket(t0.minusSeconds(60), 0, 0), new TimeBucket(t0.minusSeconds(30), 0, 0));
  }
  // ================================================================== end of console reads
  // (kconsole)
}
