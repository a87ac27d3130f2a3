package io.kubezen.watcher.store;

import io.kubezen.api.v1alpha1.Observation;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where Observations live: SQLite standalone, custom resources in a cluster, PostgreSQL for many clusters. Blocking; the writer
 * calls the write methods from its own thread, reads come from a worker pool. Every method is safe
 * to call from several threads at once.
 *
 * <p>Failures other than "not found" throw {@link StoreException}; nothing half-written is reported
 * as stored.
 */
public interface ObservationStore extends AutoCloseable {

  /**
   * Stores each Observation: creates it when no Observation of that namespace/name exists;
   * otherwise merges it into the existing one ({@code status.count += its status.count},
   * {@code lastSeen = max}, {@code firstSeen = min}; the spec is left as it was). The store sets
   * {@code metadata.creationTimestamp} on creation. Returns one outcome per input, in order
   * ({@link WriteOutcome#CREATED} or {@link WriteOutcome#MERGED}).
   */
  List<WriteOutcome> createOrMerge(List<Observation> observations);

  /**
   * Creates each Observation that does not exist yet and leaves existing ones as they are (their
   * count is not changed), except that a resolved one is marked unresolved again: its finding is
   * back. This is how informer sources reconcile: re-listing a report any number of times creates
   * nothing twice and counts nothing twice. One outcome per input, in order:
   * {@link WriteOutcome#CREATED} or {@link WriteOutcome#EXISTED}.
   */
  List<WriteOutcome> createIfAbsent(List<Observation> observations);

  /**
   * The Observations created from the object with this uid (label
   * {@link io.kubezen.api.v1alpha1.Observation#LABEL_ORIGIN_UID}), resolved or not.
   */
  List<Observation> listByOrigin(String originUid);

  /**
   * Marks Observations resolved ({@code status.resolved = true}, {@code status.resolvedAt = at}) when
   * their finding disappeared from its source. One outcome per key: {@link WriteOutcome#MERGED}
   * (resolved now or already), or {@link WriteOutcome#MISSING}.
   */
  List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at);

  /**
   * Adds repeats to existing Observations ({@code count += delta}, {@code lastSeen = max}). One
   * outcome per input: {@link WriteOutcome#MERGED}, or {@link WriteOutcome#MISSING} when the
   * Observation no longer exists (deleted by GC or by hand); a missing one is not re-created.
   */
  List<WriteOutcome> addRepeats(List<Repeat> repeats);

  Optional<Observation> get(String namespace, String name);

  /** Newest first (creation time, then name), filtered by the query, paged by its continue token. */
  ObservationPage list(ObservationQuery query);

  /** {@link #deleteExpired(Instant, Set)} with no state-like sources (standalone: nothing is watched). */
  default GcResult deleteExpired(Instant now) {
    return deleteExpired(now, Set.of());
  }

  /**
   * Deletes every expired Observation. One failing delete does not stop the sweep. When an
   * Observation expires (its TTL is {@code spec.ttlSecondsAfterCreation}):
   *
   * <ul>
   *   <li>resolved: at {@code status.resolvedAt + TTL};
   *   <li>unresolved, from a state-like watched source (it has an origin uid and its
   *       {@code spec.source} is in {@code stateLikeSources}): never, its finding is still in its
   *       report;
   *   <li>any other (webhook findings, Kubernetes Events): at {@code creationTimestamp + TTL}.
   * </ul>
   */
  GcResult deleteExpired(Instant now, Set<String> stateLikeSources);

  /**
   * True when this store holds the Observations of several clusters (the postgres store): its
   * {@link #list} filters on {@link ObservationQuery#cluster()} and {@link #get(String, String, String)}
   * picks a cluster. The others hold one cluster's and refuse a cluster filter.
   */
  default boolean holdsClusters() {
    return false;
  }

  /**
   * The Observation namespace/name of {@code cluster} ({@code spec.clusterName}); any cluster's when
   * {@code cluster} is null. A store of one cluster answers with its own when the name matches.
   */
  default Optional<Observation> get(String cluster, String namespace, String name) {
    return get(namespace, name).filter(o -> cluster == null
        || (o.getSpec() != null && cluster.equals(o.getSpec().clusterName())));
  }

  /** For readiness: true when the store answers a trivial query. Never throws. */
  boolean isReachable();

  /**
   * Whether repeat counts are made durable before a webhook is answered: the answer to a repeat
   * waits until its count is committed, and the writer commits all waiting repeats in one
   * transaction (group commit). True for database stores; false for the Kubernetes store, where
   * aggregation exists to save etcd writes and at most one flush interval of counts
   * ({@code DEDUP_FLUSH_INTERVAL_MILLIS}) can be lost in a crash.
   */
  default boolean durableRepeats() {
    return false;
  }

  @Override
  void close();
}
