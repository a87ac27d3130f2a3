package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.StatusDetails;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.Shed;
import io.kubezen.watcher.store.ShedCounts;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code MAX_OBSERVATIONS}: the live count is the Observation cache's size plus the creates
 * admitted and not yet in it; at the cap, a new Observation evicts one of a lower severity (the
 * lowest there is, from the cache) or, when there is none, is refused. Both are counted ({@link
 * #shedCount}, {@code zen_watcher_observations_shed_total}). With no cap every create is admitted
 * at once.
 */
final class CapacityGuard {
  /** Attempts of one admission when victims change under it. */
  static final int MAX_ROUNDS = KubernetesObservationStore.MAX_ROUNDS;

  private final long max;
  private final ObservationCache cache;
  private final ApiCalls calls;

  /** Creates admitted under the cap and not yet in the cache. */
  private final AtomicLong reserved = new AtomicLong();

  private final ShedCounts shed = new ShedCounts();

  CapacityGuard(long max, ObservationCache cache, ApiCalls calls) {
    this.max = max;
    this.cache = cache;
    this.calls = calls;
  }

  /** Observations of {@code severity} shed so far. */
  long shedCount(Severity severity, Shed kind) {
    return shed.get(severity, kind);
  }

  /**
   * A create admitted with {@link Admission#reserved()} is done (created or failed): its slot is
   * free.
   */
  void release(Admission admission) {
    if (admission.reserved()) {
      reserved.decrementAndGet();
    }
  }

  /**
   * Either a slot for a create (neither field set; {@code reserved} when it holds one of {@link
   * #reserved}), the Observation that exists, or refused.
   */
  record Admission(boolean refused, ApiCalls.Known existing, boolean reserved) {
    static final Admission FREE = new Admission(false, null, false);
    static final Admission SLOT = new Admission(false, null, true);
    static final Admission REFUSED = new Admission(true, null, false);
  }

  /**
   * Admits a create under {@code MAX_OBSERVATIONS}: the live count is the cache's size plus the
   * creates admitted and not yet in it; at the cap, an Observation of a lower severity is evicted
   * to make room, or the create is refused.
   */
  Admission admit(String namespace, String name, Severity severity) {
    if (max == 0) {
      return Admission.FREE;
    }
    cache.awaitSynced(KubernetesObservationStore.CACHE_WAIT);
    for (int attempt = 0; attempt < MAX_ROUNDS + 2; attempt++) {
      long r = reserved.get();
      if (cache.size() + r < max) {
        if (reserved.compareAndSet(r, r + 1)) {
          return Admission.SLOT;
        }
        attempt--;
        continue;
      }
      ObservationCache.Entry current = cache.get(namespace, name);
      if (current != null) {
        return new Admission(false, ApiCalls.Known.of(current), false);
      }
      ObservationCache.Entry victim = findVictim(severity);
      if (victim == null) {
        break;
      }
      if (evict(victim)) {
        shed.add(Shed.EVICTED, victim.severity());
      }
    }
    shed.add(Shed.REFUSED, severity);
    return Admission.REFUSED;
  }

  /** An Observation of the lowest severity present below {@code severity}, or null. */
  private ObservationCache.Entry findVictim(Severity severity) {
    for (int rank = 0; rank < severity.rank(); rank++) {
      ObservationCache.Entry e = cache.anyOf(bySeverityRank(rank));
      if (e != null) {
        return e;
      }
    }
    return null;
  }

  private static Severity bySeverityRank(int rank) {
    for (Severity s : Severity.values()) {
      if (s.rank() == rank) {
        return s;
      }
    }
    throw new IllegalArgumentException("no severity of rank " + rank);
  }

  private boolean evict(ObservationCache.Entry victim) {
    try {
      List<StatusDetails> r =
          calls.write(
              () ->
                  calls
                      .api
                      .inNamespace(victim.namespace())
                      .withName(victim.name())
                      .lockResourceVersion(victim.resourceVersion())
                      .delete());
      if (!r.isEmpty()) {
        cache.gone(victim.namespace(), victim.name());
      }
      return !r.isEmpty();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        cache.gone(victim.namespace(), victim.name());
        return false;
      }
      if (e.getCode() == 409) {
        return false; // changed: look again
      }
      throw e;
    }
  }
}
