package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.ObjectReader;
import io.kubezen.watcher.store.ObservationKey;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the informer events of one watched object into store writes, one object at a time (the
 * events of one uid are applied in order, those of different uids concurrently):
 *
 * <ul>
 *   <li>added or updated: normalize, {@link Pipeline#reconcile} (creates the missing Observations,
 *       leaves the existing ones), then, for state-like sources, resolve the Observations of that
 *       origin whose finding is no longer in the object;
 *   <li>deleted: for state-like sources, resolve every Observation of that origin; event-like
 *       sources (Kubernetes Events expire) resolve nothing.
 * </ul>
 *
 * <p>A full write queue is waited out, for as long as this runs, without holding the object: the
 * work is parked, and a state-like source's object (a report, which can be large) is let go and
 * read again ({@link Reader}, one GET) when the queue has room. Parked work is let out while the
 * queue is at least half empty, {@link #IN_HAND} at a time. So a leader's first reconcile of a
 * thousand reports holds a few of them, not all of them, while the writer works through the backlog
 * (memory bounded by the write queue, not by the number of objects waiting). Other failures are
 * retried {@link #MAX_ATTEMPTS} times with backoff, then logged: the next update or re-list of the
 * object reconciles it again.
 *
 * <p>The future {@link #upserted} and {@link #deleted} return completes normally when the work is
 * done (stored, or nothing to store), and exceptionally with {@link NotStoredException} when it was
 * given up or dropped because this reconciler closed: {@link EventSource} checkpoints only past
 * work that completed normally.
 */
final class OriginReconciler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OriginReconciler.class);
  static final int MAX_ATTEMPTS = 5;

  /** Parked pieces of work let out at once (each reads its object, then queues its writes). */
  static final int IN_HAND = 4;

  private static final long DRAIN_EVERY_MILLIS = 100;
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(200);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

  /**
   * Reads a watched object by name (a GET): null when it no longer exists. For the objects let go
   * while waiting for the write queue, and for a new leader's catch-up.
   */
  @FunctionalInterface
  interface Reader {
    GenericKubernetesResource read(WatchedSource source, String namespace, String name);
  }

  private final Pipeline pipeline;
  private final Clock clock;
  private final Reader reader;
  private final ScheduledExecutorService executor;
  // Work waiting for room in the write queue, oldest first, and how many were let out and have
  // not yet queued their writes (or been parked again).
  private final Queue<Runnable> parked = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inHand = new AtomicInteger();
  private final Map<String, CompletableFuture<Void>> tails = new ConcurrentHashMap<>();
  private volatile boolean open = true;
  // For the catch-up of a new leader: the uids whose upsert is done (or given up), and the
  // Observations created.
  private final Set<String> handled = ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.atomic.AtomicLong created =
      new java.util.concurrent.atomic.AtomicLong();

  /**
   * The work on one object was given up, or dropped on close: what it should have stored may be
   * missing.
   */
  static final class NotStoredException extends RuntimeException {
    NotStoredException(String message, Throwable cause) {
      super(message, cause, false, false);
    }
  }

  /** Where what each reconciled object's findings map to is remembered (null: nowhere). */
  private final Map<String, Digest> digests;

  OriginReconciler(
      Pipeline pipeline, Clock clock, int threads, Map<String, Digest> digests, Reader reader) {
    this.digests = digests;
    this.pipeline = pipeline;
    this.clock = clock;
    this.reader = reader;
    AtomicInteger n = new AtomicInteger();
    this.executor =
        Executors.newScheduledThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "source-reconcile-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    executor.scheduleWithFixedDelay(
        this::drain, DRAIN_EVERY_MILLIS, DRAIN_EVERY_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** The object was added or changed. */
  CompletableFuture<Void> upserted(WatchedSource source, GenericKubernetesResource object) {
    ObjectMeta m = object.getMetadata();
    return upserted(new Upsert(source, m.getNamespace(), m.getName(), m.getUid(), object));
  }

  /**
   * The object with this name and uid is to be reconciled; it is read (one GET) when its turn
   * comes. For a new leader's catch-up, which knows the objects only by name.
   */
  CompletableFuture<Void> upsertedByName(
      WatchedSource source, String namespace, String name, String uid) {
    return upserted(new Upsert(source, namespace, name, uid, null));
  }

  private CompletableFuture<Void> upserted(Upsert u) {
    CompletableFuture<Void> f = inOrder(u.uid, () -> upsert(u), u.source, u.name(), u::letGo);
    if (u.uid != null) {
      f.whenComplete((v, e) -> handled.add(u.uid));
    }
    return f;
  }

  /**
   * One object to reconcile: its body while it is held, or only its name once let go while waiting
   * for the write queue (state-like sources: the object is the current state, and reading it again
   * gives the same or a newer one).
   */
  private final class Upsert {
    final WatchedSource source;
    final String namespace;
    final String objectName;
    final String uid;
    volatile GenericKubernetesResource object;

    Upsert(
        WatchedSource source,
        String namespace,
        String name,
        String uid,
        GenericKubernetesResource object) {
      this.source = source;
      this.namespace = namespace;
      this.objectName = name;
      this.uid = uid;
      this.object = object;
    }

    void letGo() {
      if (source.stateLike()) {
        object = null;
      }
    }

    /** The object: held, or read again (null: gone, or replaced by another of the same name). */
    GenericKubernetesResource body() {
      GenericKubernetesResource o = object;
      if (o != null) {
        return o;
      }
      o = reader.read(source, namespace, objectName);
      return o == null || !Objects.equals(uid, o.getMetadata().getUid()) ? null : o;
    }

    String name() {
      return (namespace == null ? "" : namespace + "/") + objectName;
    }
  }

  /**
   * Marks {@code uid} as reconciled without work: its Observations are what its findings say (warm
   * standby).
   */
  void alreadyReconciled(String uid) {
    handled.add(uid);
  }

  /** True when an upsert of {@code uid} has been done (or given up on). */
  boolean handled(String uid) {
    return handled.contains(uid);
  }

  /** Observations created by the upserts so far. */
  long created() {
    return created.get();
  }

  /**
   * Starts no more store work (writes already handed to the writer complete); {@link #close} still
   * waits.
   */
  void halt() {
    open = false;
    releaseParked();
  }

  /** The object was deleted. */
  CompletableFuture<Void> deleted(WatchedSource source, GenericKubernetesResource object) {
    if (!source.stateLike()) {
      return CompletableFuture.completedFuture(null);
    }
    String uid = object.getMetadata().getUid();
    if (digests != null && uid != null) {
      digests.remove(uid);
    }
    return inOrder(uid, () -> resolveExcept(source, uid, Set.of()), source, name(object), () -> {});
  }

  /** The findings of a watched object; throws InvalidInputException when it cannot be read. */
  static List<Finding> findings(
      WatchedSource source, GenericKubernetesResource object, Clock clock) {
    ObjectReader.Input input = source.read(object);
    return input == null
        ? List.of()
        : source
            .normalizer()
            .normalize(input.json(), new IngestContext(clock.instant(), input.params()));
  }

  private CompletableFuture<Void> upsert(Upsert u) {
    WatchedSource source = u.source;
    String uid = u.uid;
    if (u.object == null && !writeRoom()) {
      // Let go while waiting: not read again before the queue has room.
      throw new ObservationWriter.OverloadedException("waiting for room in the write queue");
    }
    GenericKubernetesResource object = u.body();
    if (object == null) {
      return CompletableFuture.completedFuture(null); // deleted meanwhile: its delete event follows
    }
    List<Finding> findings;
    try {
      findings = findings(source, object, clock);
    } catch (InvalidInputException e) {
      // Unreadable: nothing is known about its findings, so nothing is resolved either.
      log.warn(
          "{} {}: cannot read {}: {}", source.source(), source.gvr(), u.name(), e.getMessage());
      return CompletableFuture.completedFuture(null);
    }
    Pipeline p = pipelineOf(source);
    return p.reconcile(source.normalizer(), findings, uid)
        .thenComposeAsync(
            result -> {
              created.addAndGet(result.created());
              if (source.onReconciled() != null) {
                try {
                  source.onReconciled().reconciled(findings.size(), result.created());
                } catch (RuntimeException e) {
                  log.warn("{}: counting a reconcile failed: {}", source.id(), e.toString());
                }
              }
              if (digests != null) {
                digests.put(uid, Digest.of(result.current()));
              }
              if (source.stateLike()) {
                return resolveExcept(source, uid, new HashSet<>(result.current()));
              }
              return CompletableFuture.completedFuture(null);
            },
            executor);
  }

  /**
   * The pipeline a source's findings go through: its own (an informer Ingester's) or the engine's.
   */
  Pipeline pipelineOf(WatchedSource source) {
    return source.pipeline() != null ? source.pipeline() : pipeline;
  }

  /**
   * Resolves, through the writer, the unresolved Observations of {@code uid} that are not in {@code
   * keep}; nothing once halted (no longer leading: the next leader reconciles this object).
   */
  private CompletableFuture<Void> resolveExcept(
      WatchedSource source, String uid, Set<ObservationKey> keep) {
    if (!open) {
      return CompletableFuture.completedFuture(null);
    }
    return pipelineOf(source).resolveOrigin(uid, keep, clock.instant()).thenApply(n -> null);
  }

  // Chains the work on one uid after the previous work on it.
  // Chains the work on one uid after the previous work on it. letGo: what to drop while the work
  // is parked.
  private CompletableFuture<Void> inOrder(
      String uid,
      Supplier<CompletableFuture<Void>> work,
      WatchedSource source,
      String name,
      Runnable letGo) {
    if (uid == null) {
      log.warn("{} {}: {} has no uid; ignored", source.source(), source.gvr(), name);
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> next = new CompletableFuture<>();
    CompletableFuture<Void> previous = tails.put(uid, next);
    CompletableFuture<Void> before =
        previous == null ? CompletableFuture.completedFuture(null) : previous;
    before.whenComplete((v, e) -> attempt(work, 1, next, source, name, letGo));
    next.whenComplete((v, e) -> tails.remove(uid, next));
    return next;
  }

  private void attempt(
      Supplier<CompletableFuture<Void>> work,
      int attempt,
      CompletableFuture<Void> done,
      WatchedSource source,
      String name,
      Runnable letGo) {
    if (!open) {
      done.completeExceptionally(new NotStoredException("closed", null));
      return;
    }
    CompletableFuture<Void> f;
    try {
      f = work.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    f.whenComplete(
        (v, e) -> {
          if (e == null) {
            done.complete(null);
            return;
          }
          Throwable cause =
              e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          boolean overloaded = cause instanceof ObservationWriter.OverloadedException;
          if (!open || (!overloaded && attempt >= MAX_ATTEMPTS)) {
            if (open) {
              log.warn(
                  "{} {}: giving up on {} after {} attempts: {}",
                  source.source(),
                  source.gvr(),
                  name,
                  attempt,
                  cause.toString());
            }
            done.completeExceptionally(new NotStoredException(open ? "given up" : "closed", cause));
            return;
          }
          if (overloaded) {
            letGo.run();
            park(() -> attempt(work, attempt + 1, done, source, name, letGo));
            return;
          }
          long delay =
              Math.min(
                  MAX_BACKOFF.toMillis(), FIRST_BACKOFF.toMillis() << Math.min(attempt - 1, 10));
          log.debug(
              "{} {}: retrying {} in {} ms: {}",
              source.source(),
              source.gvr(),
              name,
              delay,
              cause.toString());
          try {
            CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS, executor)
                .execute(() -> attempt(work, attempt + 1, done, source, name, letGo));
          } catch (java.util.concurrent.RejectedExecutionException closed) {
            done.completeExceptionally(new NotStoredException("closed", cause));
          }
        });
  }

  /** Parks work until the write queue has room ({@link #drain}); run at once when closed. */
  private void park(Runnable work) {
    parked.add(work);
    if (!open) {
      releaseParked();
    }
  }

  /** True when the write queue is at least half empty: parked work may be let out. */
  private boolean writeRoom() {
    return pipeline.writeRoom() * 2 >= pipeline.writeCapacity();
  }

  // Lets parked work out while the write queue has room, IN_HAND at a time.
  private void drain() {
    while (open && !parked.isEmpty() && inHand.get() < IN_HAND && writeRoom()) {
      Runnable next = parked.poll();
      if (next == null) {
        return;
      }
      inHand.incrementAndGet();
      try {
        executor.execute(
            () -> {
              try {
                next.run();
              } finally {
                inHand.decrementAndGet();
              }
              drain();
            });
      } catch (java.util.concurrent.RejectedExecutionException closed) {
        inHand.decrementAndGet();
        next.run(); // completes as closed
      }
    }
  }

  // Once closed, parked work completes at once (as closed: attempt checks open first).
  private void releaseParked() {
    Runnable r;
    while ((r = parked.poll()) != null) {
      r.run();
    }
  }

  /** Pieces of work parked until the write queue has room. */
  int parked() {
    return parked.size();
  }

  /** The number of objects with work under way. */
  int pending() {
    return tails.size();
  }

  /** Stops taking work; waits up to {@code timeout} for the work under way. */
  void close(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!tails.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    open = false;
    releaseParked();
    executor.shutdown();
    try {
      executor.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    executor.shutdownNow();
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }

  private static String name(GenericKubernetesResource o) {
    String ns = o.getMetadata().getNamespace();
    return (ns == null ? "" : ns + "/") + o.getMetadata().getName();
  }
}
