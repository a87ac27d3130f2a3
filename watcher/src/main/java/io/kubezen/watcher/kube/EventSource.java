package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.kubezen.watcher.metrics.Metrics;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The watch of one event-like source (Kubernetes Events) in one namespace scope, resumed from an
 * {@link EventCheckpoint} instead of re-listed, so that Events created (and perhaps expired) while
 * no leader ran are seen:
 *
 * <ul>
 *   <li>with a checkpoint: watch from its resourceVersion (every change after it is replayed);
 *   <li>without one, or when the server answers 410 Gone (the checkpoint or the last seen
 *       resourceVersion is compacted away): list everything, reconcile each Event (idempotent:
 *       deterministic Observation names), then watch from the list's resourceVersion.
 * </ul>
 *
 * <p>Each Event goes to the {@link OriginReconciler}; the position {@link #stored()} reports is the
 * resourceVersion of the latest watch event (or list) whose work, and that of every earlier one,
 * completed normally. Work given up (or dropped on stop) holds the position where it was: a later
 * leader replays from there. resourceVersions are opaque: only "the latest one seen" is used.
 */
final class EventSource implements Feed {
  private static final Logger log = LoggerFactory.getLogger(EventSource.class);
  private static final long FIRST_BACKOFF_MS = 500;
  private static final long MAX_BACKOFF_MS = 30_000;
  private static final long PAGE = 500;

  private final WatchedSource source;
  private final String namespace;
  private final FilterWatchListDeletable<
          GenericKubernetesResource,
          GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      op;
  private final OriginReconciler reconciler;
  private final EventCheckpoint checkpoint;
  private final String key;
  private final ScheduledExecutorService executor;
  private final Metrics metrics;
  private final Clock clock;
  private final Runnable onSynced;
  private final Progress progress = new Progress();
  private final AtomicInteger failures = new AtomicInteger();

  private volatile boolean stopped;
  private volatile boolean synced;
  private volatile Watch watch;
  private volatile String lastSeen;
  private volatile int relists;
  private volatile boolean heldWarned;

  /**
   * @param namespace the watched namespace, or "" for all namespaces (or cluster scope)
   * @param onSynced called when the source has synced (or its sync state may have changed)
   */
  EventSource(
      WatchedSource source,
      String namespace,
      FilterWatchListDeletable<
              GenericKubernetesResource,
              GenericKubernetesResourceList,
              Resource<GenericKubernetesResource>>
          op,
      OriginReconciler reconciler,
      EventCheckpoint checkpoint,
      ScheduledExecutorService executor,
      Metrics metrics,
      Clock clock,
      Runnable onSynced) {
    this.source = Objects.requireNonNull(source, "source");
    this.namespace = namespace == null ? "" : namespace;
    this.op = Objects.requireNonNull(op, "op");
    this.reconciler = Objects.requireNonNull(reconciler, "reconciler");
    this.checkpoint = Objects.requireNonNull(checkpoint, "checkpoint");
    this.key = EventCheckpoint.key(source, this.namespace);
    this.executor = Objects.requireNonNull(executor, "executor");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.onSynced = onSynced == null ? () -> {} : onSynced;
  }

  /** Starts in the background: reads the checkpoint, then resumes or lists. */
  EventSource start() {
    submit(this::begin, 0);
    return this;
  }

  @Override
  public void stop() {
    stopped = true;
    Watch w = watch;
    if (w != null) {
      w.close();
    }
  }

  @Override
  public boolean hasSynced() {
    return synced;
  }

  /** The checkpoint annotation key of this stream. */
  String key() {
    return key;
  }

  /** The resourceVersion up to which every Event seen was stored, or null when not known yet. */
  String stored() {
    return progress.advance();
  }

  /** Records {@link #stored()} in the checkpoint (written by its next flush). */
  void publish() {
    String rv = stored();
    if (rv != null) {
      checkpoint.record(key, rv);
    }
    boolean held = progress.held();
    if (held && !heldWarned && !stopped) {
      log.warn(
          "{}: an Event could not be stored; the checkpoint stays at resourceVersion {} (a new leader replays "
              + "from there) until the next re-list",
          where(),
          rv);
    }
    heldWarned = held;
  }

  /**
   * How many times this stream listed everything (the first list included). For tests and
   * diagnostics.
   */
  int relists() {
    return relists;
  }

  private String where() {
    return source.id() + (namespace.isEmpty() ? "" : " in " + namespace);
  }

  // --- steps, all on the executor ---

  private void begin() {
    String rv;
    try {
      rv = checkpoint.read(key);
    } catch (KubernetesClientException e) {
      failed("reading the checkpoint", e, this::begin);
      return;
    }
    if (rv == null) {
      log.info("{}: no checkpoint; listing every Event", where());
      relist();
    } else {
      log.info("{}: resuming the watch from checkpoint resourceVersion {}", where(), rv);
      progress.resumeAt(rv);
      watchFrom(rv);
    }
  }

  private void relist() {
    if (stopped) {
      return;
    }
    relists++;
    String listRv = null;
    String cont = null;
    List<CompletableFuture<Void>> work = new ArrayList<>();
    progress.restart();
    try {
      do {
        ListOptions o = new ListOptionsBuilder().withLimit(PAGE).withContinue(cont).build();
        GenericKubernetesResourceList page = op.list(o);
        if (listRv == null) {
          listRv = page.getMetadata().getResourceVersion();
        }
        for (GenericKubernetesResource item : page.getItems()) {
          if (stopped) {
            return;
          }
          metrics.sourceWatchLastEvent(source.source(), source.gvr(), clock.instant());
          CompletableFuture<Void> f = reconciler.upserted(source, item);
          work.add(f);
          progress.add(null, f);
        }
        cont = page.getMetadata().getContinue();
      } while (cont != null && !cont.isEmpty());
    } catch (KubernetesClientException e) {
      failed("the list", e, this::relist);
      return;
    }
    progress.add(listRv, CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)));
    log.info(
        "{}: listed {} Events at resourceVersion {}; watching from there",
        where(),
        work.size(),
        listRv);
    watchFrom(listRv);
  }

  private void watchFrom(String rv) {
    if (stopped) {
      return;
    }
    lastSeen = rv;
    ListOptions o =
        new ListOptionsBuilder().withResourceVersion(rv).withAllowWatchBookmarks(true).build();
    Watch w;
    try {
      w = op.watch(o, new EventWatcher());
    } catch (KubernetesClientException e) {
      if (e.getCode() == 410) {
        gone(rv);
      } else {
        failed("the watch", e, () -> watchFrom(lastSeen));
      }
      return;
    }
    watch = w;
    if (stopped) {
      w.close();
      return;
    }
    failures.set(0);
    synced = true;
    onSynced.run();
  }

  private void gone(String rv) {
    metrics.sourceWatchRestart(source.source(), source.gvr());
    log.info(
        "{}: resourceVersion {} is too old (410 Gone); re-listing every Event (nothing is created twice)",
        where(),
        rv);
    relist();
  }

  private void failed(String what, Exception e, Runnable retry) {
    if (stopped) {
      return;
    }
    metrics.sourceWatchRestart(source.source(), source.gvr());
    int n = failures.getAndIncrement();
    long delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS << Math.min(n, 10));
    if (n == 0) {
      log.warn("{}: {} failed; retrying: {}", where(), what, e.toString());
    } else {
      log.debug("{}: {} failed; retrying in {} ms: {}", where(), what, delay, e.toString());
    }
    submit(retry, delay);
  }

  private void submit(Runnable step, long delayMs) {
    if (stopped) {
      return;
    }
    try {
      executor.schedule(
          () -> {
            try {
              step.run();
            } catch (RuntimeException e) {
              failed("a step", e, this::begin);
            }
          },
          delayMs,
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException ignored) {
      // stopping
    }
  }

  private final class EventWatcher implements Watcher<GenericKubernetesResource> {
    @Override
    public void eventReceived(Action action, GenericKubernetesResource obj) {
      if (stopped || obj == null || obj.getMetadata() == null) {
        return;
      }
      String rv = obj.getMetadata().getResourceVersion();
      switch (action) {
        case ADDED, MODIFIED -> {
          metrics.sourceWatchLastEvent(source.source(), source.gvr(), clock.instant());
          progress.add(rv, reconciler.upserted(source, obj));
        }
        case DELETED -> {
          metrics.sourceWatchLastEvent(source.source(), source.gvr(), clock.instant());
          progress.add(rv, reconciler.deleted(source, obj));
        }
        case BOOKMARK -> progress.add(rv, CompletableFuture.completedFuture(null));
        default -> {
          return;
        }
      }
      if (rv != null) {
        lastSeen = rv;
      }
    }

    @Override
    public void onClose(WatcherException cause) {
      if (stopped) {
        return;
      }
      if (cause.isHttpGone()) {
        submit(() -> gone(lastSeen), 0);
      } else {
        failed("the watch", cause, () -> watchFrom(lastSeen));
      }
    }

    @Override
    public void onClose() {
      if (!stopped) {
        // Closed by the server without an error: watch again from where it was.
        submit(() -> watchFrom(lastSeen), FIRST_BACKOFF_MS);
      }
    }
  }

  /**
   * The work started for each watch event, in the order of the watch, and the latest position
   * before which all of it completed normally. A failure holds the position (and stops tracking
   * until the next list: nothing after it could be checkpointed anyway).
   */
  static final class Progress {
    private record Entry(String rv, CompletableFuture<Void> work) {}

    private final ArrayDeque<Entry> queue = new ArrayDeque<>();
    private String stored;
    private boolean held;

    /**
     * Work for one watch event at {@code rv} (null: no position of its own, e.g. a listed item).
     */
    synchronized void add(String rv, CompletableFuture<Void> work) {
      if (held) {
        return;
      }
      queue.add(new Entry(rv, work));
      if (queue.size() > 1024) {
        advanceLocked();
      }
    }

    /** Starting from a checkpoint: that is the position until something later is stored. */
    synchronized void resumeAt(String rv) {
      stored = rv;
    }

    /** A list starts: what it holds supersedes a held failure. */
    synchronized void restart() {
      held = false;
    }

    synchronized String advance() {
      advanceLocked();
      return stored;
    }

    synchronized boolean held() {
      return held;
    }

    private void advanceLocked() {
      while (!queue.isEmpty() && queue.peek().work().isDone()) {
        Entry e = queue.poll();
        if (e.work().isCompletedExceptionally()) {
          held = true;
          queue.clear();
          return;
        }
        if (e.rv() != null) {
          stored = e.rv();
        }
      }
    }
  }
}
