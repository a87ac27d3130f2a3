package io.kubezen.watcher.store.sqlite;

import static io.kubezen.watcher.store.StoreFixtures.falco;
import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.MutableClock;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.WriteOutcome;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteConcurrencyTest {
  @TempDir Path dir;

  @Test
  void readersRunWhileAWriterWritesWithoutBusyErrors() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2024-05-01T12:00:00Z"));
    try (SqliteObservationStore store = SqliteObservationStore.open(dir.resolve("c.db"), clock)) {
      store.createOrMerge(List.of(falco("a", "hot")));
      Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
      AtomicBoolean writing = new AtomicBoolean(true);
      AtomicLong reads = new AtomicLong();
      int readerThreads = 6; // more threads than read connections: they also wait for one another
      CountDownLatch done = new CountDownLatch(readerThreads + 2);

      Thread writer =
          new Thread(
              () -> {
                try {
                  for (int b = 0; b < 40; b++) {
                    List<Observation> batch = new ArrayList<>();
                    for (int i = 0; i < 100; i++) {
                      batch.add(falco("w", "obs-" + b + "-" + i));
                    }
                    store.createOrMerge(batch);
                    store.addRepeats(List.of(new Repeat("a", "hot", 1, clock.instant())));
                  }
                } catch (Throwable t) {
                  errors.add(t);
                } finally {
                  writing.set(false);
                  done.countDown();
                }
              });
      Thread gc =
          new Thread(
              () -> { // a second writer, contending for the write lock
                try {
                  while (writing.get()) {
                    store.deleteExpired(Instant.parse("2024-05-01T12:00:00Z"));
                  }
                } catch (Throwable t) {
                  errors.add(t);
                } finally {
                  done.countDown();
                }
              });
      List<Thread> threads = new ArrayList<>(List.of(writer, gc));
      for (int r = 0; r < readerThreads; r++) {
        threads.add(
            new Thread(
                () -> {
                  try {
                    long lastHot = 0;
                    int lastSize = 0;
                    while (writing.get()) {
                      long hot = store.get("a", "hot").orElseThrow().getStatus().count();
                      assertThat(hot)
                          .isGreaterThanOrEqualTo(lastHot); // never goes back: committed data only
                      lastHot = hot;
                      ObservationPage page =
                          store.list(new ObservationQuery(null, null, null, "w", null, 1000, null));
                      assertThat(page.items().size() % 100)
                          .isZero(); // a batch is visible whole or not at all
                      assertThat(page.items().size()).isGreaterThanOrEqualTo(lastSize);
                      lastSize = page.items().size();
                      assertThat(store.isReachable()).isTrue();
                      reads.addAndGet(3);
                    }
                  } catch (Throwable t) {
                    errors.add(t);
                  } finally {
                    done.countDown();
                  }
                }));
      }
      threads.forEach(Thread::start);
      assertThat(done.await(120, TimeUnit.SECONDS)).isTrue();

      assertThat(errors).isEmpty();
      assertThat(reads.get()).isPositive();
      assertThat(store.get("a", "hot").orElseThrow().getStatus().count()).isEqualTo(41L);
      assertThat(
              store
                  .list(new ObservationQuery(null, null, null, "w", null, 1000, null))
                  .continueToken())
          .isNotNull();
    }
  }

  /** Not an assertion: prints how fast batches of 500 new Observations are stored. */
  @Test
  void throughputOfBatchedCreates() {
    MutableClock clock = new MutableClock(Instant.parse("2024-05-01T12:00:00Z"));
    try (SqliteObservationStore store = SqliteObservationStore.open(dir.resolve("t.db"), clock)) {
      int batches = 40;
      int size = 500;
      List<List<Observation>> prepared = new ArrayList<>();
      for (int b = 0; b < batches; b++) {
        List<Observation> batch = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
          batch.add(falco("ns-" + (i % 7), "falco-" + b + "-" + i));
        }
        prepared.add(batch);
      }
      store.createOrMerge(prepared.get(0)); // warm-up
      long start = System.nanoTime();
      for (int b = 1; b < batches; b++) {
        assertThat(store.createOrMerge(prepared.get(b))).containsOnly(WriteOutcome.CREATED);
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long creates = (long) (batches - 1) * size;

      start = System.nanoTime();
      for (int b = 1; b < batches; b++) {
        store.createOrMerge(prepared.get(b));
      }
      double mergeSeconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          "SQLite store: %d creates in batches of %d: %.0f creates/s; merges: %.0f merges/s%n",
          creates, size, creates / seconds, creates / mergeSeconds);
    }
  }
}
