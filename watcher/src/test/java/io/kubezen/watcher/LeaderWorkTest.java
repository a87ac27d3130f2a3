package io.kubezen.watcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.kube.SourceManager;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Terms of leader work do not overlap inside one replica. */
class LeaderWorkTest {
  @TempDir Path dir;

  /** Records the calls; its step-down blocks until released (an API server that answers late). */
  static final class SlowSources implements LeaderWork.Sources {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final CountDownLatch release = new CountDownLatch(1);

    @Override
    public void lead(Consumer<SourceManager.CatchUp> caughtUp) {
      calls.add("lead");
    }

    @Override
    public void halt() {
      calls.add("halt");
    }

    @Override
    public void stepDown() {
      calls.add("stepDown started");
      try {
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      calls.add("stepDown done");
    }
  }

  @Test
  void leadingAgainWaitsForThePreviousTermToStepDown() throws Exception {
    try (SqliteObservationStore store =
        SqliteObservationStore.open(dir.resolve("o.db"), Clock.systemUTC())) {
      Metrics metrics = Metrics.prometheus(Sources.standard().builtInNames());
      GarbageCollector gc =
          new GarbageCollector(store, Clock.systemUTC(), metrics, Duration.ofHours(1), Set::of);
      SlowSources sources = new SlowSources();
      LeaderWork work = new LeaderWork(sources, gc, metrics, "test");
      work.start();
      // The Lease lost: fenced at once; the step-down outlives the stop's timeout.
      work.stop("lease lost", Duration.ofMillis(100));
      assertThat(work.leading()).isFalse();
      assertThat(sources.calls).containsExactly("lead", "halt", "stepDown started");

      // The Lease won again while the old term still steps down: the new term waits for it.
      Thread again = new Thread(work::start);
      again.start();
      again.join(500);
      assertThat(again.isAlive()).isTrue();
      assertThat(sources.calls).containsExactly("lead", "halt", "stepDown started");

      sources.release.countDown();
      again.join(5000);
      assertThat(work.leading()).isTrue();
      assertThat(sources.calls)
          .containsExactly("lead", "halt", "stepDown started", "stepDown done", "lead");
      work.stop("test over", Duration.ofSeconds(5));
      gc.cancel();
    }
  }
}
