package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.StatusDetails;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.Observations;
import io.kubezen.watcher.store.PartialWriteException;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.WriteOutcome;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ObservationStore} as {@code zen.kube-zen.io/v1alpha1} Observation custom resources, for
 * kubernetes mode.
 *
 * <h2>The Observation cache</h2>
 * Every store keeps an {@link ObservationCache}: an informer over the Observations, trimmed. It
 * answers "does this exist, with which status and resourceVersion", "what did this report
 * produce", the live count, eviction victims and GC candidates, so that writes cost requests only
 * for what changes. Until it has synced, reads go to the API server instead.
 *
 * <h2>Writes</h2>
 * <ul>
 *   <li>Every write (create, status patch, delete) takes a slot of the {@link AdaptiveLimiter}
 *       (as fast as the API server answers; halved on 429/5xx, slower on rising latency; {@code
 *       writeQps} an optional ceiling); the items of a batch run concurrently on {@code
 *       maxInFlight} worker threads. A 429 is retried by the client itself (it honours
 *       Retry-After); should the client give up, the store waits {@code details.retryAfterSeconds}
 *       (1 s without it) and retries, at most {@link #MAX_THROTTLE_RETRIES} times.</li>
 *   <li>Create with the deterministic name; 409 AlreadyExists means the finding is stored already
 *       (another replica, a previous pod, a retried request) and the status is merged instead:
 *       get, modify, a merge patch of the status carrying the resourceVersion read (a precondition),
 *       again on 409 Conflict (at most {@link #MAX_CONFLICT_RETRIES} attempts).</li>
 *   <li><b>One write per new Observation.</b> The status subresource drops {@code status} on create.
 *       Instead of a second write per create, a missing status means the implicit status (count 1,
 *       first and last seen at {@code spec.detectedAt}), which every read and every merge of this
 *       store fills in ({@link Statuses#effective}); the first status write makes it explicit. Only
 *       an Observation created with another status (count above 1, other times) gets a status
 *       write after its create, as a merge onto the implicit status, so that it is exact even when
 *       another replica merges in between.</li>
 *   <li>Partial failure: outcomes are collected per item; when any item failed the call throws a
 *       {@link PartialWriteException} whose {@code outcomes()} holds the outcome of each item that
 *       was written (null for the failed ones). A caller that retries the whole batch counts the
 *       written ones twice (their create meets 409 and merges: count + 1 at worst); so does a lost
 *       acknowledgement of a create. Nothing is ever duplicated.</li>
 *   <li>{@code MAX_OBSERVATIONS}: when the live count (the cache's size plus the creates admitted
 *       and not yet in it) has reached the cap, a new Observation evicts one of a lower severity
 *       (the lowest there is, from the cache's severity index) or, when there is none, is refused:
 *       its outcome is {@link WriteOutcome#MISSING}. Both are counted ({@link #shedCount}).</li>
 *   <li>{@code spec.details} larger than {@code maxDetailsBytes} is cut: largest values first,
 *       {@code truncated: true} added. The store adds the label {@link #LABEL_EVENT_TYPE}.</li>
 * </ul>
 *
 * <h2>Reads</h2>
 * {@link #list} filters with label selectors (source, severity, category, event type) and the
 * namespace, and passes limit and continue straight to the API server: in kubernetes mode the order
 * is the API server's (namespace, then name), not newest first, and the continue token is the API
 * server's (it expires after a few minutes: {@link InvalidContinueTokenException}).
 *
 * <h2>Namespaced access</h2>
 * With {@link KubernetesStoreOptions#namespaces()} set (a service account with namespaced Roles
 * only), no call is made across all namespaces: GC, counting, {@link #listByOrigin}, eviction and
 * the readiness probe list each namespace in turn, and a {@link #list} without a namespace walks
 * them in order, its continue token naming the namespace and the API server's token within it.
 */
public final class KubernetesObservationStore implements ObservationStore {
  private static final Logger log = LoggerFactory.getLogger(KubernetesObservationStore.class);

  /**
   * The eventType, as a label (the value itself, or {@code h.<sha-256 prefix>} when it is not a
   * valid label value), so that the read API can filter on it server-side.
   */
  public static final String LABEL_EVENT_TYPE = Observation.GROUP + "/event-type";
  /** Page size of the lists of GC, counting and listByOrigin. */
  static final int PAGE = 500;
  static final int MAX_CONFLICT_RETRIES = 16;
  static final int MAX_THROTTLE_RETRIES = 5;
  /** Attempts of one item when its Observation is deleted and re-created under it. */
  static final int MAX_ROUNDS = 3;
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(5);

  private static final Pattern LABEL_VALUE = Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");

  /** What was shed to respect {@code maxObservations}. */
  public enum Shed {
    /** A new Observation that was not created: nothing of lower severity to make room. */
    REFUSED,
    /** An existing Observation deleted to make room for one of a higher severity. */
    EVICTED
  }

  /** API writes issued (each attempt counts, retries included), for metrics and tests. */
  public record WriteCounts(long creates, long statusUpdates, long deletes) {
    public long total() {
      return creates + statusUpdates + deletes;
    }
  }

  private final MixedOperation<Observation, KubernetesResourceList<Observation>, Resource<Observation>> api;
  private final Clock clock;
  private final KubernetesStoreOptions options;
  private final AdaptiveLimiter limiter;
  private final ExecutorService workers;
  private final ExecutorService prober;
  private final AtomicBoolean closed = new AtomicBoolean();

  private final ObservationCache cache;
  /** Creates admitted under the cap and not yet in the cache. */
  private final AtomicLong reserved = new AtomicLong();
  private final Map<Severity, Map<Shed, AtomicLong>> shed = new EnumMap<>(Severity.class);
  private final AtomicLong creates = new AtomicLong();
  private final AtomicLong statusUpdates = new AtomicLong();
  private final AtomicLong deletes = new AtomicLong();
  private final AtomicLong conflicts = new AtomicLong();
  private final AtomicLong throttled = new AtomicLong();

  /**
   * Starts the Observation cache in the background ({@link #liveCount} is -1 until it has synced).
   * The client stays the caller's: {@link #close} does not close it.
   */
  public KubernetesObservationStore(KubernetesClient client, Clock clock, KubernetesStoreOptions options) {
    Objects.requireNonNull(client, "client");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    this.api = client.resources(Observation.class);
    this.limiter = new AdaptiveLimiter(options.writeQps(), options.writeBurst(), System::nanoTime);
    AtomicInteger n = new AtomicInteger();
    this.workers = Executors.newFixedThreadPool(options.maxInFlight(), r -> {
      Thread t = new Thread(r, "kube-store-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    this.prober = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "kube-store-probe");
      t.setDaemon(true);
      return t;
    });
    for (Severity s : Severity.values()) {
      Map<Shed, AtomicLong> m = new EnumMap<>(Shed.class);
      for (Shed k : Shed.values()) {
        m.put(k, new AtomicLong());
      }
      shed.put(s, m);
    }
    // Every replica keeps it: a new leader needs no re-list, and every replica can answer from it.
    this.cache = new ObservationCache(options.maxObservations() > 0).start(client, options.namespaces());
  }

  // ---------------------------------------------------------------- metrics

  /** Live Observations as this replica knows them; -1 until the initial count is done. */
  public long liveCount() {
    return cache.hasSynced() ? cache.size() : -1;
  }

  /** Observations of {@code severity} shed so far ({@code zen_watcher_observations_shed_total}). */
  public long shedCount(Severity severity, Shed kind) {
    return shed.get(severity).get(kind).get();
  }

  public WriteCounts writeCounts() {
    return new WriteCounts(creates.get(), statusUpdates.get(), deletes.get());
  }

  /** Status writes that met 409 Conflict and were retried. */
  public long conflictRetries() {
    return conflicts.get();
  }

  /** Requests answered 429 after the client's own retries, and retried by the store. */
  public long throttledRetries() {
    return throttled.get();
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
  private record Prepared(String namespace, String name, Observation body, ObservationStatus wanted,
      boolean implicit, Severity severity) {}

  @Override
  public List<WriteOutcome> createOrMerge(List<Observation> observations) {
    List<Prepared> items = prepareAll(observations);
    return fanOut("createOrMerge", items.size(), i -> create(items.get(i), true),
        i -> items.get(i).namespace() + "/" + items.get(i).name());
  }

  @Override
  public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    List<Prepared> items = prepareAll(observations);
    return fanOut("createIfAbsent", items.size(), i -> create(items.get(i), false),
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
    ObservationSpec stored = new ObservationSpec(spec.source(), spec.category(), spec.severity(), spec.eventType(),
        spec.resource(), spec.title(), DetailsCap.cap(spec.details(), options.maxDetailsBytes()), spec.detectedAt(),
        spec.fingerprint(), spec.ttlSecondsAfterCreation(),
        spec.clusterName() != null ? spec.clusterName() : options.clusterName());
    Observation body = new Observation();
    body.setMetadata(new ObjectMetaBuilder()
        .withName(meta.getName())
        .withNamespace(meta.getNamespace())
        .withLabels(labels.isEmpty() ? null : labels)
        .withAnnotations(meta.getAnnotations() == null || meta.getAnnotations().isEmpty() ? null : meta.getAnnotations())
        .build());
    body.setSpec(stored);
    ObservationStatus wanted = status != null ? status : ObservationStatus.seen(1, null, null);
    if (wanted.firstSeen() == null && wanted.lastSeen() == null && Statuses.parse(spec.detectedAt()) == null) {
      String now = clock.instant().toString();
      wanted = new ObservationStatus(wanted.count(), now, now, wanted.resolved(), wanted.resolvedAt());
    }
    boolean implicit = Statuses.isImplicit(o) && Statuses.parse(spec.detectedAt()) != null;
    Severity severity = spec.severity() != null ? spec.severity() : Severity.INFO;
    return new Prepared(meta.getNamespace(), meta.getName(), body, wanted, implicit, severity);
  }

  /** How long a reconcile waits for the Observation cache's initial list before it reads instead. */
  static final Duration CACHE_WAIT = Duration.ofSeconds(30);

  /** What is known of an existing Observation: its resourceVersion and effective status. */
  private record Known(String resourceVersion, ObservationStatus status) {
    static Known of(Observation o) {
      return new Known(o.getMetadata().getResourceVersion(), Statuses.effective(o));
    }

    static Known of(ObservationCache.Entry e) {
      return new Known(e.resourceVersion(), e.status());
    }
  }

  /** What the cache knows of {@code ns/name}: null when it has not synced (ask the API server). */
  private Optional<ObservationCache.Entry> cached(String ns, String name) {
    return cache.hasSynced() ? Optional.ofNullable(cache.get(ns, name)) : null;
  }

  /** One create: CREATED, MERGED (merge) or EXISTED (not merge); MISSING when shed. */
  private WriteOutcome create(Prepared p, boolean merge) {
    UnaryOperator<ObservationStatus> onExisting = merge ? s -> Statuses.merge(s, p.wanted(), 0) : Statuses::unresolve;
    WriteOutcome existing = merge ? WriteOutcome.MERGED : WriteOutcome.EXISTED;
    if (!merge) {
      // Reconciling a watched source: almost everything exists already after a failover. The
      // cache answers without a request; before it has synced, a read does (not a create, which
      // would cost a write and a 409 for each).
      cache.awaitSynced(CACHE_WAIT);
    }
    Optional<ObservationCache.Entry> known = cached(p.namespace(), p.name());
    if (known == null && !merge) {
      Observation current = read(() -> api.inNamespace(p.namespace()).withName(p.name()).get());
      if (current != null && mutate(p.namespace(), p.name(), Known.of(current), onExisting) != Mutation.MISSING) {
        return existing;
      }
    } else if (known != null && known.isPresent()) {
      if (mutate(p.namespace(), p.name(), Known.of(known.get()), onExisting) != Mutation.MISSING) {
        return existing;
      }
    }
    for (int round = 0; round < MAX_ROUNDS; round++) {
      Admission admission = admit(p);
      if (admission.refused()) {
        return WriteOutcome.MISSING;
      }
      if (admission.existing() != null) {
        if (mutate(p.namespace(), p.name(), admission.existing(), onExisting) != Mutation.MISSING) {
          return existing;
        }
        continue;
      }
      Observation created;
      try {
        created = write(creates, () -> api.inNamespace(p.namespace()).resource(p.body()).create());
        cache.written(created);
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          if (mutate(p.namespace(), p.name(), null, onExisting) != Mutation.MISSING) {
            return existing;
          }
          continue; // deleted between the 409 and the read: create it again
        }
        if (e.getCode() == 422) {
          throw new io.kubezen.watcher.store.RejectedWriteException("the API server refused Observation "
              + p.namespace() + "/" + p.name() + " as invalid (HTTP 422): " + e.getMessage(), e);
        }
        throw e;
      } finally {
        if (admission.reserved()) {
          reserved.decrementAndGet();
        }
      }
      if (!p.implicit()) {
        // A merge onto the implicit status (which counts this sighting once already): exact even
        // when another writer merged into the new Observation in between.
        mutate(p.namespace(), p.name(), Known.of(created), s -> {
          ObservationStatus m = Statuses.merge(s, p.wanted(), 1);
          boolean resolved = Boolean.TRUE.equals(p.wanted().resolved());
          return resolved ? new ObservationStatus(m.count(), m.firstSeen(), m.lastSeen(), true, p.wanted().resolvedAt()) : m;
        });
      }
      return WriteOutcome.CREATED;
    }
    throw new StoreException("Observation " + p.namespace() + "/" + p.name() + " was deleted and re-created "
        + MAX_ROUNDS + " times while being written");
  }

  /**
   * Either a slot for a create (neither field set; {@code reserved} when it holds one of {@link
   * #reserved}), the Observation that exists, or refused.
   */
  private record Admission(boolean refused, Known existing, boolean reserved) {
    static final Admission FREE = new Admission(false, null, false);
    static final Admission SLOT = new Admission(false, null, true);
    static final Admission REFUSED = new Admission(true, null, false);
  }

  /**
   * Admits a create under {@code MAX_OBSERVATIONS}: the live count is the cache's size plus the
   * creates admitted and not yet in it; at the cap, an Observation of a lower severity is evicted
   * to make room, or the create is refused.
   */
  private Admission admit(Prepared p) {
    long max = options.maxObservations();
    if (max == 0) {
      return Admission.FREE;
    }
    cache.awaitSynced(CACHE_WAIT);
    for (int attempt = 0; attempt < MAX_ROUNDS + 2; attempt++) {
      long r = reserved.get();
      if (cache.size() + r < max) {
        if (reserved.compareAndSet(r, r + 1)) {
          return Admission.SLOT;
        }
        attempt--;
        continue;
      }
      ObservationCache.Entry current = cache.get(p.namespace(), p.name());
      if (current != null) {
        return new Admission(false, Known.of(current), false);
      }
      ObservationCache.Entry victim = findVictim(p.severity());
      if (victim == null) {
        break;
      }
      if (evict(victim)) {
        shed.get(victim.severity()).get(Shed.EVICTED).incrementAndGet();
      }
    }
    shed.get(p.severity()).get(Shed.REFUSED).incrementAndGet();
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
      List<StatusDetails> r = write(deletes, () -> api.inNamespace(victim.namespace()).withName(victim.name())
          .lockResourceVersion(victim.resourceVersion()).delete());
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

  @Override
  public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    for (Repeat r : repeats) {
      Objects.requireNonNull(r, "repeat");
    }
    return fanOut("addRepeats", repeats.size(), i -> {
      Repeat r = repeats.get(i);
      Mutation m = mutate(r.namespace(), r.name(), knownOrNull(r.namespace(), r.name()),
          s -> Statuses.repeat(s, r.delta(), r.lastSeen()));
      return m == Mutation.MISSING ? WriteOutcome.MISSING : WriteOutcome.MERGED;
    });
  }

  @Override
  public List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    Objects.requireNonNull(at, "at");
    return fanOut("resolve", keys.size(), i -> {
      ObservationKey k = keys.get(i);
      Mutation m = mutate(k.namespace(), k.name(), knownOrNull(k.namespace(), k.name()), s -> Statuses.resolve(s, at));
      return m == Mutation.MISSING ? WriteOutcome.MISSING : WriteOutcome.MERGED;
    });
  }

  /** What the cache knows, or null (read it). */
  private Known knownOrNull(String ns, String name) {
    Optional<ObservationCache.Entry> e = cached(ns, name);
    return e == null || e.isEmpty() ? null : Known.of(e.get());
  }

  private enum Mutation { WRITTEN, UNCHANGED, MISSING }

  /**
   * Read-modify-write of one status with optimistic concurrency: {@code change} is applied to the
   * status {@code known} (from the cache, or a fresh read when null), written with that
   * resourceVersion, and applied again to a fresh read on 409 Conflict (the cache was behind, or
   * another writer came first) or 404 when the cache still had it. No write when nothing changes.
   */
  private Mutation mutate(String ns, String name, Known known, UnaryOperator<ObservationStatus> change) {
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
        Observation written = write(statusUpdates, () -> api.inNamespace(ns).resource(named(ns, name))
            .subresource("status").patch(STATUS_PATCH, patch));
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
    throw new StoreException("status of Observation " + ns + "/" + name + " still conflicting after "
        + MAX_CONFLICT_RETRIES + " attempts");
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
   * the API server checks as a precondition: 409 Conflict when the Observation changed since it
   * was read. The RBAC verb is {@code patch} on {@code observations/status}.
   */
  static String statusPatch(String resourceVersion, ObservationStatus status) {
    Map<String, Object> fields = new java.util.LinkedHashMap<>();
    fields.put("count", status.count());
    fields.put("firstSeen", status.firstSeen());
    fields.put("lastSeen", status.lastSeen());
    fields.put("resolved", status.resolved());
    fields.put("resolvedAt", status.resolvedAt());
    Map<String, Object> patch = new java.util.LinkedHashMap<>();
    patch.put("metadata", Map.of("resourceVersion", Objects.requireNonNull(resourceVersion, "resourceVersion")));
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
  private List<WriteOutcome> fanOut(String what, int size, IntFunction<WriteOutcome> task) {
    return fanOut(what, size, task, null);
  }

  /**
   * Runs the items of a batch on the workers; outcomes in input order. Items with the same {@code
   * keyOf} (the same Observation) run one after the other, in input order, so that the first of
   * them is the one that creates it.
   */
  private List<WriteOutcome> fanOut(String what, int size, IntFunction<WriteOutcome> task, IntFunction<String> keyOf) {
    ensureOpen();
    if (size == 0) {
      return List.of();
    }
    Map<String, List<Integer>> groups = new LinkedHashMap<>();
    for (int i = 0; i < size; i++) {
      groups.computeIfAbsent(keyOf == null ? Integer.toString(i) : keyOf.apply(i), k -> new ArrayList<>()).add(i);
    }
    WriteOutcome[] done = new WriteOutcome[size];
    Throwable[] failed = new Throwable[size];
    List<Future<?>> futures = new ArrayList<>(groups.size());
    try {
      for (List<Integer> group : groups.values()) {
        futures.add(workers.submit(() -> {
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
      throw new PartialWriteException("kubernetes store: " + what + ": " + count + " of " + size + " failed: "
          + first.getMessage(), outcomes, first, java.util.Arrays.asList(failed));
    }
    return outcomes;
  }

  /**
   * One API write, in a slot of the adaptive limiter (each retry takes a slot too), whose rate
   * follows the answers: success and latency raise or lower it, 429 and 5xx halve it.
   */
  private <T> T write(AtomicLong counter, Callable<T> call) {
    return read(() -> {
      try {
        limiter.acquire();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new StoreException("interrupted waiting for the write rate limit", e);
      }
      counter.incrementAndGet();
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

  /** The write rate the limiter allows now, writes per second. */
  public double writeRateLimit() {
    return limiter.rate();
  }

  /** An API call; a 429 the client gave up on is retried after its Retry-After (bounded). */
  private <T> T read(Callable<T> call) {
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
    Integer seconds = e.getStatus() != null && e.getStatus().getDetails() != null
        ? e.getStatus().getDetails().getRetryAfterSeconds() : null;
    long s = seconds == null || seconds < 1 ? 1 : Math.min(seconds, 30);
    return s * 1000;
  }

  private static void sleepMillis(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreException("interrupted", e);
    }
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Optional<Observation> get(String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    ensureOpen();
    try {
      return Optional.ofNullable(read(() -> api.inNamespace(namespace).withName(name).get())).map(this::forReading);
    } catch (KubernetesClientException e) {
      throw failure("get " + namespace + "/" + name, e);
    }
  }

  @Override
  public ObservationPage list(ObservationQuery query) {
    ensureOpen();
    List<String> selector = new ArrayList<>();
    if (!addSelector(selector, Observation.LABEL_SOURCE, query.source())
        || !addSelector(selector, Observation.LABEL_SEVERITY, query.severity())
        || !addSelector(selector, Observation.LABEL_CATEGORY, query.category())
        || !addSelector(selector, LABEL_EVENT_TYPE, query.eventType() == null ? null : eventTypeLabel(query.eventType()))) {
      return new ObservationPage(List.of(), null); // no label can have that value: nothing matches
    }
    ListOptions opts = new ListOptionsBuilder()
        .withLimit((long) query.limit())
        .withContinue(query.continueToken())
        .withLabelSelector(selector.isEmpty() ? null : String.join(",", selector))
        .build();
    if (!options.namespaces().isEmpty()) {
      if (query.namespace() != null && !options.namespaces().contains(query.namespace())) {
        return new ObservationPage(List.of(), null); // this install stores nothing there
      }
      if (query.namespace() == null) {
        return listAcrossScopes(query, opts.getLabelSelector());
      }
    }
    KubernetesResourceList<Observation> page;
    try {
      page = listIn(query.namespace(), opts);
    } catch (KubernetesClientException e) {
      if (query.continueToken() != null && (e.getCode() == 400 || e.getCode() == 410)) {
        throw new InvalidContinueTokenException("continue token not accepted by the API server (HTTP " + e.getCode()
            + "; it may have expired): start the list again");
      }
      throw failure("list", e);
    }
    List<Observation> items = page.getItems().stream().map(this::forReading).toList();
    String next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
    return new ObservationPage(items, next == null || next.isEmpty() ? null : next);
  }

  /** Prefix of the continue tokens of {@link #listAcrossScopes}: {@code ns1.<index>.<API server token>}. */
  private static final String SCOPED_TOKEN = "ns1.";

  /**
   * A list without a namespace under namespaced access: the namespaces in order, each paged by the
   * API server, filling the page from the next namespace when one runs out.
   */
  private ObservationPage listAcrossScopes(ObservationQuery query, String labelSelector) {
    List<String> scopes = options.namespaces();
    int index = 0;
    String cont = null;
    if (query.continueToken() != null) {
      String t = query.continueToken();
      int dot = t.indexOf('.', SCOPED_TOKEN.length());
      try {
        if (!t.startsWith(SCOPED_TOKEN) || dot < 0) {
          throw new NumberFormatException();
        }
        index = Integer.parseInt(t.substring(SCOPED_TOKEN.length(), dot));
        cont = t.substring(dot + 1);
      } catch (NumberFormatException e) {
        throw new InvalidContinueTokenException("continue token not issued by this list: start the list again");
      }
      if (index < 0 || index >= scopes.size()) {
        throw new InvalidContinueTokenException("continue token names no namespace of this install: start the "
            + "list again");
      }
      cont = cont.isEmpty() ? null : cont;
    }
    List<Observation> items = new ArrayList<>();
    while (index < scopes.size()) {
      ListOptions opts = new ListOptionsBuilder().withLimit((long) (query.limit() - items.size())).withContinue(cont)
          .withLabelSelector(labelSelector).build();
      KubernetesResourceList<Observation> page;
      try {
        page = listIn(scopes.get(index), opts);
      } catch (KubernetesClientException e) {
        if (cont != null && (e.getCode() == 400 || e.getCode() == 410)) {
          throw new InvalidContinueTokenException("continue token not accepted by the API server (HTTP "
              + e.getCode() + "; it may have expired): start the list again");
        }
        throw failure("list in " + scopes.get(index), e);
      }
      page.getItems().forEach(o -> items.add(forReading(o)));
      String next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
      if (next != null && !next.isEmpty()) {
        cont = next;
        if (items.size() >= query.limit()) {
          return new ObservationPage(items, SCOPED_TOKEN + index + "." + next);
        }
        continue;
      }
      index++;
      cont = null;
      if (items.size() >= query.limit()) {
        return new ObservationPage(items, index < scopes.size() ? SCOPED_TOKEN + index + "." : null);
      }
    }
    return new ObservationPage(items, null);
  }

  /** The namespaces lists are made in: null (all at once), or each namespace of the access scope. */
  private List<String> listScopes() {
    return options.namespaces().isEmpty() ? java.util.Collections.singletonList(null) : options.namespaces();
  }

  /** One list call in {@code namespace}, or across all namespaces when null. */
  private KubernetesResourceList<Observation> listIn(String namespace, ListOptions opts) {
    return read(() -> namespace == null ? api.inAnyNamespace().list(opts) : api.inNamespace(namespace).list(opts));
  }

  private static boolean addSelector(List<String> selector, String label, String value) {
    if (value == null) {
      return true;
    }
    if (value.length() > 63 || !LABEL_VALUE.matcher(value).matches()) {
      return false;
    }
    selector.add(label + "=" + value);
    return true;
  }

  @Override
  public List<Observation> listByOrigin(String originUid) {
    Objects.requireNonNull(originUid, "originUid");
    ensureOpen();
    List<String> selector = new ArrayList<>();
    if (!addSelector(selector, Observation.LABEL_ORIGIN_UID, originUid)) {
      return List.of();
    }
    if (cache.awaitSynced(CACHE_WAIT)) {
      return cache.byOrigin(originUid).stream().map(KubernetesObservationStore::trimmed).toList();
    }
    List<Observation> out = new ArrayList<>();
    try {
      forEachPage(selector.get(0), page -> page.forEach(o -> out.add(forReading(o))));
    } catch (KubernetesClientException e) {
      throw failure("listByOrigin " + originUid, e);
    }
    return out;
  }

  /** Every Observation matching {@code labelSelector} (null: all), page by page. */
  private void forEachPage(String labelSelector, java.util.function.Consumer<List<Observation>> consumer) {
    for (String ns : listScopes()) {
      String cont = null;
      do {
        ListOptions opts = new ListOptionsBuilder().withLimit((long) PAGE).withContinue(cont)
            .withLabelSelector(labelSelector).build();
        KubernetesResourceList<Observation> page = listIn(ns, opts);
        consumer.accept(page.getItems());
        cont = page.getMetadata() == null ? null : page.getMetadata().getContinue();
      } while (cont != null && !cont.isEmpty());
    }
  }

  /** An Observation as the cache has it: metadata, labels, status; the spec without title and details. */
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
    o.setMetadata(new ObjectMetaBuilder().withNamespace(e.namespace()).withName(e.name())
        .withResourceVersion(e.resourceVersion()).withCreationTimestamp(e.creationTimestamp()).withLabels(labels)
        .build());
    o.setSpec(new ObservationSpec(e.source(), e.category(), e.severity(), e.eventType(), e.resource(), null, null,
        null, null, e.ttlSeconds(), e.clusterName()));
    o.setStatus(e.status());
    return o;
  }

  /** What readers see: the effective status, no managed fields. */
  private Observation forReading(Observation o) {
    o.setStatus(Statuses.effective(o));
    if (o.getMetadata() != null) {
      o.getMetadata().setManagedFields(null);
    }
    return o;
  }

  // ---------------------------------------------------------------- GC and counting

  @Override
  public GcResult deleteExpired(Instant now, java.util.Set<String> stateLikeSources) {
    ensureOpen();
    if (cache.hasSynced()) {
      return deleteExpiredCached(now, stateLikeSources);
    }
    int deleted = 0;
    int errors = 0;
    long listed = 0;
    boolean restarted = false;
    for (String ns : listScopes()) {
      boolean restartedHere = false;
      String cont = null;
      while (true) {
        KubernetesResourceList<Observation> page;
        try {
          page = listIn(ns, new ListOptionsBuilder().withLimit((long) PAGE).withContinue(cont).build());
        } catch (KubernetesClientException e) {
          if (e.getCode() == 410 && !restartedHere) {
            // The continue token expired (a long sweep): list again from the start, once.
            restarted = true;
            restartedHere = true;
            cont = null;
            continue;
          }
          throw failure("GC list (after " + deleted + " deleted, " + errors + " errors)", e);
        }
        listed += page.getItems().size();
        List<Future<Boolean>> futures = new ArrayList<>();
        for (Observation o : page.getItems()) {
          if (expired(o, now, stateLikeSources)) {
            futures.add(submit(() -> deleteIfExpired(o, now, stateLikeSources)));
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

  /** A sweep over the cache: no list; a delete (with the cached resourceVersion) per expired one. */
  private GcResult deleteExpiredCached(Instant now, java.util.Set<String> stateLikeSources) {
    List<Future<Boolean>> futures = new ArrayList<>();
    for (ObservationCache.Entry e : cache.entries()) {
      if (expired(e.ttlSeconds(), e.status(), e.originUid() != null, e.source(), e.creationTimestamp(), now,
          stateLikeSources)) {
        Observation o = trimmed(e);
        futures.add(submit(() -> deleteIfExpired(o, now, stateLikeSources)));
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

  private <T> Future<T> submit(Callable<T> task) {
    try {
      return workers.submit(task);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      throw new StoreException("kubernetes store is closed", e);
    }
  }

  /** Deletes {@code o} if it is still the object that expired; true when this call deleted it. */
  private boolean deleteIfExpired(Observation o, Instant now, java.util.Set<String> stateLikeSources) {
    Observation current = o;
    for (int attempt = 0; attempt < MAX_ROUNDS; attempt++) {
      if (current == null || !expired(current, now, stateLikeSources)) {
        return false;
      }
      ObjectMeta m = current.getMetadata();
      try {
        List<StatusDetails> r = write(deletes, () -> api.inNamespace(m.getNamespace()).withName(m.getName())
            .lockResourceVersion(m.getResourceVersion()).delete());
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
        current = read(() -> api.inNamespace(m.getNamespace()).withName(m.getName()).get());
      }
    }
    throw new StoreException("Observation " + o.getMetadata().getNamespace() + "/" + o.getMetadata().getName()
        + " kept changing while being deleted");
  }

  /**
   * Expired by the rule of {@link ObservationStore#deleteExpired(Instant, java.util.Set)}: resolved
   * at {@code resolvedAt + TTL}; unresolved from a state-like watched source never; others at
   * {@code creationTimestamp + TTL}. Never without a TTL.
   */
  static boolean expired(Observation o, Instant now, java.util.Set<String> stateLikeSources) {
    boolean watched = o.getMetadata() != null && o.getMetadata().getLabels() != null
        && o.getMetadata().getLabels().containsKey(Observation.LABEL_ORIGIN_UID);
    return expired(o.getSpec() == null ? null : o.getSpec().ttlSecondsAfterCreation(), o.getStatus(), watched,
        o.getSpec() == null ? null : o.getSpec().source(),
        o.getMetadata() == null ? null : o.getMetadata().getCreationTimestamp(), now, stateLikeSources);
  }

  static boolean expired(Long ttl, ObservationStatus status, boolean watched, String source, String createdAt,
      Instant now, java.util.Set<String> stateLikeSources) {
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

  // ---------------------------------------------------------------- lifecycle

  @Override
  public boolean isReachable() {
    if (closed.get()) {
      return false;
    }
    try {
      Future<Boolean> probe = prober.submit(() -> {
        listIn(listScopes().get(0), new ListOptionsBuilder().withLimit(1L).build());
        return true;
      });
      try {
        return probe.get(PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        probe.cancel(true);
        return false;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | RuntimeException e) {
      return false;
    }
  }

  /** Stops the workers; the client is the caller's and stays open. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    cache.close();
    workers.shutdown();
    prober.shutdownNow();
    try {
      if (!workers.awaitTermination(10, TimeUnit.SECONDS)) {
        workers.shutdownNow();
      }
    } catch (InterruptedException e) {
      workers.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new StoreException("kubernetes store is closed");
    }
  }

  private StoreException failure(String what, KubernetesClientException e) {
    return new StoreException("kubernetes store: " + what + " failed (HTTP " + e.getCode() + "): " + e.getMessage(), e);
  }

  /** The label value for an eventType: itself when valid as a label value, else a hash of it. */
  static String eventTypeLabel(String eventType) {
    if (eventType.length() <= 63 && LABEL_VALUE.matcher(eventType).matches()) {
      return eventType;
    }
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(eventType.getBytes(StandardCharsets.UTF_8));
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
      throw new StoreException("the Observation cache has not synced yet; the console reads wait for it");
    }
    return cache.entries();
  }

  /** A findings row: the trimmed Observation with its (capped) title; {@code get} reads the full one. */
  static Observation forConsole(ObservationCache.Entry e) {
    Observation o = trimmed(e);
    ObservationSpec s = o.getSpec();
    o.setSpec(new ObservationSpec(s.source(), s.category(), s.severity(), s.eventType(), s.resource(), e.title(),
        null, null, null, s.ttlSecondsAfterCreation(), s.clusterName()));
    return o;
  }

  @Override
  public io.kubezen.watcher.store.ObservationPage findings(io.kubezen.watcher.store.FindingsQuery query) {
    return ConsoleReads.findings(consoleEntries(), query, KubernetesObservationStore::forConsole);
  }

  @Override
  public List<io.kubezen.watcher.store.GroupCount> countBy(io.kubezen.watcher.store.FindingFilter filter,
      List<io.kubezen.watcher.store.GroupField> fields) {
    return ConsoleReads.countBy(consoleEntries(), filter, fields);
  }

  @Override
  public List<io.kubezen.watcher.store.RankedGroup> topByCriticalHigh(io.kubezen.watcher.store.FindingFilter filter,
      io.kubezen.watcher.store.RankedGroup.By by, int limit) {
    return ConsoleReads.topByCriticalHigh(consoleEntries(), filter, by, limit);
  }

  @Override
  public List<io.kubezen.watcher.store.TimeBucket> timeline(io.kubezen.watcher.store.FindingFilter filter,
      Instant from, Instant to, java.time.Duration width) {
    return ConsoleReads.timeline(consoleEntries(), filter, from, to, width);
  }

  @Override
  public List<io.kubezen.watcher.store.SourceActivity> sourceActivity(io.kubezen.watcher.store.FindingFilter filter) {
    return ConsoleReads.sourceActivity(consoleEntries(), filter);
  }

  @Override
  public io.kubezen.watcher.store.StoreSummary summary() {
    consoleEntries();
    return cache.summary();
  }
}
