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
 * request, which is answered 503). A dispatcher thread forms write units from the queue (a batch of
 * up to {@code batchSize} creates of one kind, one resolve of a watched object's vanished findings,
 * or the repeats the {@link Deduplicator} collected, flushed every flush interval, one update per
 * Observation) and keeps up to {@link ObservationStore#writeConcurrency()} of them in flight, each
 * on a thread of its own, so that the store is never idle while the slowest items of one batch
 * finish.
 *
 * <p>Ordering: two units in flight never write the same Observation; a write of an Observation
 * being written waits (in queue order) until that unit is done. A resolve of a watched object
 * ({@link #resolveOrigin}) runs after every create of that object queued before it, and no create
 * of that object queued after it overtakes it. Writes of different Observations may complete out of
 * queue order. Every create's future completes only once the store has answered for it
 * (acknowledged = stored). Closing stops taking work, writes everything queued and flushes the
 * repeats before it returns.
 */
public final class ObservationWriter implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ObservationWriter.class);

  /**
   * One Observation to create, and who waits for the result. When it exists already it is merged (a
   * sighting: {@link ObservationStore#createOrMerge}) or, for reconciling a watched source, left
   * alone ({@link ObservationStore#createIfAbsent}).
   */
  public record Create(
      Observation observation, boolean mergeIfExists, CompletableFuture<WriteOutcome> result) {
    public static Create of(Observation observation) {
      return new Create(observation, true, new CompletableFuture<>());
    }

    public static Create ifAbsent(Observation observation) {
      return new Create(observation, false, new CompletableFuture<>());
    }
  }

  /**
   * Resolve the unresolved Observations of one watched object ({@code originUid}) whose keys are
   * not in {@code keep}: what a state-like source does when findings left their object (or the
   * object was deleted: {@code keep} empty). Executed by the writer thread, after the creates
   * queued before it; {@code result} completes with the number of Observations resolved.
   */
  public record Resolve(
      String originUid,
      java.util.Set<io.kubezen.watcher.store.ObservationKey> keep,
      java.time.Instant at,
      CompletableFuture<Integer> result) {
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

  /** What the dispatcher thread takes from its queue. */
  private sealed interface Item permits Queued, Done, Wake {}

  /** A queued create (and whether it holds one permit of the queue's room), or a queued resolve. */
  private record Queued(Create create, boolean holdsPermit, Resolve resolve) implements Item {
    Queued(Create create, boolean holdsPermit) {
      this(create, holdsPermit, null);
    }
  }

  /**
   * A write unit finished: its tokens are free again ({@code flush}: it was a flush of repeats).
   */
  private record Done(Tokens tokens, boolean flush) implements Item {}

  /** Wakes the dispatcher at once: for a group commit of repeats, or to close. */
  private enum Wake implements Item {
    WAKE
  }

  /**
   * What one write unit holds while it runs, so that no other unit writes the same Observation at
   * the same time: the keys ({@code namespace/name}) it writes, exclusively; the origin uids of its
   * creates, shared (creates of one watched object may run in several units at once); the origin of
   * a resolve, exclusively (it runs after every create of that object queued before it, and none of
   * that object's creates queued after it overtakes it).
   */
  private record Tokens(List<String> keys, List<String> sharedOrigins, String exclusiveOrigin) {
    static final Tokens NONE = new Tokens(List.of(), List.of(), null);
  }

  private final ObservationStore store;
  private final Deduplicator dedup;
  private final Metrics metrics;
  private final int capacity;
  private final int batchSize;
  private final long flushNanos;

  /** Write units (store calls) in flight at most: what the store says it takes at once. */
  private final int concurrency;

  private final LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
  private final Semaphore room;
  private final AtomicBoolean accepting = new AtomicBoolean(true);

  /** Creates and resolves submitted and not yet handed to a unit. */
  private final java.util.concurrent.atomic.AtomicInteger waiting =
      new java.util.concurrent.atomic.AtomicInteger();

  private final Thread thread;
  private final java.util.concurrent.ExecutorService unitThreads;
  private volatile boolean running = true;

  /**
   * Durable repeats (group commit): those waiting complete with the next flush; see {@link
   * #repeatCommitted()}.
   */
  private final boolean durableRepeats;

  private final java.util.concurrent.atomic.AtomicReference<CompletableFuture<Void>>
      nextRepeatFlush =
          new java.util.concurrent.atomic.AtomicReference<>(new CompletableFuture<>());
  private final AtomicBoolean repeatFlushWanted = new AtomicBoolean();

  // The dispatcher thread's own state (no other thread touches it).
  private final java.util.ArrayDeque<Queued> pending = new java.util.ArrayDeque<>();
  private final java.util.Set<String> busyKeys = new java.util.HashSet<>();
  private final java.util.Map<String, Integer> busySharedOrigins = new java.util.HashMap<>();
  private final java.util.Set<String> busyExclusiveOrigins = new java.util.HashSet<>();
  private int inFlight;
  private boolean flushInFlight;

  public ObservationWriter(
      ObservationStore store,
      Deduplicator dedup,
      Metrics metrics,
      int capacity,
      int batchSize,
      Duration flushInterval) {
    this.store = store;
    this.dedup = dedup;
    this.metrics = metrics;
    this.capacity = capacity;
    this.batchSize = batchSize;
    this.flushNanos = flushInterval.toNanos();
    this.room = new Semaphore(capacity);
    this.durableRepeats = store.durableRepeats();
    this.concurrency = Math.max(1, store.writeConcurrency());
    this.thread = new Thread(this::run, "observation-writer");
    this.thread.setDaemon(true);
    java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
    this.unitThreads =
        java.util.concurrent.Executors.newFixedThreadPool(
            concurrency,
            r -> {
              Thread t = new Thread(r, "observation-writer-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  public ObservationWriter start() {
    thread.start();
    return this;
  }

  /** Write units (batches handed to the store) this writer keeps in flight at most. */
  public int concurrency() {
    return concurrency;
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
      queue.add(Wake.WAKE);
    }
    return f;
  }

  /** Whether repeats are committed before the answer. */
  public boolean durableRepeats() {
    return durableRepeats;
  }

  /** Places for creates left in the queue (of {@link #capacity()}); none once closing. */
  public int room() {
    return accepting.get() ? room.availablePermits() : 0;
  }

  /** How many creates the queue holds at most. */
  public int capacity() {
    return capacity;
  }

  /** Creates and resolves waiting to be written (not yet handed to the store). */
  public int queued() {
    return waiting.get();
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
      throw new OverloadedException(
          "the write queue is full (" + capacity + " Observations waiting)");
    }
    waiting.addAndGet(creates.size());
    for (int i = 0; i < creates.size(); i++) {
      queue.add(new Queued(creates.get(i), i < permits));
    }
  }

  /**
   * Queues a resolve of the Observations of {@code originUid} not in {@code keep} (see {@link
   * Resolve}). It takes no room of the queue's capacity (one per watched object in flight, so
   * bounded by the reconcilers): a full queue of creates never refuses a resolve. It runs after
   * every create of the same object queued before it.
   *
   * @return completes with the number resolved, or exceptionally when the store failed or the
   *     writer closed first ({@link OverloadedException})
   * @throws OverloadedException when the writer is closing
   */
  public CompletableFuture<Integer> resolveOrigin(
      String originUid,
      java.util.Set<io.kubezen.watcher.store.ObservationKey> keep,
      java.time.Instant at) {
    if (!accepting.get()) {
      throw new OverloadedException("shutting down");
    }
    Resolve r = new Resolve(originUid, keep, at, new CompletableFuture<>());
    waiting.incrementAndGet();
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
        out.add(
            new io.kubezen.watcher.store.ObservationKey(
                o.getMetadata().getNamespace(), o.getMetadata().getName()));
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- the dispatcher

  /**
   * The dispatcher: takes what is queued, forms write units (a batch of creates of one kind, up to
   * {@code batchSize}; one resolve; the repeats of a flush) and runs up to {@link #concurrency} of
   * them at once on the unit threads. A unit never writes an Observation another unit in flight
   * writes ({@link Tokens}); what would is held back, in order, until that unit is done. Exits once
   * closed and everything queued is written.
   */
  private void run() {
    long nextFlush = System.nanoTime() + flushNanos;
    List<Item> got = new ArrayList<>();
    while (running || !queue.isEmpty() || !pending.isEmpty() || inFlight > 0) {
      try {
        boolean flushDue = repeatFlushWanted.get() || System.nanoTime() - nextFlush >= 0;
        long wait =
            flushDue ? TimeUnit.SECONDS.toNanos(1) : Math.max(0, nextFlush - System.nanoTime());
        Item first = queue.poll(wait, TimeUnit.NANOSECONDS);
        if (first != null) {
          got.add(first);
          queue.drainTo(got);
          for (Item item : got) {
            if (item instanceof Queued q) {
              pending.add(q);
            } else if (item instanceof Done d) {
              release(d.tokens());
              if (d.flush()) {
                flushInFlight = false;
              }
            }
          }
          got.clear();
        }
        if ((repeatFlushWanted.get() || System.nanoTime() - nextFlush >= 0)
            && !flushInFlight
            && inFlight < concurrency) {
          startFlush();
          nextFlush = System.nanoTime() + flushNanos;
        }
        dispatch();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException e) {
        log.error("writer loop error", e);
      }
    }
  }

  /** Starts units while there are free slots and work that may run now. */
  private void dispatch() {
    while (inFlight < concurrency && !pending.isEmpty()) {
      if (!startUnit()) {
        return;
      }
    }
  }

  /** How far into the held-back work the dispatcher looks for something it may start. */
  private int scanLimit() {
    return Math.max(batchSize * 4, 64);
  }

  private static String originOf(Create c) {
    Observation o = c.observation();
    return o.getMetadata() == null || o.getMetadata().getLabels() == null
        ? null
        : o.getMetadata().getLabels().get(Observation.LABEL_ORIGIN_UID);
  }

  private static String keyOf(Create c) {
    return c.observation().getMetadata().getNamespace()
        + "/"
        + c.observation().getMetadata().getName();
  }

  /** Forms one unit from the pending work and starts it; false when nothing may start now. */
  private boolean startUnit() {
    // Tokens of the work held back so far: what comes after it must not overtake it.
    java.util.Set<String> heldKeys = new java.util.HashSet<>();
    java.util.Set<String> heldCreateOrigins = new java.util.HashSet<>();
    java.util.Set<String> heldResolveOrigins = new java.util.HashSet<>();
    List<Create> creates = new ArrayList<>();
    Boolean merge = null;
    java.util.Set<String> unitKeys = new java.util.HashSet<>();
    List<String> unitOrigins = new ArrayList<>();
    int scanned = 0;
    for (java.util.Iterator<Queued> it = pending.iterator();
        it.hasNext() && scanned < scanLimit();
        scanned++) {
      Queued q = it.next();
      if (q.resolve() != null) {
        String origin = q.resolve().originUid();
        boolean blocked =
            heldCreateOrigins.contains(origin)
                || heldResolveOrigins.contains(origin)
                || busyExclusiveOrigins.contains(origin)
                || busySharedOrigins.containsKey(origin)
                || unitOrigins.contains(origin);
        if (!blocked && creates.isEmpty()) {
          List<io.kubezen.watcher.store.ObservationKey> gone = goneKeys(q.resolve());
          if (gone == null) {
            it.remove();
            waiting.decrementAndGet();
            return true; // failed: completed exceptionally
          }
          List<String> keys = gone.stream().map(k -> k.namespace() + "/" + k.name()).toList();
          if (keys.stream().noneMatch(k -> busyKeys.contains(k) || heldKeys.contains(k))) {
            it.remove();
            waiting.decrementAndGet();
            if (gone.isEmpty()) {
              q.resolve().result().complete(0);
              return true;
            }
            start(new Tokens(keys, List.of(), origin), () -> resolve(q.resolve(), gone), false);
            return true;
          }
        }
        heldResolveOrigins.add(origin);
        continue;
      }
      Create c = q.create();
      String key = keyOf(c);
      String origin = originOf(c);
      boolean blocked =
          busyKeys.contains(key)
              || heldKeys.contains(key)
              || (origin != null
                  && (busyExclusiveOrigins.contains(origin) || heldResolveOrigins.contains(origin)))
              || (merge != null && merge != c.mergeIfExists())
              || creates.size() >= batchSize;
      if (blocked) {
        heldKeys.add(key);
        if (origin != null) {
          heldCreateOrigins.add(origin);
        }
        if (creates.size() >= batchSize) {
          break;
        }
        continue;
      }
      it.remove();
      if (q.holdsPermit()) {
        room.release();
      }
      merge = c.mergeIfExists();
      creates.add(c);
      unitKeys.add(key);
      if (origin != null) {
        unitOrigins.add(origin);
      }
    }
    if (creates.isEmpty()) {
      return false;
    }
    waiting.addAndGet(-creates.size());
    boolean m = merge;
    start(new Tokens(List.copyOf(unitKeys), unitOrigins, null), () -> write(creates, m), false);
    return true;
  }

  /**
   * The open Observations of the resolve's object not kept; null when reading them failed (the
   * resolve failed).
   */
  private List<io.kubezen.watcher.store.ObservationKey> goneKeys(Resolve r) {
    try {
      List<io.kubezen.watcher.store.ObservationKey> gone = new ArrayList<>();
      for (io.kubezen.watcher.store.ObservationKey k : openKeys(r.originUid())) {
        if (!r.keep().contains(k)) {
          gone.add(k);
        }
      }
      return gone;
    } catch (RuntimeException e) {
      log.warn("could not read the Observations of {}: {}", r.originUid(), e.toString());
      r.result().completeExceptionally(e);
      return null;
    }
  }

  private void take(Tokens t) {
    busyKeys.addAll(t.keys());
    for (String o : t.sharedOrigins()) {
      busySharedOrigins.merge(o, 1, Integer::sum);
    }
    if (t.exclusiveOrigin() != null) {
      busyExclusiveOrigins.add(t.exclusiveOrigin());
    }
  }

  private void release(Tokens t) {
    inFlight--;
    busyKeys.removeAll(t.keys());
    for (String o : t.sharedOrigins()) {
      busySharedOrigins.computeIfPresent(o, (k, n) -> n <= 1 ? null : n - 1);
    }
    if (t.exclusiveOrigin() != null) {
      busyExclusiveOrigins.remove(t.exclusiveOrigin());
    }
  }

  /**
   * Runs {@code work} on a unit thread holding {@code tokens}; the dispatcher hears when it is
   * done.
   */
  private void start(Tokens tokens, Runnable work, boolean flush) {
    take(tokens);
    inFlight++;
    try {
      unitThreads.execute(
          () -> {
            try {
              work.run();
            } catch (RuntimeException e) {
              log.error("write unit error", e);
            } finally {
              queue.add(new Done(tokens, flush));
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      queue.add(new Done(tokens, flush));
      throw e;
    }
  }

  /**
   * Drains the repeats and writes them in a unit of their own (those of an Observation being
   * written wait).
   */
  private void startFlush() {
    repeatFlushWanted.set(false);
    // Those waiting for a group commit took this future before their count was drained below.
    CompletableFuture<Void> committed = nextRepeatFlush.getAndSet(new CompletableFuture<>());
    List<Deduplicator.Pending> drained = dedup.drainRepeats();
    List<Deduplicator.Pending> now = new ArrayList<>(drained.size());
    List<Deduplicator.Pending> later = new ArrayList<>();
    java.util.Set<String> keys = new java.util.HashSet<>();
    for (Deduplicator.Pending p : drained) {
      io.kubezen.watcher.store.Repeat r = p.toRepeat();
      String key = r.namespace() + "/" + r.name();
      (busyKeys.contains(key) ? later : now).add(p);
      if (!busyKeys.contains(key)) {
        keys.add(key);
      }
    }
    if (!later.isEmpty()) {
      // Their Observation is being written: their counts go with the next flush, and so does the
      // commit.
      dedup.restore(later);
      repeatFlushWanted.set(true);
      CompletableFuture<Void> next = nextRepeatFlush.get();
      CompletableFuture<Void> mine = committed;
      committed = new CompletableFuture<>();
      committed
          .thenCompose(v -> next)
          .whenComplete(
              (v, e) -> {
                if (e != null) {
                  mine.completeExceptionally(e);
                } else {
                  mine.complete(null);
                }
              });
    }
    if (now.isEmpty()) {
      committed.complete(null);
      return;
    }
    flushInFlight = true;
    CompletableFuture<Void> done = committed;
    start(
        new Tokens(List.copyOf(keys), List.of(), null),
        () -> {
          try {
            writeRepeats(now);
            done.complete(null);
          } catch (RuntimeException e) {
            done.completeExceptionally(e);
          }
        },
        true);
  }

  private void resolve(Resolve r, List<io.kubezen.watcher.store.ObservationKey> gone) {
    try {
      int resolved = 0;
      long start = System.nanoTime();
      for (WriteOutcome o : store.resolve(gone, r.at())) {
        if (o != WriteOutcome.MISSING) {
          resolved++;
        }
      }
      metrics.writeBatch().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
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
      List<WriteOutcome> outcomes =
          mergeIfExists ? store.createOrMerge(observations) : store.createIfAbsent(observations);
      metrics.writeBatch().record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      for (int i = 0; i < creates.size(); i++) {
        creates.get(i).result().complete(outcomes.get(i));
      }
    } catch (PartialWriteException e) {
      // Some were written: acknowledge those, fail only the others (their senders retry them).
      log.warn(
          "could not store {} of {} Observations: {}", e.failed(), creates.size(), e.getMessage());
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

  /** Writes the collected repeats now, in the calling thread (when the dispatcher has stopped). */
  void flushRepeats() {
    // Those waiting for a group commit took this future before their count was drained below.
    repeatFlushWanted.set(false);
    CompletableFuture<Void> committed = nextRepeatFlush.getAndSet(new CompletableFuture<>());
    try {
      writeRepeats(dedup.drainRepeats());
      committed.complete(null);
    } catch (RuntimeException e) {
      committed.completeExceptionally(e);
    }
  }

  /**
   * Writes {@code pending}; what was not written is given back to the deduplicator (and thrown).
   */
  private void writeRepeats(List<Deduplicator.Pending> pending) {
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
      log.warn(
          "could not flush repeats of {} of {} Observations, will retry: {}",
          failed.size(),
          pending.size(),
          e.getMessage());
      dedup.restore(failed);
      throw e;
    } catch (RuntimeException e) {
      log.warn(
          "could not flush repeats of {} Observations, will retry: {}",
          pending.size(),
          e.toString());
      dedup.restore(pending);
      throw e;
    }
  }

  /**
   * Stops taking new work, writes everything queued, flushes the repeats, and returns within {@code
   * timeout}.
   */
  public void close(Duration timeout) {
    accepting.set(false);
    running = false;
    queue.add(Wake.WAKE);
    try {
      thread.join(timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      log.warn(
          "the writer did not finish within {}; {} Observations still queued",
          timeout,
          waiting.get());
      thread.interrupt();
      unitThreads.shutdownNow();
      return;
    }
    unitThreads.shutdown();
    flushRepeats();
    // A submit that raced with close may have queued after the thread left: fail it, don't hang it.
    for (Item item; (item = queue.poll()) != null; ) {
      if (item instanceof Queued q) {
        (q.resolve() != null ? q.resolve().result() : q.create().result())
            .completeExceptionally(new OverloadedException("shutting down"));
      }
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(20));
  }
}
