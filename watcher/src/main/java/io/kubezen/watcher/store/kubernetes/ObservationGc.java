package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.StatusDetails;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.StoreException;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The garbage collector's sweep ({@link io.kubezen.watcher.store.ObservationStore#deleteExpired}):
 * over the Observation cache once it has synced (no list; a delete with the cached resourceVersion
 * per expired one, so an Observation changed since is judged again, never deleted blindly), else
 * over the API server's list, page by page in each namespace of the access scope. The expiry rule
 * is {@link #expired(Long, ObservationStatus, boolean, String, String, Instant, java.util.Set)}.
 */
final class ObservationGc {
  private static final Logger log = LoggerFactory.getLogger(ObservationGc.class);
  static final int MAX_ROUNDS = KubernetesObservationStore.MAX_ROUNDS;

  private final ObservationCache cache;
  private final ApiCalls calls;
  private final ScopedLists lists;

  ObservationGc(ObservationCache cache, ApiCalls calls, ScopedLists lists) {
    this.cache = cache;
    this.calls = calls;
    this.lists = lists;
  }

  GcResult deleteExpired(Instant now, java.util.Set<String> stateLikeSources) {
    if (cache.hasSynced()) {
      return deleteExpiredCached(now, stateLikeSources);
    }
    int deleted = 0;
    int errors = 0;
    long listed = 0;
    boolean restarted = false;
    for (String ns : lists.scopes()) {
      boolean restartedHere = false;
      String cont = null;
      while (true) {
        KubernetesResourceList<Observation> page;
        try {
          page =
              lists.listIn(
                  ns,
                  new ListOptionsBuilder()
                      .withLimit((long) ScopedLists.PAGE)
                      .withContinue(cont)
                      .build());
        } catch (KubernetesClientException e) {
          if (e.getCode() == 410 && !restartedHere) {
            // The continue token expired (a long sweep): list again from the start, once.
            restarted = true;
            restartedHere = true;
            cont = null;
            continue;
          }
          throw ScopedLists.failure(
              "GC list (after " + deleted + " deleted, " + errors + " errors)", e);
        }
        listed += page.getItems().size();
        List<Future<Boolean>> futures = new ArrayList<>();
        for (Observation o : page.getItems()) {
          if (expired(o, now, stateLikeSources)) {
            futures.add(calls.submit(() -> deleteIfExpired(o, now, stateLikeSources)));
          }
        }
        for (Future<Boolean> f : futures) {
          try {
            if (f.get()) {
              deleted++;
            }
          } catch (ExecutionException e) {
            errors++;
            log.warn("GC: a delete failed: {}", e.getCause().toString());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            futures.forEach(x -> x.cancel(true));
            throw new StoreException("GC interrupted after " + deleted + " deletes", e);
          }
        }
        cont = page.getMetadata() == null ? null : page.getMetadata().getContinue();
        if (cont == null || cont.isEmpty()) {
          break;
        }
      }
    }
    return new GcResult(deleted, errors);
  }

  /**
   * A sweep over the cache: no list; a delete (with the cached resourceVersion) per expired one.
   */
  private GcResult deleteExpiredCached(Instant now, java.util.Set<String> stateLikeSources) {
    List<Future<Boolean>> futures = new ArrayList<>();
    for (ObservationCache.Entry e : cache.entries()) {
      if (expired(
          e.ttlSeconds(),
          e.status(),
          e.originUid() != null,
          e.source(),
          e.creationTimestamp(),
          now,
          stateLikeSources)) {
        Observation o = KubernetesObservationStore.trimmed(e);
        futures.add(calls.submit(() -> deleteIfExpired(o, now, stateLikeSources)));
      }
    }
    int deleted = 0;
    int errors = 0;
    for (Future<Boolean> f : futures) {
      try {
        if (f.get()) {
          deleted++;
        }
      } catch (ExecutionException e) {
        errors++;
        log.warn("GC: a delete failed: {}", e.getCause().toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        futures.forEach(x -> x.cancel(true));
        throw new StoreException("GC interrupted after " + deleted + " deletes", e);
      }
    }
    return new GcResult(deleted, errors);
  }

  /** Deletes {@code o} if it is still the object that expired; true when this call deleted it. */
  private boolean deleteIfExpired(
      Observation o, Instant now, java.util.Set<String> stateLikeSources) {
    Observation current = o;
    for (int attempt = 0; attempt < MAX_ROUNDS; attempt++) {
      if (current == null || !expired(current, now, stateLikeSources)) {
        return false;
      }
      ObjectMeta m = current.getMetadata();
      try {
        List<StatusDetails> r =
            calls.write(
                () ->
                    calls
                        .api
                        .inNamespace(m.getNamespace())
                        .withName(m.getName())
                        .lockResourceVersion(m.getResourceVersion())
                        .delete());
        if (r.isEmpty()) {
          return false;
        }
        cache.gone(m.getNamespace(), m.getName());
        return true;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          cache.gone(m.getNamespace(), m.getName());
          return false;
        }
        if (e.getCode() != 409) {
          throw e;
        }
        // Changed since the list (a repeat, or deleted and re-created): judge the current one.
        current =
            calls.read(() -> calls.api.inNamespace(m.getNamespace()).withName(m.getName()).get());
      }
    }
    throw new StoreException(
        "Observation "
            + o.getMetadata().getNamespace()
            + "/"
            + o.getMetadata().getName()
            + " kept changing while being deleted");
  }

  /**
   * Expired by the rule of {@link ObservationStore#deleteExpired(Instant, java.util.Set)}: resolved
   * at {@code resolvedAt + TTL}; unresolved from a state-like watched source never; others at
   * {@code creationTimestamp + TTL}. Never without a TTL.
   */
  static boolean expired(Observation o, Instant now, java.util.Set<String> stateLikeSources) {
    boolean watched =
        o.getMetadata() != null
            && o.getMetadata().getLabels() != null
            && o.getMetadata().getLabels().containsKey(Observation.LABEL_ORIGIN_UID);
    return expired(
        o.getSpec() == null ? null : o.getSpec().ttlSecondsAfterCreation(),
        o.getStatus(),
        watched,
        o.getSpec() == null ? null : o.getSpec().source(),
        o.getMetadata() == null ? null : o.getMetadata().getCreationTimestamp(),
        now,
        stateLikeSources);
  }

  static boolean expired(
      Long ttl,
      ObservationStatus status,
      boolean watched,
      String source,
      String createdAt,
      Instant now,
      java.util.Set<String> stateLikeSources) {
    if (ttl == null) {
      return false;
    }
    Instant from;
    if (status != null && Boolean.TRUE.equals(status.resolved())) {
      from = Statuses.parse(status.resolvedAt());
    } else {
      if (watched && stateLikeSources.contains(source)) {
        return false; // its finding is still in its report
      }
      from = Statuses.parse(createdAt);
    }
    if (from == null) {
      return false;
    }
    try {
      return from.plusSeconds(Math.max(0, ttl)).isBefore(now);
    } catch (DateTimeException | ArithmeticException e) {
      return false; // beyond the end of time
    }
  }
}
