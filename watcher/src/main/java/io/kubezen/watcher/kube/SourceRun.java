package io.kubezen.watcher.kube;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one {@link SourceManager#start} (or {@link SourceManager#standby}) brought up; dropped by
 * {@link SourceManager#stop}: the reconciler, the leading and fencing flags, the warm standby's
 * digests, the timer thread, the event streams and their checkpoint, the namespace selection.
 */
final class SourceRun {
  private static final Logger log = LoggerFactory.getLogger(SourceRun.class);

  /** Replaced on each promotion (a halted reconciler cannot be reused). */
  volatile OriginReconciler reconciler;

  /**
   * True while this replica leads: events are reconciled; false in warm standby: only remembered.
   */
  volatile boolean active;

  /**
   * True from becoming leader until demoted or stopped (a halt fences, but the term lasts until
   * then).
   */
  volatile boolean leading;

  volatile boolean stopped;

  /** When this run started leading: the catch-up's start. */
  volatile long startedNanos = System.nanoTime();

  volatile CompletableFuture<SourceManager.CatchUp> caughtUp = new CompletableFuture<>();

  /** What each watched object's findings map to, for the catch-up of a warm standby. */
  final WarmStandby standby;

  /** The CRD checks, the caught-up check and the checkpoint timer. */
  final ScheduledExecutorService timer = daemon("source-crd-check");

  /** Null without a checkpoint. */
  final EventCheckpoint checkpoint;

  final ScheduledExecutorService eventExecutor = daemon("event-source");
  final Set<EventSource> eventSources = ConcurrentHashMap.newKeySet();

  /** Null without a namespace selector; set once, right after construction. */
  volatile NamespaceSelection namespaces;

  SourceRun(WarmStandby standby, EventCheckpoint checkpoint, boolean active) {
    this.standby = standby;
    this.checkpoint = checkpoint;
    this.active = active;
    this.leading = active;
  }

  /** Whether the namespace selection is known (true without a selector). */
  boolean namespacesSynced() {
    return namespaces == null || namespaces.synced();
  }

  /** The namespaces the selector chose now (none without a selector). */
  Set<String> selectedNamespaces() {
    return namespaces == null ? Set.of() : namespaces.selected();
  }

  /** Fences at once: informer events are ignored and no new store work starts. */
  void halt() {
    active = false;
    reconciler.halt();
  }

  /**
   * Records every event stream's stored position and writes the checkpoint (a failure is retried
   * next time).
   */
  void writeCheckpoint(boolean last) {
    if (!active && !last) {
      return; // only the leader's event streams have positions to record
    }
    try {
      for (EventSource es : eventSources) {
        es.publish();
      }
      checkpoint.flush();
    } catch (RuntimeException e) {
      log.warn(
          "cannot write the events checkpoint {}/{} (retried): {}",
          checkpoint.namespace(),
          checkpoint.name(),
          e.toString());
    }
  }

  /**
   * Marks the run stopped and stops its timer and the namespace informer (the feeds are stopped
   * next).
   */
  void stopTimers() {
    stopped = true;
    timer.shutdownNow();
    if (namespaces != null) {
      namespaces.stop();
    }
  }

  /**
   * After the feeds: the event streams' thread, then the reconciles under way (waited for briefly).
   */
  void stopWork() {
    eventExecutor.shutdownNow();
    reconciler.close(Duration.ofSeconds(10));
  }

  private static ScheduledExecutorService daemon(String name) {
    return Executors.newSingleThreadScheduledExecutor(
        r -> {
          Thread t = new Thread(r, name);
          t.setDaemon(true);
          return t;
        });
  }
}
