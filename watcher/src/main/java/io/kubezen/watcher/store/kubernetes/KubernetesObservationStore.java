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
 * <h2>Writes</h2>
 * <ul>
 *   <li>Every write (create, status update, delete) takes a token of one token bucket
 *       ({@code writeQps}/{@code writeBurst}); the items of a batch run concurrently on
 *       {@code maxInFlight} worker threads. A 429 is retried by the client itself (it honours
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
 *   <li>{@code MAX_OBSERVATIONS}: when the store's count of live Observations has reached the cap,
 *       a new Observation (one that does not exist yet: that costs a get) evicts an Observation of a
 *       lower severity (the lowest there is; an arbitrary one of that severity, in API server
 *       order) or, when there is none, is refused: its outcome is {@link WriteOutcome#MISSING}.
 *       Both are counted ({@link #shedCount}). The live count is this replica's: an initial paged
 *       count at start, plus its creates, minus its deletes, and set again by every GC sweep.</li>
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
  private final TokenBucket bucket;
  private final ExecutorService workers;
  private final ExecutorService prober;
  private final AtomicBoolean closed = new AtomicBoolean();

  private final AtomicLong live = new AtomicLong();
  private volatile boolean liveKnown;
  private final AtomicLong createdTotal = new AtomicLong();
  private final Map<Severity, Map<Shed, AtomicLong>> shed = new EnumMap<>(Severity.class);
  private final AtomicLong creates = new AtomicLong();
  private final AtomicLong statusUpdates = new AtomicLong();
  private final AtomicLong deletes = new AtomicLong();
  private final AtomicLong conflicts = new AtomicLong();
  private final AtomicLong throttled = new AtomicLong();

  /**
   * Starts counting the live Observations in the background ({@link #liveCount} is -1 until done).
   * The client stays the caller's: {@link #close} does not close it.
   */
  public KubernetesObservationStore(KubernetesClient client, Clock clock, KubernetesStoreOptions options) {
    Objects.requireNonNull(client, "client");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    this.api = client.resources(Observation.class);
    this.bucket = new TokenBucket(options.writeQps(), options.writeBurst(), System::nanoTime);
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
    // A thread of its own: a large count must neither delay writes nor the readiness probe.
    Thread counter = new Thread(this::countLive, "kube-store-count");
    counter.setDaemon(true);
    counter.start();
  }

  // ---------------------------------------------------------------- metrics

  /** Live Observations as this replica knows them; -1 until the initial count is done. */
  public long liveCount() {
    return liveKnown ? Math.max(0, live.get()) : -1;
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

  /** An Observation ready to be created: its body and the status it wants. */
  private record Prepared(String namespace, String name, Observation body, ObservationStatus wanted,
      boolean implicit, Severity severity) {}

  @Override
  public List<WriteOutcome> createOrMerge(List<Observation> observations) {
    List<Prepared> items = prepareAll(observations);
    return fanOut("createOrMerge", items.size(), i -> create(items.get(i), true));
  }

  @Override
  public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    List<Prepared> items = prepareAll(observations);
    return fanOut("createIfAbsent", items.size(), i -> create(items.get(i), false));
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

  /** One create: CREATED, MERGED (merge) or EXISTED (not merge); MISSING when shed. */
  private WriteOutcome create(Prepared p, boolean merge) {
    UnaryOperator<ObservationStatus> onExisting = merge ? s -> Statuses.merge(s, p.wanted(), 0) : Statuses::unresolve;
    WriteOutcome existing = merge ? WriteOutcome.MERGED : WriteOutcome.EXISTED;
    if (!merge) {
      // Reconciling a watched source: after a failover almost everything exists already. A read
      // (not limited by the write token bucket) finds it; a create would cost a throttled write
      // and a 409 for each of them, which makes a new leader's catch-up crawl.
      Observation current = read(() -> api.inNamespace(p.namespace()).withName(p.name()).get());
      if (current != null && mutate(p.namespace(), p.name(), current, onExisting) != Mutation.MISSING) {
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
      } catch (KubernetesClientException e) {
        live.decrementAndGet(); // the slot admit() took
        if (e.getCode() == 409) {
          if (mutate(p.namespace(), p.name(), null, onExisting) != Mutation.MISSING) {
            return existing;
          }
          continue; // deleted between the 409 and the read: create it again
        }
        throw e;
      }
      createdTotal.incrementAndGet();
      if (!p.implicit()) {
        // A merge onto the implicit status (which counts this sighting once already): exact even
        // when another writer merged into the new Observation in between.
        mutate(p.namespace(), p.name(), created, s -> {
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

  /** Either a slot for a create (neither field set), the Observation that exists, or refused. */
  private record Admission(boolean refused, Observation existing) {
    static final Admission SLOT = new Admission(false, null);
    static final Admission REFUSED = new Admission(true, null);
  }

  /** Takes a slot of the live count for a create, making room by evicting when the cap is reached. */
  private Admission admit(Prepared p) {
    long max = options.maxObservations();
    if (max == 0 || !liveKnown) {
      live.incrementAndGet();
      return Admission.SLOT;
    }
    for (int attempt = 0; attempt < MAX_ROUNDS + 2; attempt++) {
      long n = live.get();
      if (n < max) {
        if (live.compareAndSet(n, n + 1)) {
          return Admission.SLOT;
        }
        attempt--;
        continue;
      }
      Observation current = read(() -> api.inNamespace(p.namespace()).withName(p.name()).get());
      if (current != null) {
        return new Admission(false, current);
      }
      Observation victim = findVictim(p.severity());
      if (victim == null) {
        break;
      }
      if (evict(victim)) {
        live.decrementAndGet();
        Severity vs = victim.getSpec() != null && victim.getSpec().severity() != null ? victim.getSpec().severity()
            : Severity.INFO;
        shed.get(vs).get(Shed.EVICTED).incrementAndGet();
      }
    }
    shed.get(p.severity()).get(Shed.REFUSED).incrementAndGet();
    return Admission.REFUSED;
  }

  /** An Observation of the lowest severity present below {@code severity}, or null. */
  private Observation findVictim(Severity severity) {
    for (int rank = 0; rank < severity.rank(); rank++) {
      Severity s = bySeverityRank(rank);
      ListOptions opts = new ListOptionsBuilder().withLimit(1L)
          .withLabelSelector(Observation.LABEL_SEVERITY + "=" + s.wire()).build();
      for (String ns : listScopes()) {
        List<Observation> items = listIn(ns, opts).getItems();
        if (!items.isEmpty()) {
          return items.get(0);
        }
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

  private boolean evict(Observation victim) {
    ObjectMeta m = victim.getMetadata();
    try {
      List<StatusDetails> r = write(deletes, () -> api.inNamespace(m.getNamespace()).withName(m.getName())
          .lockResourceVersion(m.getResourceVersion()).delete());
      return !r.isEmpty();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404 || e.getCode() == 409) {
        return false; // gone, or changed: look again
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
      Mutation m = mutate(r.namespace(), r.name(), null, s -> Statuses.repeat(s, r.delta(), r.lastSeen()));
      return m == Mutation.MISSING ? WriteOutcome.MISSING : WriteOutcome.MERGED;
    });
  }

  @Override
  public List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    Objects.requireNonNull(at, "at");
    return fanOut("resolve", keys.size(), i -> {
      ObservationKey k = keys.get(i);
      Mutation m = mutate(k.namespace(), k.name(), null, s -> Statuses.resolve(s, at));
      return m == Mutation.MISSING ? WriteOutcome.MISSING : WriteOutcome.MERGED;
    });
  }

  private enum Mutation { WRITTEN, UNCHANGED, MISSING }

  /**
   * Read-modify-write of one status with optimistic concurrency: {@code change} is applied to the
   * effective status of {@code known} (or of a fresh read), written with that resourceVersion, and
   * applied again to a fresh read on 409 Conflict. No write when nothing changes.
   */
  private Mutation mutate(String ns, String name, Observation known, UnaryOperator<ObservationStatus> change) {
    Observation current = known;
    for (int attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt++) {
      if (current == null) {
        current = read(() -> api.inNamespace(ns).withName(name).get());
        if (current == null) {
          return Mutation.MISSING;
        }
      }
      ObservationStatus before = Statuses.effective(current);
      ObservationStatus after = change.apply(before);
      if (after.equals(before)) {
        return Mutation.UNCHANGED;
      }
      String patch = statusPatch(current.getMetadata().getResourceVersion(), after);
      try {
        write(statusUpdates, () -> api.inNamespace(ns).withName(name).subresource("status")
            .patch(STATUS_PATCH, patch));
        return Mutation.WRITTEN;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          return Mutation.MISSING;
        }
        if (e.getCode() != 409) {
          throw e;
        }
        conflicts.incrementAndGet();
        current = null;
        sleepMillis(ThreadLocalRandom.current().nextLong(1, 5L << Math.min(attempt, 4)));
      }
    }
    throw new StoreException("status of Observation " + ns + "/" + name + " still conflicting after "
        + MAX_CONFLICT_RETRIES + " attempts");
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
    ensureOpen();
    if (size == 0) {
      return List.of();
    }
    List<Future<WriteOutcome>> futures = new ArrayList<>(size);
    try {
      for (int i = 0; i < size; i++) {
        int index = i;
        futures.add(workers.submit(() -> task.apply(index)));
      }
    } catch (java.util.concurrent.RejectedExecutionException e) {
      futures.forEach(f -> f.cancel(true));
      throw new StoreException("kubernetes store is closed (" + what + ")", e);
    }
    List<WriteOutcome> outcomes = new ArrayList<>(size);
    Throwable first = null;
    for (Future<WriteOutcome> f : futures) {
      try {
        outcomes.add(f.get());
      } catch (ExecutionException e) {
        outcomes.add(null);
        if (first == null) {
          first = e.getCause();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        futures.forEach(x -> x.cancel(true));
        throw new StoreException("interrupted during " + what, e);
      }
    }
    if (first != null) {
      int failed = (int) outcomes.stream().filter(Objects::isNull).count();
      throw new PartialWriteException("kubernetes store: " + what + ": " + failed + " of " + size + " failed: "
          + first.getMessage(), outcomes, first);
    }
    return outcomes;
  }

  /** One API write, after a token of the bucket (each retry takes a token too). */
  private <T> T write(AtomicLong counter, Callable<T> call) {
    return read(() -> {
      try {
        bucket.acquire();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new StoreException("interrupted waiting for the write rate limit", e);
      }
      counter.incrementAndGet();
      return call.call();
    });
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
    long createdBefore = createdTotal.get();
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
    if (!restarted) {
      // The pages were one snapshot (one per namespace under namespaced access): what it held, less
      // what was deleted, plus what was created since (a small overcount, corrected next sweep).
      live.set(listed - deleted + (createdTotal.get() - createdBefore));
      liveKnown = true;
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
        live.decrementAndGet();
        return true;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
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
    Long ttl = o.getSpec() == null ? null : o.getSpec().ttlSecondsAfterCreation();
    if (ttl == null) {
      return false;
    }
    ObservationStatus status = o.getStatus();
    Instant from;
    if (status != null && Boolean.TRUE.equals(status.resolved())) {
      from = Statuses.parse(status.resolvedAt());
    } else {
      boolean watched = o.getMetadata() != null && o.getMetadata().getLabels() != null
          && o.getMetadata().getLabels().containsKey(Observation.LABEL_ORIGIN_UID);
      if (watched && stateLikeSources.contains(o.getSpec().source())) {
        return false; // its finding is still in its report
      }
      from = o.getMetadata() == null ? null : Statuses.parse(o.getMetadata().getCreationTimestamp());
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

  private void countLive() {
    try {
      // Creates made meanwhile are in live already and maybe in the count too: a small overcount,
      // corrected by the next GC sweep.
      AtomicLong n = new AtomicLong();
      forEachPage(null, page -> n.addAndGet(page.size()));
      live.addAndGet(n.get());
      liveKnown = true;
    } catch (RuntimeException e) {
      log.warn("could not count the live Observations (the next GC sweep will): {}", e.toString());
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
  // To be answered from the informer-fed Observation cache (see ObservationStore for what each
  // returns); never by listing the collection per call.

  @Override
  public io.kubezen.watcher.store.ObservationPage findings(io.kubezen.watcher.store.FindingsQuery query) {
    throw new StoreException("not implemented yet");
  }

  @Override
  public List<io.kubezen.watcher.store.GroupCount> countBy(io.kubezen.watcher.store.FindingFilter filter,
      List<io.kubezen.watcher.store.GroupField> fields) {
    throw new StoreException("not implemented yet");
  }

  @Override
  public List<io.kubezen.watcher.store.RankedGroup> topByCriticalHigh(io.kubezen.watcher.store.FindingFilter filter,
      io.kubezen.watcher.store.RankedGroup.By by, int limit) {
    throw new StoreException("not implemented yet");
  }

  @Override
  public List<io.kubezen.watcher.store.TimeBucket> timeline(io.kubezen.watcher.store.FindingFilter filter,
      Instant from, Instant to, java.time.Duration width) {
    throw new StoreException("not implemented yet");
  }

  @Override
  public List<io.kubezen.watcher.store.SourceActivity> sourceActivity(io.kubezen.watcher.store.FindingFilter filter) {
    throw new StoreException("not implemented yet");
  }

  @Override
  public io.kubezen.watcher.store.StoreSummary summary() {
    throw new StoreException("not implemented yet");
  }
}
