package io.kubezen.watcher.store;

import static io.kubezen.watcher.store.StoreFixtures.falco;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The contract cases of the stores that take a {@link java.time.Clock} (sqlite, postgres): creation
 * order and TTLs under a clock the test moves, paging, close and reopen.
 */
public abstract class SqlObservationStoreContract extends ObservationStoreContract {
  public static final Instant T0 = Instant.parse("2024-05-01T12:00:00Z");

  protected MutableClock clock = new MutableClock(T0);

  /** Closes the store and opens the same database again. */
  protected abstract ObservationStore reopen();

  /** Rows the store deletes per GC chunk. */
  protected abstract int gcChunk();

  @Override
  protected Instant now() {
    return clock.instant();
  }

  @Override
  protected String expectedCreationTimestamp() {
    return "2024-05-01T12:00:00Z";
  }

  @Test
  void seenTimesWithOffsetsAndFractionsAreComparedAsInstants() {
    store.createOrMerge(
        List.of(
            falco(
                "a",
                "x",
                null,
                1,
                "2024-05-01T12:00:00.123456+02:00",
                "2024-05-01T12:00:00.123456+02:00")));
    store.createOrMerge(
        List.of(falco("a", "x", null, 1, "2024-05-01T09:59:59Z", "2024-05-01T10:00:01Z")));
    ObservationStatus s = store.get("a", "x").orElseThrow().getStatus();
    assertThat(s.firstSeen()).isEqualTo("2024-05-01T09:59:59Z");
    assertThat(s.lastSeen()).isEqualTo("2024-05-01T10:00:01Z");
  }

  @Test
  void withoutStatusTheObservationCountsOnceSeenWhenDetected() {
    Observation o = falco("a", "x");
    o.setStatus(null);
    store.createOrMerge(List.of(o));
    assertThat(store.get("a", "x").orElseThrow().getStatus())
        .isEqualTo(ObservationStatus.seen(1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"));
  }

  @Test
  void everythingSurvivesCloseAndReopen() {
    store.createOrMerge(
        List.of(
            falco("a", "x"),
            falco("b", "y", null, 3, "2024-05-01T09:00:00Z", "2024-05-01T09:30:00Z")));
    store.addRepeats(List.of(new Repeat("a", "x", 2, Instant.parse("2024-05-01T11:00:00Z"))));
    store = reopen();
    assertThat(store.get("a", "x").orElseThrow().getStatus())
        .isEqualTo(ObservationStatus.seen(3, "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"));
    assertThat(store.get("b", "y").orElseThrow().getSpec().ttlSecondsAfterCreation()).isNull();
    assertThat(store.list(ObservationQuery.all(10)).items()).hasSize(2);
    // and it still merges instead of creating again
    assertThat(store.createOrMerge(List.of(falco("a", "x")))).containsExactly(WriteOutcome.MERGED);
  }

  @Test
  void listIsNewestFirstThenByName() {
    store.createOrMerge(List.of(falco("a", "old-b"), falco("a", "old-a")));
    clock.advance(Duration.ofMillis(1));
    store.createOrMerge(List.of(falco("b", "new-z"), falco("a", "new-z"), falco("a", "new-y")));
    clock.advance(Duration.ofSeconds(1));
    // merging does not make an Observation newer
    store.createOrMerge(List.of(falco("a", "old-b")));

    List<String> order =
        store.list(ObservationQuery.all(10)).items().stream()
            .map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName())
            .toList();
    assertThat(order).containsExactly("a/new-y", "a/new-z", "b/new-z", "a/old-a", "a/old-b");
  }

  @Test
  void paginationReturnsEveryRowExactlyOnce() {
    // 250 rows, with many sharing one creation time, so the name/namespace tie-break is exercised
    for (int batch = 0; batch < 25; batch++) {
      List<Observation> obs = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        obs.add(falco(i % 2 == 0 ? "even" : "odd", "falco-" + (batch * 10 + i / 2)));
      }
      store.createOrMerge(obs);
      if (batch % 3 == 0) {
        clock.advance(Duration.ofMillis(1));
      }
    }
    List<String> all = new ArrayList<>();
    List<Integer> pageSizes = new ArrayList<>();
    String token = null;
    do {
      ObservationPage page =
          store.list(new ObservationQuery(null, null, null, null, null, 100, token));
      pageSizes.add(page.items().size());
      page.items()
          .forEach(o -> all.add(o.getMetadata().getNamespace() + "/" + o.getMetadata().getName()));
      token = page.continueToken();
    } while (token != null);

    assertThat(pageSizes).containsExactly(100, 100, 50);
    assertThat(all).hasSize(250).doesNotHaveDuplicates();
    assertThat(all)
        .isEqualTo(
            store.list(ObservationQuery.all(1000)).items().stream()
                .map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName())
                .toList());
  }

  @Test
  void paginationKeepsTheFilterAndEndsWithNullTokenOnAnExactlyFullPage() {
    List<Observation> obs = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      obs.add(falco(i < 10 ? "prod" : "dev", "falco-" + i));
    }
    store.createOrMerge(obs);
    ObservationPage first =
        store.list(new ObservationQuery(null, null, null, "prod", null, 5, null));
    ObservationPage second =
        store.list(new ObservationQuery(null, null, null, "prod", null, 5, first.continueToken()));
    assertThat(second.continueToken()).isNull();
    Set<String> names = new HashSet<>();
    first.items().forEach(o -> names.add(o.getMetadata().getName()));
    second.items().forEach(o -> names.add(o.getMetadata().getName()));
    assertThat(names).hasSize(10);
    assertThat(List.of(first, second))
        .allSatisfy(
            p ->
                assertThat(p.items())
                    .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo("prod")));
  }

  @Test
  void aMalformedContinueTokenIsRejected() {
    store.createOrMerge(List.of(falco("a", "x")));
    for (String bad :
        List.of(
            "",
            "%%%not-base64%%%",
            b64("hello"),
            b64("v1:notanumber:1:xa"),
            b64("v1:12:99:x"),
            b64("v2:12:1:xa"),
            b64("v1:12:-1:xa"))) {
      assertThatThrownBy(
              () -> store.list(new ObservationQuery(null, null, null, null, null, 10, bad)))
          .as("token %s", bad)
          .isInstanceOf(InvalidContinueTokenException.class);
    }
  }

  @Test
  void deleteExpiredDeletesOnlyWhatOutlivedItsTtl() {
    store.createOrMerge(
        List.of(
            falco("a", "one-minute", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
            falco("a", "one-hour", 3600L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
            falco("a", "forever", null, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z")));

    clock.advance(Duration.ofSeconds(60));
    assertThat(store.deleteExpired(clock.instant()))
        .isEqualTo(new GcResult(0, 0)); // exactly at expiry: kept
    clock.advance(Duration.ofMillis(1));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(1, 0));
    assertThat(store.get("a", "one-minute")).isEmpty();
    assertThat(store.get("a", "one-hour")).isPresent();

    clock.advance(Duration.ofHours(1));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(1, 0));
    clock.advance(Duration.ofDays(365 * 100));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(0, 0));
    assertThat(names(ObservationQuery.all(10))).containsExactly("forever");
    // an Observation whose repeats keep coming still expires from its creation time
    assertThat(store.addRepeats(List.of(new Repeat("a", "one-minute", 1, clock.instant()))))
        .containsExactly(WriteOutcome.MISSING);
  }

  @Test
  void stateLikeFindingsLiveWhileOpenAndResolvedOnesExpireFromResolvedAt() {
    Observation watched =
        falco("a", "watched", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    watched.getMetadata().getLabels().put(Observation.LABEL_ORIGIN_UID, "uid-1");
    Observation pushed =
        falco("a", "pushed", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    store.createIfAbsent(List.of(watched, pushed));
    String source = watched.getSpec().source();

    clock.advance(Duration.ofDays(30));
    assertThat(store.deleteExpired(clock.instant(), java.util.Set.of(source)))
        .isEqualTo(new GcResult(1, 0));
    assertThat(names(ObservationQuery.all(10))).containsExactly("watched"); // still in its report

    store.resolve(List.of(new ObservationKey("a", "watched")), clock.instant());
    clock.advance(Duration.ofSeconds(60));
    assertThat(store.deleteExpired(clock.instant(), java.util.Set.of(source)))
        .isEqualTo(new GcResult(0, 0));
    clock.advance(Duration.ofMillis(1));
    assertThat(store.deleteExpired(clock.instant(), java.util.Set.of(source)))
        .isEqualTo(new GcResult(1, 0));
    assertThat(names(ObservationQuery.all(10))).isEmpty();
  }

  @Test
  void deleteExpiredWorksThroughManyChunks() {
    int n = gcChunk() * 2 + 500;
    List<Observation> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      batch.add(falco("a", "short-" + i, 10L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"));
    }
    batch.add(falco("a", "long", 100000L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"));
    store.createOrMerge(batch);
    clock.advance(Duration.ofMinutes(1));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(n, 0));
    assertThat(names(ObservationQuery.all(10))).containsExactly("long");
  }

  @Test
  void reachableUntilClosedAndCloseIsIdempotent() {
    assertThat(store.isReachable()).isTrue();
    store.close();
    store.close();
    assertThat(store.isReachable()).isFalse();
    assertThatThrownBy(() -> store.get("a", "x"))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> store.createOrMerge(List.of(falco("a", "x"))))
        .isInstanceOf(StoreException.class);
  }

  protected static String b64(String s) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }
}
