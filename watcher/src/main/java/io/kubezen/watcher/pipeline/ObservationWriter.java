package io.kubezen.watcher.pipeline;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.PartialWriteException;
import io.kubezen.watcher.store.WriteOutcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one path to the store. New Observations queue here (bounded: a full queue refuses the whole
 * request, which is answered 503) and are written in batches by one thread; every flush interval the
 * same thread writes the repeats the {@link Deduplicator} collected, one update per Observation.
 * Resolving the Observations of a watched object ({@link #resolveOrigin}) is queued the same way and
 * run by the same thread, after the creates queued before it.
 * Closing drains the queue and flushes the repeats before it returns.
 */
public final class ObservationWriter implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ObservationWriter.class);

  /**
   * One Observation to create, and who waits for the result. When it exists already it is merged
   * (a sighting: {@link ObservationStore#createOrMerge}) or, for reconciling a watched source, left
   * alone ({@link ObservationStore#createIfAbsent}).
   */
  public record Create(Observation observation, boolean mergeIfExists, CompletableFuture<WriteOutcome> result) {
    public static Create of(Observation observation) {
      return new Create(observation, true, new CompletableFuture<>());
    }

    public static Create ifAbsent(Observation observation) {
      return new Create(observation, false, new CompletableFuture<>());
    }
  }

  /**
   * Resolve the unresolved Observations of one watched object ({@code originUid}) whose keys are not
   * in {@code keep}: what a state-like source does when findings left their object (or the object
   * was deleted: {@code keep} empty). Executed by the writer thread, after the creates queued before
   * it; {@code result} completes with the number of Observations resolved.
   */
  public record Resolve(String originUid, java.util.Set<io.kubezen.watcher.store.ObservationKey> keep,
      java.time.Instant at, CompletableFuture<Integer> result) {
    public Resolve {
      java.util.Objects.requireNonNull(originUid, "originUid");
      keep = java.util.Set.copyOf(keep);
      java.util.Objects.requireNonNull(at, "at");
      java.util.Objects.requireNonNull(result, "result");
    }
  }

  /** The write queue is full: answer 503 and let the sender retry. */
  public static final class OverloadedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OverloadedException(String message) {
      super(message, null, false, false);
    }
  }

  /** A queued create (and whether it holds one permit of the queue's room), or a queued resolve. */
  private record Queued(Create create, boolean holdsPermit, Resolve resolve) {
    Queued(Create create, boolean holdsPermit) {
      this(create, holdsPermit, null);
    }
  }


  private final ObservationStore store;
  private final Deduplicator dedup;
  private final Metrics metrics;
  private final int capacity;
  private final int batchSize;
  private final long flushNanos;
  private final LinkedBlockingQueue<Queued> queue = new LinkedBlockingQueue<>();
  private final Semaphore room;
  private final AtomicBoolean accepting = new AtomicBoolean(true);
  private final Thread thread;
  private volatile boolean running = true;
  /** Durable repeats (group commit): those waiting complete with the next flush; see {@link #repeatCommitted()}. */
  private final boolean durableRepeats;
  private final java.util.concurrent.atomic.AtomicReference<CompletableFuture<Void>> nextRepeatFlush =
      new java.util.concurrent.atomic.AtomicReference<>(new CompletableFuture<>());
  private final AtomicBoolean repeatFlushWanted = new AtomicBoolean();
  /** Put in the queue to wake the thread at once: for a group commit of repeats, or to close. */
  private static final Queued WAKE = new Queued(null, false);

  public ObservationWriter(ObservationStore store, Deduplicator dedup, Metrics metrics, int capacity, int batchSize,
      Duration flushInterval) {
    this.store = store;
    this.dedup = dedup;
    this.metrics = metrics;
    this.capacity = capacity;
    this.batchSize = batchSize;
    this.flushNanos = flushInterval.toNanos();
    this.room = new Semaphore(capacity);
    this.durableRepeats = store.durableRepeats();
    this.thread = new Thread(this::run, "observation-writer");
    this.thread.setDaemon(true);
  }

  public ObservationWriter start() {
    thread.start();
    return this;
  }

  /**
   * For a repeat already counted in the {@link Deduplicator} (its first sighting stored): completes
   * once the count is committed. With a store of {@link ObservationStore#durableRepeats() durable
   * repeats} the writer flushes at once, every repeat waiting in one transaction (group commit);
   * otherwise it completes now and the count is written at the next flush interval.
   */
  public CompletableFuture<Void> repeatCommitted() {
    if (!durableRepeats) {
      return CompletableFuture.completedFuture(null);
    }
    if (!accepting.get() && !thread.isAlive()) {
      return CompletableFuture.failedFuture(new OverloadedException("shutting down"));
    }
    CompletableFuture<Void> f = nextRepeatFlush.get();
    if (repeatFlushWanted.compareAndSet(false, true)) {
      queue.add(WAKE);
    }
    return f;
  }

  /** Whether repeats are committed before the answer. */
  public boolean durableRepeats() {
    return durableRepeats;
  }

  /** Creates waiting to be written. */
  public int queued() {
    return queue.size();
  }

  /**
   * Queues all of {@code creates}, or none of them.
   *
   * @throws OverloadedException when the queue has no room for them, or the writer is closing
   */
  public void submit(List<Create> creates) {
    if (creates.isEmpty()) {
      return;
    }
    if (!accepting.get()) {
      throw new OverloadedException("shutting down");
    }
    // A single request larger than the whole queue is let through when the queue is empty, so that
    // a large report is never refused forever; the body size limit bounds it.
    int permits = Math.min(creates.size(), capacity);
    if (!room.tryAcquire(permits)) {
      throw new OverloadedException("the write queue is full (" + capacity + " Observations waiting)");
    }
    for (int i = 0; i < creates.size(); i++) {
      queue.add(new Queued(creates.get(i), i < permits));
    }
  }

  /**
   * Queues a resolve of the Observations of {@code originUid} not in {@code keep} (see {@link
   * Resolve}). It takes no room of the queue's capacity (one per watched object in flight, so
   * bounded by the reconcilers): a full queue of creates never refuses a resolve.
   *
   * @return completes with the number resolved, or exceptionally when the store failed or the
   *     writer closed first ({@link OverloadedException})
   * @throws OverloadedException when the writer is closing
   */
  public CompletableFuture<Integer> resolveOrigin(String originUid,
      java.util.Set<io.kubezen.watcher.store.ObservationKey> keep, java.time.Instant at) {
    if (!accepting.get()) {
      throw new OverloadedException("shutting down");
    }
    Resolve r = new Resolve(originUid, keep, at, new CompletableFuture<>());
    queue.add(new Queued(null, false, r));
    return r.result();
  }

  /**
   * The unresolved Observations of one watched object, read from the store (a read: not queued).
   * What a warm standby compares its digests with.
   */
  public List<io.kubezen.watcher.store.ObservationKey> openKeys(String originUid) {
    List<io.kubezen.watcher.store.ObservationKey> out = new ArrayList<>();
    for (Observation o : store.listByOrigin(originUid)) {
      if (o.getStatus() == null || !Boolean.TRUE.equals(o.getStatus().resolved())) {
        out.add(new io.kubezen.watcher.store.ObservationKey(o.getMetadata().getNamespace(), o.getMetadata().getName()));
      }
    }
    return out;
  }

  private void run() {
    long nextFlush = System.nanoTime() + flushNanos;
    List<Queued> batch = new ArrayList<>(batchSize);
    while (running || !queue.isEmpty()) {
      try {
        long wait = Math.max(0, nextFlush - System.nanoTime());
        Queued first = queue.poll(wait, TimeUnit.NANOSECONDS);
        if (first != null) {
          batch.add(first);
          queue.drainTo(batch, batchSize - 1);
          batch.removeIf(q -> q == WAKE);
          if (!batch.isEmpty()) {
            write(batch);
          }
          batch.clear();
        }
        if (repeatFlushWanted.get() || System.nanoTime() - nextFlush >= 0) {
          flushRepeats();
          nextFlush = System.nanoTime() + flushNanos;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException e) {
        log.error("writer loop error", e);
      }
    }
  }

  private void write(List<Queued> batch) {
    List<Create> merge = new ArrayList<>(batch.size());
    List<Create> ifAbsent = new ArrayList<>();
    List<Resolve> resolves = new ArrayList<>();
    for (Queued q : batch) {
      if (q.resolve() != null) {
        resolves.add(q.resolve());
        continue;
      }
      (q.create().mergeIfExists() ? merge : ifAbsent).add(q.create());
      if (q.holdsPermit()) {
        room.release();
      }
    }
    write(merge, true);
    write(ifAbsent, false);
    for (Resolve r : resolves) {
      resolve(r);
    }
  }

  private void resolve(Resolve r) {
    try {
      List<io.kubezen.watcher.store.ObservationKey> gone = new ArrayList<>();
      for (io.kubezen.watcher.store.ObservationKey k : openKeys(r.originUid())) {
        if (!r.keep().contains(k)) {
          gone.add(k);
        }
      }
      int resolved = 0;
      if (!gone.isEmpty()) {
        long start = System.nanoTime();
        for (WriteOutcome o : store.resolve(gone, r.at())) {
          if (o != WriteOutcome.MISSING) {
            resolved++;
          }
        }
        metrics.writeBatch().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      }
      r.result().complete(resolved);
    } catch (RuntimeException e) {
      log.warn("could not resolve the Observations of {}: {}", r.originUid(), e.toString());
      r.result().completeExceptionally(e);
    }
  }

  private void write(List<Create> creates, boolean mergeIfExists) {
    if (creates.isEmpty()) {
      return;
    }
    List<Observation> observations = new ArrayList<>(creates.size());
    for (Create c : creates) {
      observations.add(c.observation());
    }
    long start = System.nanoTime();
    try {
      List<WriteOutcome> outcomes = mergeIfExists ? store.createOrMerge(observations)
          : store.createIfAbsent(observations);
      metrics.writeBatch().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      for (int i = 0; i < creates.size(); i++) {
        creates.get(i).result().complete(outcomes.get(i));
      }
    } catch (PartialWriteException e) {
      // Some were written: acknowledge those, fail only the others (their senders retry them).
      log.warn("could not store {} of {} Observations: {}", e.failed(), creates.size(), e.getMessage());
      for (int i = 0; i < creates.size(); i++) {
        WriteOutcome o = e.outcomes().get(i);
        if (o != null) {
          creates.get(i).result().complete(o);
        } else {
          creates.get(i).result().completeExceptionally(e.causeOf(i));
        }
      }
    } catch (RuntimeException e) {
      log.warn("could not store {} Observations: {}", creates.size(), e.toString());
      for (Create c : creates) {
        c.result().completeExceptionally(e);
      }
    }
  }

  /** Writes the collected repeats now. Called by the writer thread; public for tests. */
  void flushRepeats() {
    // Those waiting for a group commit took this future before their count was drained below.
    repeatFlushWanted.set(false);
    CompletableFuture<Void> committed = nextRepeatFlush.getAndSet(new CompletableFuture<>());
    try {
      flushRepeatsNow();
      committed.complete(null);
    } catch (RuntimeException e) {
      committed.completeExceptionally(e);
    }
  }

  private void flushRepeatsNow() {
    List<Deduplicator.Pending> pending = dedup.drainRepeats();
    if (pending.isEmpty()) {
      return;
    }
    List<io.kubezen.watcher.store.Repeat> repeats = new ArrayList<>(pending.size());
    for (Deduplicator.Pending p : pending) {
      repeats.add(p.toRepeat());
    }
    long start = System.nanoTime();
    try {
      List<WriteOutcome> outcomes = store.addRepeats(repeats);
      metrics.writeBatch().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      long missing = outcomes.stream().filter(o -> o == WriteOutcome.MISSING).count();
      if (missing > 0) {
        log.debug("{} Observations with repeats no longer exist (collected or deleted)", missing);
      }
    } catch (PartialWriteException e) {
      // Give back only the repeats that were not written, so that nothing is counted twice.
      List<Deduplicator.Pending> failed = new ArrayList<>();
      for (int i = 0; i < pending.size(); i++) {
        if (e.outcomes().get(i) == null) {
          failed.add(pending.get(i));
        }
      }
      log.warn("could not flush repeats of {} of {} Observations, will retry: {}", failed.size(), pending.size(),
          e.getMessage());
      dedup.restore(failed);
      throw e;
    } catch (RuntimeException e) {
      log.warn("could not flush repeats of {} Observations, will retry: {}", pending.size(), e.toString());
      dedup.restore(pending);
      throw e;
    }
  }

  /** Stops taking new work, writes everything queued, flushes the repeats, and returns within {@code timeout}. */
  public void close(Duration timeout) {
    accepting.set(false);
    running = false;
    queue.add(WAKE);
    try {
      thread.join(timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      log.warn("the writer did not finish within {}; {} Observations still queued", timeout, queue.size());
      thread.interrupt();
      return;
    }
    flushRepeats();
    // A submit that raced with close may have queued after the thread left: fail it, don't hang it.
    for (Queued q; (q = queue.poll()) != null; ) {
      if (q == WAKE) {
        continue;
      }
      (q.resolve() != null ? q.resolve().result() : q.create().result())
          .completeExceptionally(new OverloadedException("shutting down"));
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(20));
  }
}
