package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.Observations;
import io.kubezen.watcher.store.PartialWriteException;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.Shed;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.WriteOutcome;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ObservationStore} as {@code zen.kube-zen.io/v1alpha1} Observation custom resources, for
 * kubernetes mode. What it is made of, each in its own class:
 *
 * <ul>
 *   <li>{@link ObservationCache}: an informer over the Observations, trimmed; it answers "does this
 *       exist, with which status and resourceVersion", "what did this report produce", the live
 *       count, eviction victims, GC candidates, the read API's list order and the console's reads,
 *       so that writes cost requests only for what changes. Until it has synced, reads go to the
 *       API server instead.
 *   <li>{@link ApiCalls}: the requests: the adaptive write limiter, the worker threads a batch runs
 *       on, 429 retries, and the read-modify-write of a status with 409 retries.
 *   <li>{@link CapacityGuard}: {@code MAX_OBSERVATIONS} (admission, eviction of a lower severity,
 *       refusal, the shed counts).
 *   <li>{@link ScopedLists}: lists from the API server within the access scope (all namespaces, or
 *       each namespace of a namespaced install), paging, the readiness probe.
 *   <li>{@link ObservationGc}: the TTL sweep.
 *   <li>{@link NewestFirst}: the read API's list over the cache, newest first.
 * </ul>
 *
 * <h2>Writes (this class)</h2>
 *
 * <ul>
 *   <li>Create with the deterministic name; 409 AlreadyExists means the finding is stored already
 *       (another replica, a previous pod, a retried request) and the status is merged instead.
 *   <li><b>One write per new Observation.</b> The status subresource drops {@code status} on
 *       create; the CRD's schema default makes it {@code {count: 1}} as the API server answers, and
 *       a missing time means the implicit one (first and last seen at {@code spec.detectedAt}),
 *       which every read and merge of this store fills in ({@link Statuses#effective}). Only an
 *       Observation created with another status (count above 1, other times) gets a status write
 *       after its create, as a merge onto the implicit status, so that it is exact even when
 *       another replica merges in between.
 *   <li>Partial failure: outcomes are collected per item; when any item failed the call throws a
 *       {@link PartialWriteException} whose {@code outcomes()} holds the outcome of each item that
 *       was written (null for the failed ones). A caller that retries the whole batch counts the
 *       written ones twice (their create meets 409 and merges: count + 1 at worst); so does a lost
 *       acknowledgement of a create. Nothing is ever duplicated.
 *   <li>{@code spec.details} larger than {@code maxDetailsBytes} is cut: largest values first,
 *       {@code truncated: true} added. The store adds the label {@link #LABEL_EVENT_TYPE}.
 *   <li>The writer may have {@link #writeConcurrency()} batches in flight at once; it never hands
 *       two of them the same Observation.
 * </ul>
 */
public final class KubernetesObservationStore implements ObservationStore {
  private static final Logger log = LoggerFactory.getLogger(KubernetesObservationStore.class);

  /**
   * The eventType, as a label (the value itself, or {@code h.<sha-256 prefix>} when it is not a
   * valid label value), so that the read API can filter on it server-side.
   */
  public static final String LABEL_EVENT_TYPE = Observation.GROUP + "/event-type";

  /** Attempts of one item when its Observation is deleted and re-created under it. */
  static final int MAX_ROUNDS = 3;

  /** What was shed to respect {@code maxObservations}. */
  private final Clock clock;

  private final KubernetesStoreOptions options;
  private final ObservationCache cache;
  private final ApiCalls calls;
  private final CapacityGuard capacity;
  private final ScopedLists lists;
  private final ObservationGc gc;
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Starts the Observation cache in the background ({@link #liveCount} is -1 until it has synced).
   * The client stays the caller's: {@link #close} does not close it.
   */
  public KubernetesObservationStore(
      KubernetesClient client, Clock clock, KubernetesStoreOptions options) {
    Objects.requireNonNull(client, "client");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    // Every replica keeps it: a new leader needs no re-list, and every replica can answer from it.
    this.cache =
        new ObservationCache(options.maxObservations() > 0).start(client, options.namespaces());
    this.calls = new ApiCalls(client, cache, options);
    this.capacity = new CapacityGuard(options.maxObservations(), cache, calls);
    this.lists = new ScopedLists(calls, options.namespaces());
    this.gc = new ObservationGc(cache, calls, lists);
  }

  // ---------------------------------------------------------------- metrics

  /** Live Observations as this replica knows them; -1 until the initial count is done. */
  public long liveCount() {
    return cache.hasSynced() ? cache.size() : -1;
  }

  /** Observations of {@code severity} shed so far ({@code zen_watcher_observations_shed_total}). */
  @Override
  public long shedCount(Severity severity, Shed kind) {
    return capacity.shedCount(severity, kind);
  }

  /** Status writes that met 409 Conflict and were retried. */
  public long conflictRetries() {
    return calls.conflictRetries();
  }

  /** Requests answered 429 after the client's own retries, and retried by the store. */
  public long throttledRetries() {
    return calls.throttledRetries();
  }

  /** The write rate the limiter allows now, writes per second. */
  public double writeRateLimit() {
    return calls.writeRateLimit();
  }

  // ---------------------------------------------------------------- writes

  /**
   * Batches the writer may have in flight at once: their items share the {@code maxInFlight}
   * workers, so the next batch fills the workers while the last items of the previous one finish.
   */
  @Override
  public int writeConcurrency() {
    return Math.max(2, Math.min(8, options.maxInFlight() / 8));
  }

  /** An Observation ready to be created: its body and the status it wants. */
  private record Prepared(
      String namespace,
      String name,
      Observation body,
      ObservationStatus wanted,
      boolean implicit,
      Severity severity) {}

  @Override
  public List<WriteOutcome> createOrMerge(List<Observation> observations) {
    List<Prepared> items = prepareAll(observations);
    return calls.fanOut(
        "createOrMerge",
        items.size(),
        i -> create(items.get(i), true),
        i -> items.get(i).namespace() + "/" + items.get(i).name());
  }

  @Override
  public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    List<Prepared> items = prepareAll(observations);
    return calls.fanOut(
        "createIfAbsent",
        items.size(),
        i -> create(items.get(i), false),
        i -> items.get(i).namespace() + "/" + items.get(i).name());
  }

  private List<Prepared> prepareAll(List<Observation> observations) {
    List<Prepared> out = new ArrayList<>(observations.size());
    for (Observation o : observations) {
      out.add(prepare(o));
    }
    return out;
  }

  private Prepared prepare(Observation o) {
    Observations.requireWritable(o);
    ObjectMeta meta = o.getMetadata();
    ObservationSpec spec = o.getSpec();
    ObservationStatus status = o.getStatus();
    Map<String, String> labels = new LinkedHashMap<>();
    if (meta.getLabels() != null) {
      labels.putAll(meta.getLabels());
    }
    if (spec.eventType() != null) {
      labels.put(LABEL_EVENT_TYPE, eventTypeLabel(spec.eventType()));
    }
    ObservationSpec stored =
        new ObservationSpec(
            spec.source(),
            spec.category(),
            spec.severity(),
            spec.eventType(),
            spec.resource(),
            spec.title(),
            DetailsCap.cap(spec.details(), options.maxDetailsBytes()),
            spec.detectedAt(),
            spec.fingerprint(),
            spec.ttlSecondsAfterCreation(),
            spec.clusterName() != null ? spec.clusterName() : options.clusterName());
    Observation body = new Observation();
    body.setMetadata(
        new ObjectMetaBuilder()
            .withName(meta.getName())
            .withNamespace(meta.getNamespace())
            .withLabels(labels.isEmpty() ? null : labels)
            .withAnnotations(
                meta.getAnnotations() == null || meta.getAnnotations().isEmpty()
                    ? null
                    : meta.getAnnotations())
            .build());
    body.setSpec(stored);
    ObservationStatus wanted = status != null ? status : ObservationStatus.seen(1, null, null);
    if (wanted.firstSeen() == null
        && wanted.lastSeen() == null
        && Statuses.parse(spec.detectedAt()) == null) {
      String now = clock.instant().toString();
      wanted =
          new ObservationStatus(wanted.count(), now, now, wanted.resolved(), wanted.resolvedAt());
    }
    boolean implicit = Statuses.isImplicit(o) && Statuses.parse(spec.detectedAt()) != null;
    Severity severity = spec.severity() != null ? spec.severity() : Severity.INFO;
    return new Prepared(meta.getNamespace(), meta.getName(), body, wanted, implicit, severity);
  }

  /**
   * How long a reconcile waits for the Observation cache's initial list before it reads instead.
   */
  static final Duration CACHE_WAIT = Duration.ofSeconds(30);

  /** What the cache knows of {@code ns/name}: null when it has not synced (ask the API server). */
  private Optional<ObservationCache.Entry> cached(String ns, String name) {
    return cache.hasSynced() ? Optional.ofNullable(cache.get(ns, name)) : null;
  }

  /** One create: CREATED, MERGED (merge) or EXISTED (not merge); MISSING when shed. */
  private WriteOutcome create(Prepared p, boolean merge) {
    UnaryOperator<ObservationStatus> onExisting =
        merge ? s -> Statuses.merge(s, p.wanted(), 0) : Statuses::unresolve;
    WriteOutcome existing = merge ? WriteOutcome.MERGED : WriteOutcome.EXISTED;
    if (!merge) {
      // Reconciling a watched source: almost everything exists already after a failover. The
      // cache answers without a request; before it has synced, a read does (not a create, which
      // would cost a write and a 409 for each).
      cache.awaitSynced(CACHE_WAIT);
    }
    Optional<ObservationCache.Entry> known = cached(p.namespace(), p.name());
    if (known == null && !merge) {
      Observation current =
          calls.read(() -> calls.api.inNamespace(p.namespace()).withName(p.name()).get());
      if (current != null
          && calls.mutate(p.namespace(), p.name(), ApiCalls.Known.of(current), onExisting)
              != ApiCalls.Mutation.MISSING) {
        return existing;
      }
    } else if (known != null && known.isPresent()) {
      if (calls.mutate(p.namespace(), p.name(), ApiCalls.Known.of(known.get()), onExisting)
          != ApiCalls.Mutation.MISSING) {
        return existing;
      }
    }
    for (int round = 0; round < MAX_ROUNDS; round++) {
      CapacityGuard.Admission admission = capacity.admit(p.namespace(), p.name(), p.severity());
      if (admission.refused()) {
        return WriteOutcome.MISSING;
      }
      if (admission.existing() != null) {
        if (calls.mutate(p.namespace(), p.name(), admission.existing(), onExisting)
            != ApiCalls.Mutation.MISSING) {
          return existing;
        }
        continue;
      }
      Observation created;
      try {
        created =
            calls.write(() -> calls.api.inNamespace(p.namespace()).resource(p.body()).create());
        cache.written(created);
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          if (calls.mutate(p.namespace(), p.name(), null, onExisting)
              != ApiCalls.Mutation.MISSING) {
            return existing;
          }
          continue; // deleted between the 409 and the read: create it again
        }
        if (e.getCode() == 422) {
          throw new io.kubezen.watcher.store.RejectedWriteException(
              "the API server refused Observation "
                  + p.namespace()
                  + "/"
                  + p.name()
                  + " as invalid (HTTP 422): "
                  + e.getMessage(),
              e);
        }
        throw e;
      } finally {
        capacity.release(admission);
      }
      if (!p.implicit()) {
        // A merge onto the implicit status (which counts this sighting once already): exact even
        // when another writer merged into the new Observation in between.
        calls.mutate(
            p.namespace(),
            p.name(),
            ApiCalls.Known.of(created),
            s -> {
              ObservationStatus m = Statuses.merge(s, p.wanted(), 1);
              boolean resolved = Boolean.TRUE.equals(p.wanted().resolved());
              return resolved
                  ? new ObservationStatus(
                      m.count(), m.firstSeen(), m.lastSeen(), true, p.wanted().resolvedAt())
                  : m;
            });
      }
      return WriteOutcome.CREATED;
    }
    throw new StoreException(
        "Observation "
            + p.namespace()
            + "/"
            + p.name()
            + " was deleted and re-created "
            + MAX_ROUNDS
            + " times while being written");
  }

  @Override
  public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    for (Repeat r : repeats) {
      Objects.requireNonNull(r, "repeat");
    }
    return calls.fanOut(
        "addRepeats",
        repeats.size(),
        i -> {
          Repeat r = repeats.get(i);
          ApiCalls.Mutation m =
              calls.mutate(
                  r.namespace(),
                  r.name(),
                  knownOrNull(r.namespace(), r.name()),
                  s -> Statuses.repeat(s, r.delta(), r.lastSeen()));
          return m == ApiCalls.Mutation.MISSING ? WriteOutcome.MISSING : WriteOutcome.MERGED;
        });
  }

  @Override
  public List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    Objects.requireNonNull(at, "at");
    return calls.fanOut(
        "resolve",
        keys.size(),
        i -> {
          ObservationKey k = keys.get(i);
          ApiCalls.Mutation m =
              calls.mutate(
                  k.namespace(),
                  k.name(),
                  knownOrNull(k.namespace(), k.name()),
                  s -> Statuses.resolve(s, at));
          return m == ApiCalls.Mutation.MISSING ? WriteOutcome.MISSING : WriteOutcome.MERGED;
        });
  }

  /** What the cache knows, or null (read it). */
  private ApiCalls.Known knownOrNull(String ns, String name) {
    Optional<ObservationCache.Entry> e = cached(ns, name);
    return e == null || e.isEmpty() ? null : ApiCalls.Known.of(e.get());
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Optional<Observation> get(String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    ensureOpen();
    try {
      return Optional.ofNullable(
              calls.read(() -> calls.api.inNamespace(namespace).withName(name).get()))
          .map(KubernetesObservationStore::forReading);
    } catch (KubernetesClientException e) {
      throw ScopedLists.failure("get " + namespace + "/" + name, e);
    }
  }

  /**
   * Newest first (creation time, then name, then namespace), as the other stores: the rows and the
   * page token come from the Observation cache ({@link NewestFirst}), each row is then read whole
   * (one GET per row, in parallel on the workers; a row deleted in between is left out). Before the
   * cache has synced (a few seconds after start) the API server's list answers instead, in its own
   * order (namespace, then name) with its own token.
   */
  @Override
  public ObservationPage list(ObservationQuery query) {
    ensureOpen();
    if (!cache.awaitSynced(CONSOLE_CACHE_WAIT)) {
      return lists.list(query);
    }
    if (query.continueToken() != null && !NewestFirst.isToken(query.continueToken())) {
      // The API server's token, of a list begun before the cache synced: go on in that order.
      return lists.list(query);
    }
    NewestFirst.Page page = NewestFirst.page(cache.entries(), query);
    List<Future<Optional<Observation>>> reads = new ArrayList<>(page.rows().size());
    for (ObservationCache.Entry e : page.rows()) {
      reads.add(calls.submit(() -> get(e.namespace(), e.name())));
    }
    List<Observation> items = new ArrayList<>(reads.size());
    for (Future<Optional<Observation>> f : reads) {
      try {
        f.get().ifPresent(items::add);
      } catch (ExecutionException e) {
        throw e.getCause() instanceof StoreException se
            ? se
            : new StoreException("list: a read failed: " + e.getCause(), e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        reads.forEach(x -> x.cancel(true));
        throw new StoreException("list interrupted", e);
      }
    }
    return new ObservationPage(items, page.continueToken());
  }

  @Override
  public List<Observation> listByOrigin(String originUid) {
    Objects.requireNonNull(originUid, "originUid");
    ensureOpen();
    List<String> selector = new ArrayList<>();
    if (!ScopedLists.addSelector(selector, Observation.LABEL_ORIGIN_UID, originUid)) {
      return List.of();
    }
    if (cache.awaitSynced(CACHE_WAIT)) {
      return cache.byOrigin(originUid).stream().map(KubernetesObservationStore::trimmed).toList();
    }
    List<Observation> out = new ArrayList<>();
    try {
      lists.forEachPage(selector.get(0), page -> page.forEach(o -> out.add(forReading(o))));
    } catch (KubernetesClientException e) {
      throw ScopedLists.failure("listByOrigin " + originUid, e);
    }
    return out;
  }

  /**
   * An Observation as the cache has it: metadata, labels, status; the spec without title and
   * details.
   */
  static Observation trimmed(ObservationCache.Entry e) {
    Observation o = new Observation();
    Map<String, String> labels = new LinkedHashMap<>();
    if (e.source() != null) {
      labels.put(Observation.LABEL_SOURCE, e.source());
    }
    labels.put(Observation.LABEL_SEVERITY, e.severity().wire());
    if (e.category() != null) {
      labels.put(Observation.LABEL_CATEGORY, e.category().wire());
    }
    if (e.originUid() != null) {
      labels.put(Observation.LABEL_ORIGIN_UID, e.originUid());
    }
    o.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(e.namespace())
            .withName(e.name())
            .withResourceVersion(e.resourceVersion())
            .withCreationTimestamp(e.creationTimestamp())
            .withLabels(labels)
            .build());
    o.setSpec(
        new ObservationSpec(
            e.source(),
            e.category(),
            e.severity(),
            e.eventType(),
            e.resource(),
            null,
            null,
            null,
            null,
            e.ttlSeconds(),
            e.clusterName()));
    o.setStatus(e.status());
    return o;
  }

  /** What readers see: the effective status, no managed fields. */
  static Observation forReading(Observation o) {
    o.setStatus(Statuses.effective(o));
    if (o.getMetadata() != null) {
      o.getMetadata().setManagedFields(null);
    }
    return o;
  }

  // ---------------------------------------------------------------- GC

  @Override
  public GcResult deleteExpired(Instant now, java.util.Set<String> stateLikeSources) {
    ensureOpen();
    return gc.deleteExpired(now, stateLikeSources);
  }

  // ---------------------------------------------------------------- lifecycle

  @Override
  public boolean isReachable() {
    return !closed.get() && lists.isReachable();
  }

  /** Stops the cache, the workers and the probe; the client is the caller's and stays open. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    cache.close();
    lists.close();
    calls.close();
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new StoreException("kubernetes store is closed");
    }
  }

  /** The label value for an eventType: itself when valid as a label value, else a hash of it. */
  static String eventTypeLabel(String eventType) {
    if (eventType.length() <= 63 && ScopedLists.LABEL_VALUE.matcher(eventType).matches()) {
      return eventType;
    }
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256").digest(eventType.getBytes(StandardCharsets.UTF_8));
      return "h." + HexFormat.of().formatHex(h).substring(0, 40);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ console reads
  // Answered from the informer-fed Observation cache by one in-memory scan per call (ConsoleReads);
  // never by listing the collection from the API server.

  /** How long a console read waits for the cache's initial list before it answers "unavailable". */
  static final Duration CONSOLE_CACHE_WAIT = Duration.ofSeconds(5);

  private java.util.Collection<ObservationCache.Entry> consoleEntries() {
    ensureOpen();
    if (!cache.awaitSynced(CONSOLE_CACHE_WAIT)) {
      throw new StoreException(
          "the Observation cache has not synced yet; the console reads wait for it");
    }
    return cache.entries();
  }

  /**
   * A findings row: the trimmed Observation with its (capped) title; {@code get} reads the full
   * one.
   */
  static Observation forConsole(ObservationCache.Entry e) {
    Observation o = trimmed(e);
    ObservationSpec s = o.getSpec();
    o.setSpec(
        new ObservationSpec(
            s.source(),
            s.category(),
            s.severity(),
            s.eventType(),
            s.resource(),
            e.title(),
            null,
            null,
            null,
            s.ttlSecondsAfterCreation(),
            s.clusterName()));
    return o;
  }

  @Override
  public io.kubezen.watcher.store.ObservationPage findings(
      io.kubezen.watcher.store.FindingsQuery query) {
    return ConsoleReads.findings(consoleEntries(), query, KubernetesObservationStore::forConsole);
  }

  @Override
  public List<io.kubezen.watcher.store.GroupCount> countBy(
      io.kubezen.watcher.store.FindingFilter filter,
      List<io.kubezen.watcher.store.GroupField> fields) {
    return ConsoleReads.countBy(consoleEntries(), filter, fields);
  }

  @Override
  public List<io.kubezen.watcher.store.RankedGroup> topByCriticalHigh(
      io.kubezen.watcher.store.FindingFilter filter,
      io.kubezen.watcher.store.RankedGroup.By by,
      int limit) {
    return ConsoleReads.topByCriticalHigh(consoleEntries(), filter, by, limit);
  }

  @Override
  public List<io.kubezen.watcher.store.TimeBucket> timeline(
      io.kubezen.watcher.store.FindingFilter filter,
      Instant from,
      Instant to,
      java.time.Duration width) {
    return ConsoleReads.timeline(consoleEntries(), filter, from, to, width);
  }

  @Override
  public List<io.kubezen.watcher.store.SourceActivity> sourceActivity(
      io.kubezen.watcher.store.FindingFilter filter) {
    return ConsoleReads.sourceActivity(consoleEntries(), filter);
  }

  @Override
  public io.kubezen.watcher.store.StoreSummary summary() {
    consoleEntries();
    return cache.summary();
  }
}
