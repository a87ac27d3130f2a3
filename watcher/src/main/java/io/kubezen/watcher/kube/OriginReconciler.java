package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
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
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * <p>A full write queue is waited out (retried with backoff for as long as this runs); other
 * failures are retried {@link #MAX_ATTEMPTS} times, then logged: the next update or re-list of the
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
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(200);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

  private final Pipeline pipeline;
  private final Clock clock;
  private final ExecutorService executor;
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

  OriginReconciler(Pipeline pipeline, Clock clock, int threads, Map<String, Digest> digests) {
    this.digests = digests;
    this.pipeline = pipeline;
    this.clock = clock;
    AtomicInteger n = new AtomicInteger();
    this.executor =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "source-reconcile-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /** The object was added or changed. */
  CompletableFuture<Void> upserted(WatchedSource source, GenericKubernetesResource object) {
    String uid = object.getMetadata().getUid();
    CompletableFuture<Void> f = inOrder(uid, () -> upsert(source, object, uid), source, object);
    if (uid != null) {
      f.whenComplete((v, e) -> handled.add(uid));
    }
    return f;
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
    return inOrder(uid, () -> resolveExcept(source, uid, Set.of()), source, object);
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

  private CompletableFuture<Void> upsert(
      WatchedSource source, GenericKubernetesResource object, String uid) {
    List<Finding> findings;
    try {
      findings = findings(source, object, clock);
    } catch (InvalidInputException e) {
      // Unreadable: nothing is known about its findings, so nothing is resolved either.
      log.warn(
          "{} {}: cannot read {}: {}", source.source(), source.gvr(), name(object), e.getMessage());
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
  private CompletableFuture<Void> inOrder(
      String uid,
      Supplier<CompletableFuture<Void>> work,
      WatchedSource source,
      GenericKubernetesResource object) {
    if (uid == null) {
      log.warn("{} {}: {} has no uid; ignored", source.source(), source.gvr(), name(object));
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> next = new CompletableFuture<>();
    CompletableFuture<Void> previous = tails.put(uid, next);
    CompletableFuture<Void> before =
        previous == null ? CompletableFuture.completedFuture(null) : previous;
    before.whenComplete((v, e) -> attempt(work, 1, next, source, object));
    next.whenComplete((v, e) -> tails.remove(uid, next));
    return next;
  }

  private void attempt(
      Supplier<CompletableFuture<Void>> work,
      int attempt,
      CompletableFuture<Void> done,
      WatchedSource source,
      GenericKubernetesResource object) {
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
                  name(object),
                  attempt,
                  cause.toString());
            }
            done.completeExceptionally(new NotStoredException(open ? "given up" : "closed", cause));
            return;
          }
          long delay =
              Math.min(
                  MAX_BACKOFF.toMillis(), FIRST_BACKOFF.toMillis() << Math.min(attempt - 1, 10));
          if (!overloaded) {
            log.debug(
                "{} {}: retrying {} in {} ms: {}",
                source.source(),
                source.gvr(),
                name(object),
                delay,
                cause.toString());
          }
          try {
            CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS, executor)
                .execute(() -> attempt(work, attempt + 1, done, source, object));
          } catch (java.util.concurrent.RejectedExecutionException closed) {
            done.completeExceptionally(new NotStoredException("closed", cause));
          }
        });
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
