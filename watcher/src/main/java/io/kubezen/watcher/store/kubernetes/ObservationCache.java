package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.SearchText;
import io.kubezen.watcher.store.StoreSummary;
import java.time.Instant;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * zen-watcher's own Observations as the API server has them, trimmed to what reconciling, GC, the
 * live count and {@code MAX_OBSERVATIONS} need ({@link Entry}: no details, no title), indexed by
 * key ({@code namespace/name}), by origin uid and by severity.
 *
 * <p>It is fed by informers over the Observations (one across all namespaces, or one per namespace
 * under namespaced access), whose item store it is: the informer keeps no copy of its own, and an
 * Observation costs one {@link Entry} (a few hundred bytes) whatever its details. A write of the
 * store puts its own result here at once ({@link #written}), so a read right after a write sees it
 * without waiting for the watch; the watch then delivers the same resourceVersion (or a later one).
 * Because every status write carries the resourceVersion it read as a precondition, a stale entry
 * costs at most a 409 and a fresh read, never a lost update.
 */
public final class ObservationCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ObservationCache.class);
  /** Page size of the informers' initial list. */
  static final long LIST_PAGE = 500;

  /**
   * One Observation, trimmed. {@code status} is the effective status (implicit fields filled in).
   * For the console's reads: {@code title} (capped at {@link #TITLE_MAX} characters), {@code search}
   * ({@link SearchText#of}, capped at {@link #SEARCH_MAX}; null when it would only repeat the title
   * and resource name, see {@link #searchText()}), and the status times as epoch microseconds
   * ({@link ConsoleReads#NONE} when absent), so that filters and sorts compare numbers.
   */
  public record Entry(String namespace, String name, String resourceVersion, String source, Severity severity,
      Category category, String eventType, String originUid, String clusterName, ResourceRef resource,
      String creationTimestamp, Long ttlSeconds, ObservationStatus status, String title, String search,
      long firstSeenMicros, long lastSeenMicros, long resolvedMicros) {
    public String key() {
      return ObservationCache.key(namespace, name);
    }

    public boolean resolved() {
      return status != null && Boolean.TRUE.equals(status.resolved());
    }

    /** {@code status.count}, 1 when absent. */
    public long count() {
      return status == null || status.count() == null ? 1 : status.count();
    }

    /** The free-text haystack: {@link SearchText#of} of the spec (lower-cased), capped. */
    public String searchText() {
      if (search != null) {
        return search;
      }
      StringBuilder b = new StringBuilder();
      if (title != null && !title.isBlank()) {
        b.append(title);
      }
      String rn = resource == null ? null : resource.name();
      if (rn != null && !rn.isBlank()) {
        b.append(b.isEmpty() ? "" : "\n").append(rn);
      }
      return b.toString().toLowerCase(java.util.Locale.ROOT);
    }

    /** The same entry with another resourceVersion and status. */
    Entry withStatus(String rv, ObservationStatus s) {
      return new Entry(namespace, name, rv, source, severity, category, eventType, originUid, clusterName, resource,
          creationTimestamp, ttlSeconds, s, title, search, ConsoleReads.micros(s == null ? null : s.firstSeen()),
          ConsoleReads.micros(s == null ? null : s.lastSeen()), ConsoleReads.micros(s == null ? null : s.resolvedAt()));
    }
  }

  /** Titles longer than this are cut in the cache (the detail page reads the full Observation). */
  public static final int TITLE_MAX = 256;
  /** Search texts longer than this are cut in the cache. */
  public static final int SEARCH_MAX = 1024;

  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> byOrigin = new ConcurrentHashMap<>();
  private final Map<Severity, Set<String>> bySeverity = new EnumMap<>(Severity.class);
  /** Low-cardinality strings shared by every entry that has them (sources, namespaces, kinds, uids). */
  private final Map<String, String> interned = new ConcurrentHashMap<>();
  private final List<SharedIndexInformer<Observation>> informers = new ArrayList<>();
  private final Stats stats = new Stats();
  private volatile boolean started;

  public ObservationCache() {
    for (Severity s : Severity.values()) {
      bySeverity.put(s, ConcurrentHashMap.newKeySet());
    }
  }

  public static String key(String namespace, String name) {
    return namespace + "/" + name;
  }

  // ---------------------------------------------------------------- informers

  /**
   * Starts the informers: one over all namespaces when {@code namespaces} is empty, else one per
   * namespace. Returns at once; {@link #hasSynced} says when the initial lists are in.
   */
  public synchronized ObservationCache start(KubernetesClient client, List<String> namespaces) {
    if (started) {
      return this;
    }
    started = true;
    MixedOperation<Observation, KubernetesResourceList<Observation>, Resource<Observation>> api =
        client.resources(Observation.class);
    if (namespaces.isEmpty()) {
      informers.add(startInformer(api.inAnyNamespace().withLimit(LIST_PAGE).runnableInformer(0), ns -> true, "all"));
    } else {
      for (String ns : namespaces) {
        informers.add(startInformer(api.inNamespace(ns).withLimit(LIST_PAGE).runnableInformer(0), ns::equals, ns));
      }
    }
    return this;
  }

  private SharedIndexInformer<Observation> startInformer(SharedIndexInformer<Observation> informer,
      Predicate<String> namespaces, String scope) {
    informer.removeNamespaceIndex();
    informer.itemStore(new View(namespaces));
    java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
    informer.exceptionHandler((isStarted, t) -> {
      if (failures.getAndIncrement() == 0) {
        log.warn("the Observation cache's watch ({}) failed; retrying: {}", scope, t.toString());
      } else {
        log.debug("the Observation cache's watch ({}) failed; retrying: {}", scope, t.toString());
      }
      return true;
    });
    long t0 = System.nanoTime();
    informer.start().whenComplete((v, e) -> {
      if (e == null) {
        log.info("Observation cache ({}) synced: {} Observations in {} ms", scope, entries.size(),
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
      }
    });
    return informer;
  }

  /** True when every informer has its initial list. */
  public boolean hasSynced() {
    if (!started) {
      return false;
    }
    synchronized (this) {
      for (SharedIndexInformer<Observation> i : informers) {
        if (!i.hasSynced()) {
          return false;
        }
      }
    }
    return true;
  }

  /** Waits up to {@code timeout} for {@link #hasSynced}; returns it. */
  public boolean awaitSynced(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!hasSynced()) {
      if (!started || System.nanoTime() - deadline > 0) {
        return false;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  @Override
  public synchronized void close() {
    for (SharedIndexInformer<Observation> i : informers) {
      i.stop();
    }
    informers.clear();
    started = false;
  }

  // ---------------------------------------------------------------- reads

  public Entry get(String namespace, String name) {
    return entries.get(key(namespace, name));
  }

  /** The entries of the Observations created from the object with this uid. */
  public List<Entry> byOrigin(String originUid) {
    Set<String> keys = byOrigin.get(originUid);
    if (keys == null) {
      return List.of();
    }
    List<Entry> out = new ArrayList<>(keys.size());
    for (String k : keys) {
      Entry e = entries.get(k);
      if (e != null) {
        out.add(e);
      }
    }
    return out;
  }

  /** Some Observation of {@code severity}, or null. */
  public Entry anyOf(Severity severity) {
    for (String k : bySeverity.get(severity)) {
      Entry e = entries.get(k);
      if (e != null) {
        return e;
      }
    }
    return null;
  }

  public int size() {
    return entries.size();
  }

  /** The numbers of {@link StoreSummary}, kept as entries change (a scan only after the newest one went). */
  public StoreSummary summary() {
    return stats.summary();
  }

  /** Every entry (a live view: entries may come and go while it is read). */
  public Collection<Entry> entries() {
    return entries.values();
  }

  // ---------------------------------------------------------------- writes of the store

  /** The store wrote {@code o} (its result from the API server): the cache has it at once. */
  public void written(Observation o) {
    Entry e = toEntry(o);
    put(e.key(), e);
  }

  /** The store saw that {@code namespace/name} is gone (404, or deleted). */
  public void gone(String namespace, String name) {
    removeKey(key(namespace, name));
  }

  /** The status the store just wrote, with the resourceVersion the API server answered. */
  public void statusWritten(String namespace, String name, String resourceVersion, ObservationStatus status) {
    String k = key(namespace, name);
    entries.computeIfPresent(k, (key, e) -> {
      Entry next = e.withStatus(resourceVersion, compact(status));
      stats.replaced(e, next);
      return next;
    });
  }

  // ---------------------------------------------------------------- the entries and indexes

  /** Puts {@code e} under {@code key}, indexes kept in step; returns what was there. */
  private Entry put(String key, Entry e) {
    Entry[] before = new Entry[1];
    entries.compute(key, (k, b) -> {
      if (b != null && older(e.resourceVersion(), b.resourceVersion())) {
        // A watch event older than what the store already wrote here (the create's event arriving
        // after the status write): keep the newer entry; the watch delivers the newer event next.
        before[0] = b;
        return b;
      }
      if (b != null) {
        unindex(k, b);
      }
      before[0] = b;
      index(k, e);
      stats.replaced(b, e);
      return e;
    });
    return before[0];
  }

  /**
   * True when resourceVersion {@code a} is known to be older than {@code b}: both are the decimal
   * numbers the API server (etcd) issues in practice. Opaque ones are never called older.
   */
  static boolean older(String a, String b) {
    if (a == null || b == null || a.length() > 18 || b.length() > 18) {
      return false;
    }
    try {
      return Long.parseLong(a) < Long.parseLong(b);
    } catch (NumberFormatException e) {
      return false;
    }
  }

  private Entry removeKey(String k) {
    Entry[] removed = new Entry[1];
    entries.computeIfPresent(k, (key, before) -> {
      unindex(key, before);
      removed[0] = before;
      stats.replaced(before, null);
      return null;
    });
    return removed[0];
  }

  private void index(String key, Entry e) {
    if (e.originUid() != null) {
      byOrigin.computeIfAbsent(e.originUid(), u -> ConcurrentHashMap.newKeySet()).add(key);
    }
    bySeverity.get(e.severity()).add(key);
  }

  private void unindex(String key, Entry e) {
    if (e.originUid() != null) {
      byOrigin.computeIfPresent(e.originUid(), (u, keys) -> {
        keys.remove(key);
        return keys.isEmpty() ? null : keys;
      });
    }
    bySeverity.get(e.severity()).remove(key);
  }

  Entry toEntry(Observation o) {
    ObjectMeta m = o.getMetadata();
    ObservationSpec spec = o.getSpec();
    Map<String, String> labels = m.getLabels() == null ? Map.of() : m.getLabels();
    Severity severity = spec != null && spec.severity() != null ? spec.severity() : Severity.INFO;
    ResourceRef r = spec == null ? null : spec.resource();
    ResourceRef resource = r == null ? null
        : new ResourceRef(intern(r.apiVersion()), intern(r.kind()), r.name(), intern(r.namespace()));
    String title = spec == null ? null : cap(spec.title(), TITLE_MAX);
    String search = spec == null ? null : cap(SearchText.of(spec), SEARCH_MAX);
    Entry e = new Entry(intern(m.getNamespace()), m.getName(), m.getResourceVersion(),
        intern(spec == null ? labels.get(Observation.LABEL_SOURCE) : spec.source()), severity,
        spec == null ? null : spec.category(), intern(spec == null ? null : spec.eventType()),
        intern(labels.get(Observation.LABEL_ORIGIN_UID)), intern(spec == null ? null : spec.clusterName()), resource,
        m.getCreationTimestamp(), spec == null ? null : spec.ttlSecondsAfterCreation(), null, title, null, 0, 0, 0)
        .withStatus(m.getResourceVersion(), compact(Statuses.effective(o)));
    // Most search texts are just the title and resource name: derived on demand, not kept twice.
    if (search != null && !search.equals(e.searchText())) {
      e = new Entry(e.namespace(), e.name(), e.resourceVersion(), e.source(), e.severity(), e.category(),
          e.eventType(), e.originUid(), e.clusterName(), e.resource(), e.creationTimestamp(), e.ttlSeconds(),
          e.status(), e.title(), search, e.firstSeenMicros(), e.lastSeenMicros(), e.resolvedMicros());
    }
    return e;
  }

  private static String cap(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max);
  }

  /** One String for firstSeen and lastSeen when they are equal (most Observations). */
  private static ObservationStatus compact(ObservationStatus s) {
    if (s.firstSeen() != null && s.lastSeen() != null && s.firstSeen() != s.lastSeen()
        && s.firstSeen().equals(s.lastSeen())) {
      return new ObservationStatus(s.count(), s.firstSeen(), s.firstSeen(), s.resolved(), s.resolvedAt());
    }
    return s;
  }

  private String intern(String s) {
    if (s == null) {
      return null;
    }
    String prior = interned.putIfAbsent(s, s);
    return prior == null ? s : prior;
  }

  static long createdMillis(Entry e) {
    Instant t = e.creationTimestamp() == null ? null : Statuses.parse(e.creationTimestamp());
    return t == null ? Long.MIN_VALUE : t.toEpochMilli();
  }

  /**
   * total, resolved and the count sum are kept exactly as entries come, change and go; the newest
   * creation and lastSeen are kept as maxima, found again by one scan after an entry that held one
   * of them changed or went.
   */
  private final class Stats {
    private long total;
    private long resolved;
    private long countSum;
    private long lastCreated = Long.MIN_VALUE;
    private long lastSeen = Long.MIN_VALUE;
    private boolean rescan;

    synchronized void replaced(Entry before, Entry after) {
      if (before != null) {
        total--;
        resolved -= before.resolved() ? 1 : 0;
        countSum -= before.count();
        if (createdMillis(before) == lastCreated || before.lastSeenMicros() == lastSeen) {
          rescan = true;
        }
      }
      if (after != null) {
        total++;
        resolved += after.resolved() ? 1 : 0;
        countSum += after.count();
        lastCreated = Math.max(lastCreated, createdMillis(after));
        lastSeen = Math.max(lastSeen, after.lastSeenMicros());
      }
    }

    synchronized StoreSummary summary() {
      if (rescan) {
        rescan = false;
        lastCreated = Long.MIN_VALUE;
        lastSeen = Long.MIN_VALUE;
        for (Entry e : entries.values()) {
          lastCreated = Math.max(lastCreated, createdMillis(e));
          lastSeen = Math.max(lastSeen, e.lastSeenMicros());
        }
      }
      if (total <= 0) {
        return StoreSummary.EMPTY;
      }
      return new StoreSummary(total, resolved, countSum,
          lastCreated == Long.MIN_VALUE ? null : Instant.ofEpochMilli(lastCreated),
          lastSeen == ConsoleReads.NONE ? null : ConsoleReads.instant(lastSeen));
    }
  }

  /** What the informer keeps of an Observation: only its identity and resourceVersion. */
  private static Observation skeleton(Entry e) {
    Observation o = new Observation();
    ObjectMeta m = new ObjectMeta();
    m.setNamespace(e.namespace());
    m.setName(e.name());
    m.setResourceVersion(e.resourceVersion());
    o.setMetadata(m);
    return o;
  }

  /**
   * The item store of one informer: all of the cache, or the namespace it watches (so that its
   * re-list removes only what it owns).
   */
  private final class View implements ItemStore<Observation> {
    private final Predicate<String> namespaces;

    View(Predicate<String> namespaces) {
      this.namespaces = namespaces;
    }

    @Override
    public String getKey(Observation o) {
      return key(o.getMetadata().getNamespace(), o.getMetadata().getName());
    }

    @Override
    public Observation put(String key, Observation o) {
      Entry before = ObservationCache.this.put(key, toEntry(o));
      return before == null ? null : skeleton(before);
    }

    @Override
    public Observation remove(String key) {
      Entry e = removeKey(key);
      return e == null ? null : skeleton(e);
    }

    @Override
    public Stream<String> keySet() {
      return entries.values().stream().filter(e -> namespaces.test(e.namespace())).map(Entry::key);
    }

    @Override
    public Stream<Observation> values() {
      return entries.values().stream().filter(e -> namespaces.test(e.namespace())).map(ObservationCache::skeleton);
    }

    @Override
    public int size() {
      return (int) entries.values().stream().filter(e -> namespaces.test(e.namespace())).count();
    }

    @Override
    public Observation get(String key) {
      Entry e = entries.get(key);
      return e == null || !namespaces.test(e.namespace()) ? null : skeleton(e);
    }

    @Override
    public boolean isFullState() {
      return false;
    }
  }
}
