package io.kubezen.watcher.store;

import io.kubezen.api.v1alpha1.Observation;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where Observations live: SQLite standalone, custom resources in a cluster, PostgreSQL for many
 * clusters. Blocking; the writer calls the write methods from its own thread, reads come from a
 * worker pool. Every method is safe to call from several threads at once.
 *
 * <p>Failures other than "not found" throw {@link StoreException}; nothing half-written is reported
 * as stored.
 */
public interface ObservationStore extends AutoCloseable {

  /**
   * Stores each Observation: creates it when no Observation of that namespace/name exists;
   * otherwise merges it into the existing one ({@code status.count += its status.count}, {@code
   * lastSeen = max}, {@code firstSeen = min}; the spec is left as it was). The store sets {@code
   * metadata.creationTimestamp} on creation. Returns one outcome per input, in order ({@link
   * WriteOutcome#CREATED} or {@link WriteOutcome#MERGED}).
   */
  List<WriteOutcome> createOrMerge(List<Observation> observations);

  /**
   * Creates each Observation that does not exist yet and leaves existing ones as they are (their
   * count is not changed), except that a resolved one is marked unresolved again: its finding is
   * back. This is how informer sources reconcile: re-listing a report any number of times creates
   * nothing twice and counts nothing twice. One outcome per input, in order: {@link
   * WriteOutcome#CREATED} or {@link WriteOutcome#EXISTED}.
   */
  List<WriteOutcome> createIfAbsent(List<Observation> observations);

  /**
   * The Observations created from the object with this uid (label {@link
   * io.kubezen.api.v1alpha1.Observation#LABEL_ORIGIN_UID}), resolved or not.
   */
  List<Observation> listByOrigin(String originUid);

  /**
   * Marks Observations resolved ({@code status.resolved = true}, {@code status.resolvedAt = at})
   * when their finding disappeared from its source. One outcome per key: {@link
   * WriteOutcome#MERGED} (resolved now or already), or {@link WriteOutcome#MISSING}.
   */
  List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at);

  /**
   * Adds repeats to existing Observations ({@code count += delta}, {@code lastSeen = max}). One
   * outcome per input: {@link WriteOutcome#MERGED}, or {@link WriteOutcome#MISSING} when the
   * Observation no longer exists (deleted by GC or by hand); a missing one is not re-created.
   */
  List<WriteOutcome> addRepeats(List<Repeat> repeats);

  Optional<Observation> get(String namespace, String name);

  /**
   * Newest first (creation time, then name), filtered by the query, paged by its continue token.
   */
  ObservationPage list(ObservationQuery query);

  /**
   * {@link #deleteExpired(Instant, Set)} with no state-like sources (standalone: nothing is
   * watched).
   */
  default GcResult deleteExpired(Instant now) {
    return deleteExpired(now, Set.of());
  }

  /**
   * Deletes every expired Observation. One failing delete does not stop the sweep. When an
   * Observation expires (its TTL is {@code spec.ttlSecondsAfterCreation}):
   *
   * <ul>
   *   <li>resolved: at {@code status.resolvedAt + TTL};
   *   <li>unresolved, from a state-like watched source (it has an origin uid and its {@code
   *       spec.source} is in {@code stateLikeSources}): never, its finding is still in its report;
   *   <li>any other (webhook findings, Kubernetes Events): at {@code creationTimestamp + TTL}.
   * </ul>
   */
  GcResult deleteExpired(Instant now, Set<String> stateLikeSources);

  /**
   * True when this store holds the Observations of several clusters (the postgres store): its
   * {@link #list} filters on {@link ObservationQuery#cluster()} and {@link #get(String, String,
   * String)} picks a cluster. The others hold one cluster's and refuse a cluster filter.
   */
  default boolean holdsClusters() {
    return false;
  }

  /**
   * The Observation namespace/name of {@code cluster} ({@code spec.clusterName}); any cluster's
   * when {@code cluster} is null. A store of one cluster answers with its own when the name
   * matches.
   */
  default Optional<Observation> get(String cluster, String namespace, String name) {
    return get(namespace, name)
        .filter(
            o ->
                cluster == null
                    || (o.getSpec() != null && cluster.equals(o.getSpec().clusterName())));
  }

  // ------------------------------------------------------------------ console reads
  // Read-only questions the web console asks. A store answers each without reading the whole
  // collection per call (SQL with indexes; the Kubernetes store from its Observation cache).

  /**
   * One keyset page of the findings that match {@code query.filter()}, in {@code query.sort()}
   * order (see {@link FindingSort}; ties broken by Observation namespace, then name, ascending), at
   * most {@code query.limit()} of them, starting after the row {@code query.after()} names. The
   * page's continue token is null when no row follows; otherwise it names the last row of the page
   * (it stays valid when rows are added or removed: the next page starts after that row's sort
   * key). A token this store did not issue for the same sort throws {@link
   * InvalidContinueTokenException}.
   */
  ObservationPage findings(FindingsQuery query);

  /**
   * The number of findings matching {@code filter}, grouped by the values of {@code fields} (one to
   * three, no repeats; see {@link GroupField} for each field's value). Groups with no finding are
   * absent. Order: count descending, then the key values ascending (null first).
   */
  List<GroupCount> countBy(FindingFilter filter, List<GroupField> fields);

  /**
   * The namespaces ({@link RankedGroup.By#NAMESPACE}: findings grouped by {@code
   * spec.resource.namespace}, findings without one left out) or the resources ({@link
   * RankedGroup.By#RESOURCE}: grouped by {@code spec.resource} namespace, kind and name; findings
   * without a resource name left out) that have the most critical and high findings among those
   * matching {@code filter}: each with its critical, high and total counts. Groups with neither a
   * critical nor a high finding are left out. Order: critical descending, high descending, then
   * namespace, kind, name ascending (null first). At most {@code limit} (1..1000) groups.
   */
  List<RankedGroup> topByCriticalHigh(FindingFilter filter, RankedGroup.By by, int limit);

  /**
   * New and resolved findings over time: the buckets [from + i * width, from + (i + 1) * width)
   * that cover [from, to), every one of them (zeros included), oldest first. {@code opened} counts
   * findings matching {@code filter} whose {@code status.firstSeen} is in the bucket; {@code
   * resolved} those whose {@code status.resolvedAt} is in it and that are resolved now. The
   * filter's {@link FindingFilter#state()} is ignored. At most 1000 buckets, else
   * IllegalArgumentException.
   */
  List<TimeBucket> timeline(
      FindingFilter filter, java.time.Instant from, java.time.Instant to, java.time.Duration width);

  /**
   * Per source that has findings matching {@code filter}: the newest {@code status.lastSeen} among
   * them, how many are open, how many in all. Ordered by source name.
   */
  List<SourceActivity> sourceActivity(FindingFilter filter);

  /** See {@link StoreSummary}. Cheap: the console calls it on every live check. */
  StoreSummary summary();

  /**
   * Live Observations as this store last counted them, for the gauge {@code
   * zen_watcher_observations_live}; -1 while not counted (yet). Cheap and never blocks on a remote
   * database (a store may answer a count a few seconds old).
   */
  default long liveCount() {
    return -1;
  }

  /** For readiness: true when the store answers a trivial query. Never throws. */
  boolean isReachable();

  /**
   * Observations of {@code severity} shed so far by this store to respect MAX_OBSERVATIONS:
   * refused, or evicted to make room for one of a higher severity. Zero without a cap.
   */
  default long shedCount(io.kubezen.api.v1alpha1.Severity severity, Shed action) {
    return 0;
  }

  /**
   * Whether repeat counts are made durable before a webhook is answered: the answer to a repeat
   * waits until its count is committed, and the writer commits all waiting repeats in one
   * transaction (group commit). True for database stores; false for the Kubernetes store, where
   * aggregation exists to save etcd writes and at most one flush interval of counts ({@code
   * DEDUP_FLUSH_INTERVAL_MILLIS}) can be lost in a crash.
   */
  default boolean durableRepeats() {
    return false;
  }

  /**
   * How many write calls ({@link #createOrMerge}, {@link #createIfAbsent}, {@link #resolve}, {@link
   * #addRepeats}) the writer may have in flight at once, each from its own thread. The writer never
   * lets two calls in flight write the same Observation (nor a resolve of a watched object run
   * beside creates of that object), so a store needs no ordering of its own across calls. 1 (the
   * default): one call at a time, in queue order. A store that runs a call's items in parallel
   * itself still gains from more than one: the next batch starts while the slowest items of the
   * previous one finish.
   */
  default int writeConcurrency() {
    return 1;
  }

  @Override
  void close();
}
