package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.watcher.store.PartialWriteException;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.WriteOutcome;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.function.UnaryOperator;

/**
 * The API requests of the {@link KubernetesObservationStore}, and what makes them safe under load:
 *
 * <ul>
 *   <li>every write (create, status patch, delete) takes a slot of the {@link AdaptiveLimiter} (as
 *       fast as the API server answers; halved on 429/5xx, slower on rising latency; {@code
 *       KUBE_WRITE_QPS} an optional ceiling); a 429 the client gave up on is retried after its
 *       Retry-After (1 s without it), at most {@link #MAX_THROTTLE_RETRIES} times;
 *   <li>the items of a batch run on {@code maxInFlight} worker threads ({@link #fanOut}): items of
 *       the same Observation one after the other, in order; outcomes per item, a {@link
 *       PartialWriteException} when some failed;
 *   <li>a status change is a read-modify-write with optimistic concurrency ({@link #mutate}): a
 *       merge patch of the whole status carrying the resourceVersion it was computed from, again on
 *       409 Conflict (at most {@link #MAX_CONFLICT_RETRIES} attempts). Its result goes into the
 *       Observation cache at once.
 * </ul>
 *
 * Request counts are not kept here: every request is counted by the client's interceptor ({@code
 * zen_watcher_kube_requests_total}).
 */
final class ApiCalls implements AutoCloseable {
  static final int MAX_CONFLICT_RETRIES = 16;
  static final int MAX_THROTTLE_RETRIES = 5;

  final MixedOperation<Observation, KubernetesResourceList<Observation>, Resource<Observation>> api;
  private final ObservationCache cache;
  private final AdaptiveLimiter limiter;
  private final ExecutorService workers;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicLong conflicts = new AtomicLong();
  private final AtomicLong throttled = new AtomicLong();

  ApiCalls(KubernetesClient client, ObservationCache cache, KubernetesStoreOptions options) {
    this.api = client.resources(Observation.class);
    this.cache = cache;
    this.limiter = new AdaptiveLimiter(options.writeQps(), options.writeBurst(), System::nanoTime);
    AtomicInteger n = new AtomicInteger();
    this.workers =
        Executors.newFixedThreadPool(
            options.maxInFlight(),
            r -> {
              Thread t = new Thread(r, "kube-store-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /** The write rate the limiter allows now, writes per second. */
  double writeRateLimit() {
    return limiter.rate();
  }

  /** Status writes that met 409 Conflict and were retried. */
  long conflictRetries() {
    return conflicts.get();
  }

  /** Requests answered 429 after the client's own retries, and retried here. */
  long throttledRetries() {
    return throttled.get();
  }

  /** What is known of an existing Observation: its resourceVersion and effective status. */
  record Known(String resourceVersion, ObservationStatus status) {
    static Known of(Observation o) {
      return new Known(o.getMetadata().getResourceVersion(), Statuses.effective(o));
    }

    static Known of(ObservationCache.Entry e) {
      return new Known(e.resourceVersion(), e.status());
    }
  }

  enum Mutation {
    WRITTEN,
    UNCHANGED,
    MISSING
  }

  /**
   * Read-modify-write of one status with optimistic concurrency: {@code change} is applied to the
   * status {@code known} (from the cache, or a fresh read when null), written with that
   * resourceVersion, and applied again to a fresh read on 409 Conflict (the cache was behind, or
   * another writer came first) or 404 when the cache still had it. No write when nothing changes.
   */
  Mutation mutate(String ns, String name, Known known, UnaryOperator<ObservationStatus> change) {
    Known current = known;
    boolean fresh = known == null;
    for (int attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
      if (current == null) {
        Observation read = read(() -> api.inNamespace(ns).withName(name).get());
        if (read == null) {
          cache.gone(ns, name);
          return Mutation.MISSING;
        }
        current = Known.of(read);
        fresh = true;
      }
      ObservationStatus before = current.status();
      ObservationStatus after = change.apply(before);
      if (after.equals(before)) {
        return Mutation.UNCHANGED;
      }
      String patch = statusPatch(current.resourceVersion(), after);
      try {
        // resource(named) rather than withName(name): with no object given, fabric8 reads it first.
        Observation written =
            write(
                () ->
                    api.inNamespace(ns)
                        .resource(named(ns, name))
                        .subresource("status")
                        .patch(STATUS_PATCH, patch));
        if (written != null) {
          cache.written(written);
        }
        return Mutation.WRITTEN;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404 && fresh) {
          cache.gone(ns, name);
          return Mutation.MISSING;
        }
        if (e.getCode() != 409 && e.getCode() != 404) {
          throw e;
        }
        if (e.getCode() == 409) {
          conflicts.incrementAndGet();
        }
        current = null; // read it
        if (e.getCode() == 409) {
          sleepMillis(ThreadLocalRandom.current().nextLong(1, 5L << Math.min(attempt, 4)));
        }
      }
    }
    throw new StoreException(
        "status of Observation "
            + ns
            + "/"
            + name
            + " still conflicting after "
            + MAX_CONFLICT_RETRIES
            + " attempts");
  }

  /** An Observation with only its namespace and name: the target of a request. */
  private static Observation named(String ns, String name) {
    Observation o = new Observation();
    o.setMetadata(new ObjectMetaBuilder().withNamespace(ns).withName(name).build());
    return o;
  }

  private static final PatchContext STATUS_PATCH = PatchContext.of(PatchType.JSON_MERGE);

  /**
   * A JSON merge patch of the status subresource that sets the whole status to {@code status} (a
   * field it lacks is sent as null, which removes it) and carries {@code resourceVersion}, which
   * the API server checks as a precondition: 409 Conflict when the Observation changed since it was
   * read. The RBAC verb is {@code patch} on {@code observations/status}.
   */
  static String statusPatch(String resourceVersion, ObservationStatus status) {
    Map<String, Object> fields = new java.util.LinkedHashMap<>();
    fields.put("count", status.count());
    fields.put("firstSeen", status.firstSeen());
    fields.put("lastSeen", status.lastSeen());
    fields.put("resolved", status.resolved());
    fields.put("resolvedAt", status.resolvedAt());
    Map<String, Object> patch = new java.util.LinkedHashMap<>();
    patch.put(
        "metadata",
        Map.of("resourceVersion", Objects.requireNonNull(resourceVersion, "resourceVersion")));
    patch.put("status", fields);
    try {
      return PATCH_JSON.writeValueAsString(patch);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("cannot write a status patch", e);
    }
  }

  /** Writes nulls (they remove fields in a merge patch). */
  private static final com.fasterxml.jackson.databind.ObjectMapper PATCH_JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /** Runs the items of a batch on the workers; outcomes in input order. */
  List<WriteOutcome> fanOut(String what, int size, IntFunction<WriteOutcome> task) {
    return fanOut(what, size, task, null);
  }

  /**
   * Runs the items of a batch on the workers; outcomes in input order. Items with the same {@code
   * keyOf} (the same Observation) run one after the other, in input order, so that the first of
   * them is the one that creates it.
   */
  List<WriteOutcome> fanOut(
      String what, int size, IntFunction<WriteOutcome> task, IntFunction<String> keyOf) {
    ensureOpen();
    if (size == 0) {
      return List.of();
    }
    Map<String, List<Integer>> groups = new LinkedHashMap<>();
    for (int i = 0; i < size; i++) {
      groups
          .computeIfAbsent(
              keyOf == null ? Integer.toString(i) : keyOf.apply(i), k -> new ArrayList<>())
          .add(i);
    }
    WriteOutcome[] done = new WriteOutcome[size];
    Throwable[] failed = new Throwable[size];
    List<Future<?>> futures = new ArrayList<>(groups.size());
    try {
      for (List<Integer> group : groups.values()) {
        futures.add(
            workers.submit(
                () -> {
                  for (int index : group) {
                    try {
                      done[index] = task.apply(index);
                    } catch (RuntimeException | Error e) {
                      failed[index] = e;
                    }
                  }
                }));
      }
    } catch (java.util.concurrent.RejectedExecutionException e) {
      futures.forEach(f -> f.cancel(true));
      throw new StoreException("kubernetes store is closed (" + what + ")", e);
    }
    for (Future<?> f : futures) {
      try {
        f.get();
      } catch (ExecutionException e) {
        throw new StoreException(what + " failed: " + e.getCause(), e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        futures.forEach(x -> x.cancel(true));
        throw new StoreException("interrupted during " + what, e);
      }
    }
    List<WriteOutcome> outcomes = new ArrayList<>(size);
    Throwable first = null;
    for (int i = 0; i < size; i++) {
      outcomes.add(failed[i] == null ? done[i] : null);
      if (failed[i] != null && first == null) {
        first = failed[i];
      }
    }
    if (first != null) {
      int count = (int) outcomes.stream().filter(Objects::isNull).count();
      throw new PartialWriteException(
          "kubernetes store: "
              + what
              + ": "
              + count
              + " of "
              + size
              + " failed: "
              + first.getMessage(),
          outcomes,
          first,
          java.util.Arrays.asList(failed));
    }
    return outcomes;
  }

  /**
   * One API write, in a slot of the adaptive limiter (each retry takes a slot too), whose rate
   * follows the answers: success and latency raise or lower it, 429 and 5xx halve it.
   */
  <T> T write(Callable<T> call) {
    return read(
        () -> {
          try {
            limiter.acquire();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted waiting for the write rate limit", e);
          }
          long t0 = System.nanoTime();
          try {
            T result = call.call();
            limiter.succeeded(System.nanoTime() - t0);
            return result;
          } catch (KubernetesClientException e) {
            if (e.getCode() == 429 || e.getCode() >= 500) {
              limiter.throttled(e.getCode() == 429 ? retryAfterMillis(e) : 0);
            } else if (e.getCode() == 409 || e.getCode() == 404) {
              limiter.succeeded(System.nanoTime() - t0); // an answer, not push-back
            }
            throw e;
          }
        });
  }

  /** An API call; a 429 the client gave up on is retried after its Retry-After (bounded). */
  <T> T read(Callable<T> call) {
    for (int attempt = 0; ; attempt++) {
      try {
        return call.call();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 429 || attempt >= MAX_THROTTLE_RETRIES) {
          throw e;
        }
        throttled.incrementAndGet();
        sleepMillis(retryAfterMillis(e));
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new StoreException(e.toString(), e);
      }
    }
  }

  static long retryAfterMillis(KubernetesClientException e) {
    Integer seconds =
        e.getStatus() != null && e.getStatus().getDetails() != null
            ? e.getStatus().getDetails().getRetryAfterSeconds()
            : null;
    long s = seconds == null || seconds < 1 ? 1 : Math.min(seconds, 30);
    return s * 1000;
  }

  static void sleepMillis(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreException("interrupted", e);
    }
  }

  <T> Future<T> submit(Callable<T> task) {
    try {
      return workers.submit(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      throw new StoreException("kubernetes store is closed", e);
    }
  }

  void ensureOpen() {
    if (closed.get()) {
      throw new StoreException("kubernetes store is closed");
    }
  }

  /** Stops the workers (waits up to 10 s for the requests under way). */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    workers.shutdown();
    try {
      if (!workers.awaitTermination(10, TimeUnit.SECONDS)) {
        workers.shutdownNow();
      }
    } catch (InterruptedException e) {
      workers.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
