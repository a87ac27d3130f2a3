package io.kubezen.watcher;

import static net.logstash.logback.argument.StructuredArguments.kv;

import io.kubezen.watcher.metrics.Metrics;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The work only one replica does: the watched sources and informer Ingesters (Kubernetes mode) and
 * the garbage collector. The Lease elector (or, without election, the start) starts it; losing the
 * Lease or shutting down stops it.
 */
final class LeaderWork {
  /** Logged as ZenWatcher, as before this class was split out of it (log queries keep working). */
  private static final Logger log = LoggerFactory.getLogger(ZenWatcher.class);

  /** What the leader runs in Kubernetes mode ({@link KubernetesSources}). */
  interface Sources {
    /** Becoming leader; {@code caughtUp} hears of the catch-up. */
    void lead(java.util.function.Consumer<io.kubezen.watcher.kube.SourceManager.CatchUp> caughtUp);

    /** Fences at once: nothing new starts. */
    void halt();

    /** No longer leader (may block on a dead API server). */
    void stepDown();
  }

  /** Null outside Kubernetes mode. */
  private final Sources sources;

  private final GarbageCollector gc;
  private final Metrics metrics;
  private final String identity;
  private volatile boolean leading;
  // The step-down of the last term (null before the first stop).
  private Thread stopper;
  static final Duration STEP_DOWN_WAIT = Duration.ofSeconds(15);

  LeaderWork(Sources sources, GarbageCollector gc, Metrics metrics, String identity) {
    this.sources = sources;
    this.gc = gc;
    this.metrics = metrics;
    this.identity = identity;
  }

  /** True while this replica runs the leader-only work. */
  boolean leading() {
    return leading;
  }

  /**
   * Starts it (no-op when running). A previous term still stepping down (its work draining, on the
   * stopper thread) is waited for first, up to {@link #STEP_DOWN_WAIT}: otherwise that step-down
   * could fence or stop this new term's sources.
   */
  synchronized void start() {
    if (leading) {
      return;
    }
    Thread previous = stopper;
    if (previous != null && previous.isAlive()) {
      try {
        previous.join(STEP_DOWN_WAIT.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (previous.isAlive()) {
        log.warn(
            "the previous term's sources have not stepped down within {} ms; leading anyway",
            STEP_DOWN_WAIT.toMillis());
      }
    }
    leading = true;
    log.info("leader work started {}", kv("identity", identity));
    if (sources != null) {
      sources.lead(
          c -> {
            metrics.catchUp(c.took(), c.created());
            log.info(
                "catch-up done {} {} {}",
                kv("identity", identity),
                kv("catchupMillis", c.took().toMillis()),
                kv("created", c.created()));
          });
    }
    gc.schedule();
  }

  /**
   * Stops it within {@code timeout}; the replica keeps serving webhooks. The watched sources are
   * fenced first (their informer events are ignored and no new store work starts, at once), then
   * stepped down on another thread, waited for up to {@code timeout}: an informer that hangs on a
   * dead API server stops in the background but writes nothing more. {@code leader work stopped} is
   * logged when that is so.
   */
  void stop(String reason, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Thread stopper;
    synchronized (this) {
      if (!leading) {
        return;
      }
      leading = false;
      if (sources != null) {
        sources.halt();
      }
      gc.cancel();
      // Running and known before the lock is released, so that a next start() waits for it.
      stopper =
          new Thread(
              () -> {
                if (sources != null) {
                  sources.stepDown();
                }
              },
              "leader-work-stop");
      stopper.setDaemon(true);
      this.stopper = stopper;
      stopper.start();
    }
    try {
      stopper.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (stopper.isAlive()) {
      log.warn(
          "leader work did not stop within {} ms; the watched sources are fenced and stop in the background",
          timeout.toMillis());
    }
    log.info("leader work stopped {} {}", kv("identity", identity), kv("reason", reason));
  }
}
