package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.kubezen.watcher.pipeline.Pipeline;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warm standby: while following, each watched object's findings are remembered as a {@link Digest}
 * of the Observations they map to (nothing is written); on becoming leader, the catch-up reads only
 * the objects whose unresolved Observations do not match what was remembered.
 */
final class WarmStandby {
  private static final Logger log = LoggerFactory.getLogger(WarmStandby.class);

  private final Pipeline pipeline;
  private final Clock clock;

  /** By object uid; the reconciler updates it too after each reconcile. */
  final Map<String, Digest> digests = new ConcurrentHashMap<>();

  WarmStandby(Pipeline pipeline, Clock clock) {
    this.pipeline = pipeline;
    this.clock = clock;
  }

  /**
   * Remembers what the object's findings map to (no write); unknown when they cannot be read. False
   * for an object without a uid (nothing to remember it by).
   */
  boolean remember(WatchedSource source, GenericKubernetesResource object) {
    String uid = object.getMetadata().getUid();
    if (uid == null) {
      return false;
    }
    try {
      Pipeline p = source.pipeline() != null ? source.pipeline() : pipeline;
      digests.put(
          uid,
          Digest.of(p.keys(source.normalizer(), OriginReconciler.findings(source, object, clock))));
    } catch (RuntimeException e) { // unreadable (InvalidInputException) or the filter failed
      digests.remove(uid); // unknown: the catch-up reads it
    }
    return true;
  }

  void forget(String uid) {
    digests.remove(uid);
  }

  /**
   * The catch-up of a warm standby that became leader: each object whose remembered findings match
   * its unresolved Observations (the cache answers) is done without a request; each other one
   * (changed since the last leader reconciled it, or never seen whole) is handed to the reconciler
   * by name, which reads it (one GET) when the write queue has room, and reconciles it. Gives up as
   * soon as the run stops leading or its reconciler is replaced.
   */
  void catchUp(SourceRun r, List<SourceUnit> units) {
    OriginReconciler rec = r.reconciler;
    long read = 0;
    long matched = 0;
    for (SourceUnit u : units) {
      for (Feed feed : u.feeds.values()) {
        if (!(feed instanceof Feed.InformerFeed f)) {
          continue;
        }
        for (GenericKubernetesResource o : f.informer().getStore().list()) {
          if (!r.active || r.stopped || rec != r.reconciler) {
            return;
          }
          String uid = o.getMetadata().getUid();
          if (uid == null) {
            continue;
          }
          Digest d = digests.get(uid);
          if (d != null && d.matches(openKeys(uid))) {
            rec.alreadyReconciled(uid);
            matched++;
            continue;
          }
          read++;
          rec.upsertedByName(
              u.source, o.getMetadata().getNamespace(), o.getMetadata().getName(), uid);
        }
      }
    }
    log.info(
        "catch-up from warm standby: {} objects matched their Observations, {} read and reconciled",
        matched,
        read);
  }

  /** The key hashes of the unresolved Observations of the object with this uid. */
  private long[] openKeys(String uid) {
    return pipeline.openKeys(uid).stream()
        .mapToLong(k -> Digest.hash(k.namespace(), k.name()))
        .toArray();
  }
}
