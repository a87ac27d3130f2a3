package io.kubezen.watcher.pipeline.dedup;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class DeduplicatorTest {
  static final Instant T0 = Instant.parse("2026-11-22T10:00:00Z");
  final AtomicLong nanos = new AtomicLong();
  final Ticker ticker = nanos::get;

  @Test
  void firstSightingMustBeStoredRepeatsOnlyCount() {
    Deduplicator d = new Deduplicator(100, Duration.ofSeconds(60), ticker);
    Deduplicator.Admission a = d.admit("fp1", "ns", "falco-1", T0);
    assertThat(a).isInstanceOf(Deduplicator.First.class);
    assertThat(d.admit("fp1", "ns", "falco-1", T0.plusSeconds(5)))
        .isInstanceOf(Deduplicator.Repeated.class);
    assertThat(d.admit("fp1", "ns", "falco-1", T0.plusSeconds(3)))
        .isInstanceOf(Deduplicator.Repeated.class);
    assertThat(d.drainRepeats())
        .as("nothing flushed before the first sighting is stored")
        .isEmpty();
    d.stored(a.entry());
    List<Deduplicator.Pending> p = d.drainRepeats();
    assertThat(p).hasSize(1);
    assertThat(p.get(0).delta()).isEqualTo(2);
    assertThat(p.get(0).lastSeen())
        .as("the latest sighting, not the last to arrive")
        .isEqualTo(T0.plusSeconds(5));
    assertThat(p.get(0).toRepeat().name()).isEqualTo("falco-1");
    assertThat(d.drainRepeats()).as("drained once").isEmpty();
  }

  @Test
  void failedFlushIsRestoredAndFlushedAgain() {
    Deduplicator d = new Deduplicator(100, Duration.ofSeconds(60), ticker);
    Deduplicator.Admission a = d.admit("fp", "ns", "n", T0);
    d.stored(a.entry());
    d.admit("fp", "ns", "n", T0);
    List<Deduplicator.Pending> p = d.drainRepeats();
    d.restore(p);
    d.admit("fp", "ns", "n", T0);
    assertThat(d.drainRepeats()).singleElement().satisfies(x -> assertThat(x.delta()).isEqualTo(2));
  }

  @Test
  void aFailedFirstSightingIsForgottenSoTheRetryCreatesAgain() {
    Deduplicator d = new Deduplicator(100, Duration.ofSeconds(60), ticker);
    Deduplicator.Admission a = d.admit("fp", "ns", "n", T0);
    Deduplicator.Admission r = d.admit("fp", "ns", "n", T0);
    d.failed("fp", a.entry(), new RuntimeException("disk full"));
    assertThat(r.entry().stored()).isCompletedExceptionally();
    assertThat(d.admit("fp", "ns", "n", T0)).isInstanceOf(Deduplicator.First.class);
    assertThat(d.drainRepeats()).isEmpty();
  }

  @Test
  void entriesExpireAfterTheWindowAndTheCacheIsBounded() {
    Deduplicator d = new Deduplicator(3, Duration.ofSeconds(60), ticker);
    d.stored(d.admit("a", "ns", "a", T0).entry());
    nanos.addAndGet(TimeUnit.SECONDS.toNanos(61));
    assertThat(d.admit("a", "ns", "a", T0)).isInstanceOf(Deduplicator.First.class);
    for (int i = 0; i < 50; i++) {
      d.admit("k" + i, "ns", "k" + i, T0);
    }
    assertThat(d.size()).isLessThanOrEqualTo(3);
  }

  @Test
  void repeatsOfAnEvictedEntryAreStillFlushed() {
    Deduplicator d = new Deduplicator(1, Duration.ofSeconds(60), ticker);
    Deduplicator.Admission a = d.admit("a", "ns", "a", T0);
    d.stored(a.entry());
    d.admit("a", "ns", "a", T0);
    d.admit("b", "ns", "b", T0); // evicts "a"
    assertThat(d.drainRepeats())
        .singleElement()
        .satisfies(p -> assertThat(p.entry().name()).isEqualTo("a"));
  }

  @Test
  void concurrentSightingsCountExactlyOnce() throws Exception {
    Deduplicator d = new Deduplicator(10_000, Duration.ofSeconds(60), ticker);
    int threads = 4;
    int perThread = 20_000;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    AtomicLong firsts = new AtomicLong();
    for (int t = 0; t < threads; t++) {
      pool.submit(
          () -> {
            go.await();
            for (int i = 0; i < perThread; i++) {
              Deduplicator.Admission a = d.admit("fp" + (i % 10), "ns", "n" + (i % 10), T0);
              if (a instanceof Deduplicator.First) {
                firsts.incrementAndGet();
                d.stored(a.entry());
              }
              if (i % 1000 == 0) {
                d.drainRepeats().forEach(p -> total.addAndGet(p.delta()));
              }
            }
            return null;
          });
    }
    go.countDown();
    pool.shutdown();
    assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    d.drainRepeats().forEach(p -> total.addAndGet(p.delta()));
    assertThat(firsts.get()).isEqualTo(10);
    assertThat(total.get() + firsts.get())
        .as("every sighting counted once")
        .isEqualTo((long) threads * perThread);
  }

  final AtomicLong total = new AtomicLong();
}
