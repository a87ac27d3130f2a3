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
 * per test; {@link #ns} maps a namespace of the cases to one of its own (the kubernetes store shares
 * one API server between tests).
 */
public abstract class ObservationStoreContract {
  protected ObservationStore store;

  /** A new, empty store. */
  protected abstract ObservationStore open();

  /** The time the store takes as now (its clock). */
  protected abstract Instant now();

  /** The namespace a case's namespace {@code base} is written in. */
  protected String ns(String base) {
    return base;
  }

  /** The creationTimestamp a store gives an Observation created now; null when it is not predictable. */
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
    Observation first = falco(shop, "falco-0123456789abcdef", 604800L, 2,
        "2024-05-01T10:00:05Z", "2024-05-01T10:00:10Z");
    assertThat(store.createOrMerge(List.of(first))).containsExactly(WriteOutcome.CREATED);
    String created = store.get(shop, "falco-0123456789abcdef").orElseThrow().getMetadata().getCreationTimestamp();

    Observation again = obs(shop, "falco-0123456789abcdef", "falco", Severity.CRITICAL, Category.COST,
        "other_type", 1L, 3, "2024-05-01T10:00:01Z", "2024-05-01T10:00:20Z");
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
    store.createOrMerge(List.of(falco(shop, "falco-0123456789abcdef", 604800L, 1,
        "2024-05-01T10:00:15Z", "2024-05-01T10:00:16Z")));
    Observation later = store.get(shop, "falco-0123456789abcdef").orElseThrow();
    assertThat(later.getStatus()).isEqualTo(ObservationStatus.seen(6, "2024-05-01T10:00:01Z", "2024-05-01T10:00:20Z"));
  }

  @Test
  void aDuplicateInsideOneBatchIsMerged() {
    String a = ns("a");
    String b = ns("b");
    List<WriteOutcome> outcomes = store.createOrMerge(List.of(
        falco(a, "one"), falco(a, "two"), falco(a, "one"), falco(b, "one")));
    assertThat(outcomes).containsExactly(
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
    List<WriteOutcome> outcomes = store.addRepeats(List.of(
        new Repeat(a, "x", 4, Instant.parse("2024-05-01T10:05:00Z")),
        new Repeat(a, "gone", 2, Instant.parse("2024-05-01T10:05:00Z")),
        new Repeat(a, "x", 1, Instant.parse("2024-05-01T10:01:00Z"))));
    assertThat(outcomes).containsExactly(WriteOutcome.MERGED, WriteOutcome.MISSING, WriteOutcome.MERGED);
    assertThat(store.get(a, "gone")).isEmpty();
    ObservationStatus s = store.get(a, "x").orElseThrow().getStatus();
    assertThat(s.count()).isEqualTo(6L);
    assertThat(s.firstSeen()).isEqualTo("2024-05-01T10:00:00Z");
    assertThat(s.lastSeen()).isEqualTo("2024-05-01T10:05:00Z"); // an older repeat does not move it back
  }

  @Test
  void listFiltersOnEachFieldExactly() {
    String prod = ns("prod");
    String dev = ns("dev");
    store.createOrMerge(List.of(
        obs(prod, "falco-1", "falco", Severity.CRITICAL, Category.SECURITY, "runtime_threat", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        obs(prod, "trivy-1", "trivy", Severity.HIGH, Category.SECURITY, "vulnerability", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        obs(dev, "trivy-2", "trivy", Severity.CRITICAL, Category.SECURITY, "vulnerability", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        obs(dev, "bench-1", "kube-bench", Severity.HIGH, Category.COMPLIANCE, "cis_benchmark_fail", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z")));

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
    assertThat(names(new ObservationQuery("trivy", "high", "security", prod, "vulnerability", 10, null)))
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
    assertThat(store.listByOrigin("uid-1")).extracting(o -> o.getMetadata().getName())
        .containsExactlyInAnyOrder("trivy-one", "trivy-two");
    assertThat(store.listByOrigin("uid-none")).isEmpty();

    // The finding left its report: resolved, once; a missing one is reported as such.
    Instant at = Instant.parse("2024-05-02T08:00:00Z");
    assertThat(store.resolve(List.of(new ObservationKey(a, "trivy-two"), new ObservationKey(a, "trivy-gone")), at))
        .containsExactly(WriteOutcome.MERGED, WriteOutcome.MISSING);
    ObservationStatus resolved = store.get(a, "trivy-two").orElseThrow().getStatus();
    assertThat(resolved.resolved()).isTrue();
    assertThat(Instant.parse(resolved.resolvedAt())).isEqualTo(at);
    assertThat(store.resolve(List.of(new ObservationKey(a, "trivy-two")), at.plusSeconds(60)))
        .containsExactly(WriteOutcome.MERGED);
    assertThat(Instant.parse(store.get(a, "trivy-two").orElseThrow().getStatus().resolvedAt()))
        .as("resolving again keeps the first resolvedAt").isEqualTo(at);
    assertThat(store.get(a, "trivy-one").orElseThrow().getStatus().resolved()).isNotEqualTo(Boolean.TRUE);

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
    Observation lasting = falco(a, "lasting", 10L * 365 * 86_400, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    Observation watched = fromOrigin(falco(a, "watched", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        "uid-1");
    store.createOrMerge(List.of(pushed, lasting));
    store.createIfAbsent(List.of(watched));
    String source = watched.getSpec().source();

    // Well before anything expires: nothing deleted.
    assertThat(store.deleteExpired(start.minusSeconds(3600), Set.of(source))).isEqualTo(new GcResult(0, 0));
    // A day later: the pushed one is gone, the open watched one lives while it is in its report.
    Instant day = start.plus(Duration.ofDays(1));
    assertThat(store.deleteExpired(day, Set.of(source))).isEqualTo(new GcResult(1, 0));
    assertThat(store.get(a, "pushed")).isEmpty();
    assertThat(store.get(a, "watched")).isPresent();
    assertThat(store.get(a, "lasting")).isPresent();

    // Resolved: it expires TTL after it was resolved.
    store.resolve(List.of(new ObservationKey(a, "watched")), day);
    assertThat(store.deleteExpired(day.plusSeconds(30), Set.of(source))).isEqualTo(new GcResult(0, 0));
    assertThat(store.deleteExpired(day.plusSeconds(61), Set.of(source))).isEqualTo(new GcResult(1, 0));
    assertThat(store.get(a, "watched")).isEmpty();
    assertThat(store.get(a, "lasting")).isPresent();
  }

  protected List<String> names(ObservationQuery q) {
    return store.list(q).items().stream().map(o -> o.getMetadata().getName()).toList();
  }
}
