package io.kubezen.watcher;

import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationStore;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes expired Observations every {@code GC_INTERVAL_MINUTES} (the first sweep after at most a
 * minute) while scheduled: the leader schedules it, a follower cancels it.
 */
final class GarbageCollector implements AutoCloseable {
  /** Logged as ZenWatcher, as before this class was split out of it (log queries keep working). */
  private static final Logger log = LoggerFactory.getLogger(ZenWatcher.class);

  private final ObservationStore store;
  private final Clock clock;
  private final Metrics metrics;
  private final Duration interval;

  /**
   * The sources whose open Observations live as long as their finding is reported (TTL from
   * resolvedAt).
   */
  private final Supplier<Set<String>> stateLikeSources;

  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "observation-gc");
            t.setDaemon(true);
            return t;
          });
  private ScheduledFuture<?> task;

  GarbageCollector(
      ObservationStore store,
      Clock clock,
      Metrics metrics,
      Duration interval,
      Supplier<Set<String>> stateLikeSources) {
    this.store = store;
    this.clock = clock;
    this.metrics = metrics;
    this.interval = interval;
    this.stateLikeSources = stateLikeSources;
  }

  synchronized void schedule() {
    long millis = interval.toMillis();
    task =
        executor.scheduleWithFixedDelay(
            this::collect, Math.min(millis, 60_000), millis, TimeUnit.MILLISECONDS);
  }

  /** Cancels the schedule, interrupting a sweep under way. */
  synchronized void cancel() {
    if (task != null) {
      task.cancel(true);
      task = null;
    }
  }

  /** One TTL sweep; a failure is logged and counted. */
  GcResult collect() {
    try {
      GcResult r = store.deleteExpired(clock.instant(), stateLikeSources.get());
      metrics.gcDeleted(r.deleted());
      metrics.gcErrors(r.errors());
      if (r.deleted() > 0 || r.errors() > 0) {
        log.info(
            "garbage collection deleted {} expired Observations ({} errors)",
            r.deleted(),
            r.errors());
      }
      return r;
    } catch (RuntimeException e) {
      metrics.gcErrors(1);
      log.warn("garbage collection failed: {}", e.toString());
      return new GcResult(0, 1);
    }
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
