package io.kubezen.watcher.store.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The pure parts of the kubernetes store: write limiter, details cap, status arithmetic, TTL. */
class StorePartsTest {

  @Test
  void limiterRespectsItsCeilingWithTheBurstAtOnceThenOneSlotPerInterval() {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    AdaptiveLimiter limiter = new AdaptiveLimiter(20, 5, now::get);
    assertThat(limiter.rate()).isEqualTo(20);
    for (int i = 0; i < 5; i++) {
      assertThat(limiter.reserve()).isZero();
    }
    // The next ones are queued 50 ms apart.
    assertThat(limiter.reserve()).isEqualTo(50_000_000L);
    assertThat(limiter.reserve()).isEqualTo(100_000_000L);
    for (int i = 0; i < 1000; i++) {
      limiter.succeeded(1_000_000L);
    }
    assertThat(limiter.rate()).as("never above KUBE_WRITE_QPS").isEqualTo(20);
  }

  @Test
  void limiterIncreasesAdditivelyAndDecreasesMultiplicatively() {
    AtomicLong now = new AtomicLong(1_000_000_000L);
    AdaptiveLimiter limiter = new AdaptiveLimiter(0, 10, now::get);
    double start = limiter.rate();
    assertThat(start).isEqualTo(AdaptiveLimiter.START_RATE);
    // One second's worth of fast successes at the current rate adds about STEP writes/s.
    for (int i = 0; i < (int) start; i++) {
      now.addAndGet(10_000_000L);
      limiter.succeeded(2_000_000L);
    }
    assertThat(limiter.rate())
        .isBetween(start + AdaptiveLimiter.STEP * 0.8, start + AdaptiveLimiter.STEP * 1.01);
    double before = limiter.rate();
    now.addAndGet(2_000_000_000L);
    limiter.throttled(0);
    assertThat(limiter.rate()).isEqualTo(before / 2);
    limiter.throttled(0); // the same bad news from the other requests in flight: no second halving
    assertThat(limiter.rate()).isEqualTo(before / 2);
    // Retry-After holds every writer back that long.
    now.addAndGet(2_000_000_000L);
    limiter.throttled(3000);
    assertThat(limiter.reserve()).isGreaterThanOrEqualTo(2_990_000_000L);
    // Latency rising far above the lowest seen slows down too.
    double beforeSlow = limiter.rate();
    for (int i = 0; i < 30; i++) {
      limiter.succeeded(2_000_000_000L);
    }
    now.addAndGet(2_000_000_000L);
    limiter.succeeded(2_000_000_000L);
    assertThat(limiter.rate()).isLessThan(beforeSlow);
    for (int i = 0; i < 100; i++) {
      now.addAndGet(2_000_000_000L);
      limiter.throttled(0);
    }
    assertThat(limiter.rate()).isEqualTo(AdaptiveLimiter.MIN_RATE);
  }

  @Test
  void detailsCapDropsTheLargestValuesFirstAndMarksTheCut() {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("rule", "Terminal shell");
    d.put("output", "x".repeat(400));
    d.put("cmdline", "y".repeat(100));
    Map<String, Object> capped = DetailsCap.cap(d, 160);
    assertThat(capped)
        .containsEntry("rule", "Terminal shell")
        .containsEntry("cmdline", "y".repeat(100))
        .containsEntry("truncated", true)
        .doesNotContainKey("output");
    assertThat(DetailsCap.size(capped)).isLessThanOrEqualTo(160);
    assertThat(DetailsCap.cap(d, 10_000)).isSameAs(d);
    assertThat(DetailsCap.cap(null, 64)).isNull();
  }

  @Test
  void mergeAddsCountsAndWidensTheTimesAndUnresolves() {
    ObservationStatus current =
        new ObservationStatus(
            4L, "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", true, "2024-05-01T12:00:00Z");
    ObservationStatus merged =
        Statuses.merge(
            current,
            ObservationStatus.seen(2, "2024-05-01T09:00:00+00:00", "2024-05-01T10:30:00Z"),
            0);
    assertThat(merged)
        .isEqualTo(
            new ObservationStatus(
                6L,
                "2024-05-01T09:00:00+00:00",
                "2024-05-01T11:00:00Z",
                false,
                "2024-05-01T12:00:00Z"));
    // The creator's own merge onto the implicit status: its first sighting is counted already.
    assertThat(
            Statuses.merge(
                    ObservationStatus.seen(1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
                    ObservationStatus.seen(3, null, null),
                    1)
                .count())
        .isEqualTo(3);
    assertThat(Statuses.repeat(current, 5, Instant.parse("2024-05-01T10:59:00Z")).lastSeen())
        .isEqualTo("2024-05-01T11:00:00Z");
    assertThat(Statuses.resolve(current, Instant.parse("2024-06-01T00:00:00Z"))).isSameAs(current);
  }

  @Test
  void theImplicitStatusComesFromDetectedAt() {
    Observation o = KubeFixtures.obs("ns", "falco-x");
    assertThat(Statuses.isImplicit(o)).isTrue();
    o.setStatus(null);
    assertThat(Statuses.effective(o))
        .isEqualTo(ObservationStatus.seen(1, KubeFixtures.DETECTED, KubeFixtures.DETECTED));
    assertThat(
            Statuses.isImplicit(
                KubeFixtures.withStatus(
                    KubeFixtures.obs("ns", "y"), 2, KubeFixtures.DETECTED, KubeFixtures.DETECTED)))
        .isFalse();
  }

  @Test
  void expiresAfterCreationPlusTtlAndNeverWithoutOne() {
    Observation o =
        KubeFixtures.obs("ns", "falco-ttl", io.kubezen.api.v1alpha1.Severity.LOW, "x", 60);
    o.getMetadata().setCreationTimestamp("2024-05-01T10:00:00Z");
    assertThat(ObservationGc.expired(o, Instant.parse("2024-05-01T10:01:00Z"), java.util.Set.of()))
        .isFalse();
    assertThat(ObservationGc.expired(o, Instant.parse("2024-05-01T10:01:01Z"), java.util.Set.of()))
        .isTrue();
    Observation forever =
        KubeFixtures.obs(
            "ns", "falco-ttl", io.kubezen.api.v1alpha1.Severity.LOW, "x", Long.MAX_VALUE);
    forever.getMetadata().setCreationTimestamp("2024-05-01T10:00:00Z");
    assertThat(
            ObservationGc.expired(
                forever, Instant.parse("9999-01-01T00:00:00Z"), java.util.Set.of()))
        .isFalse();
  }

  @Test
  void stateLikeFindingsLiveWhileOpenAndResolvedOnesExpireFromResolvedAt() {
    Observation o =
        KubeFixtures.obs("ns", "trivy-ttl", io.kubezen.api.v1alpha1.Severity.LOW, "x", 60);
    o.getMetadata().setCreationTimestamp("2024-05-01T10:00:00Z");
    o.getMetadata().getLabels().put(Observation.LABEL_ORIGIN_UID, "uid-1");
    Instant muchLater = Instant.parse("2024-06-01T00:00:00Z");
    String source = o.getSpec().source();
    // open and from a state-like watched source: lives as long as its finding
    assertThat(ObservationGc.expired(o, muchLater, java.util.Set.of(source))).isFalse();
    // the same source not state-like (or nothing watched): creation + TTL
    assertThat(ObservationGc.expired(o, muchLater, java.util.Set.of())).isTrue();
    // resolved: resolvedAt + TTL, whatever its age
    o.setStatus(
        new ObservationStatus(
            1L, KubeFixtures.DETECTED, KubeFixtures.DETECTED, true, "2024-05-31T23:59:30Z"));
    assertThat(ObservationGc.expired(o, muchLater, java.util.Set.of(source))).isFalse();
    assertThat(ObservationGc.expired(o, muchLater.plusSeconds(31), java.util.Set.of(source)))
        .isTrue();
  }

  @Test
  void eventTypeLabelIsTheValueOrAStableHash() {
    assertThat(KubernetesObservationStore.eventTypeLabel("runtime_threat"))
        .isEqualTo("runtime_threat");
    String odd = KubernetesObservationStore.eventTypeLabel("_leading");
    assertThat(odd)
        .startsWith("h.")
        .hasSize(42)
        .isEqualTo(KubernetesObservationStore.eventTypeLabel("_leading"));
    assertThat(KubernetesObservationStore.eventTypeLabel("a".repeat(64))).startsWith("h.");
  }
}
