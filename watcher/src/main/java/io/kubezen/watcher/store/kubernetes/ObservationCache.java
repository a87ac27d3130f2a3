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
import java.time.Duration;
import java.time.Instant;
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
   * For the console's reads: {@code title} (capped at {@link #TITLE_MAX} characters), {@code
   * search} ({@link SearchText#of}, capped at {@link #SEARCH_MAX}, kept without the title and
   * resource name it starts with, see {@link #searchText()}), and the status times as epoch
   * microseconds ({@link ConsoleReads#NONE} when absent), so that filters and sorts compare
   * numbers.
   *
   * <p>Compact, because there is one per Observation (100,000 and more): a decimal resourceVersion
   * is kept as a number, times as numbers (their text only when it would not be given back the same
   * from the number), the status as its numbers; values that repeat across Observations (namespace,
   * source, origin uid, cluster, the resource, the TTL, the title) are shared through the cache's
   * {@link Interner}. Immutable; identity is its equality (the cache indexes entries by instance).
   */
  public static final class Entry {
    private final String namespace;
    private final String name;

    /**
     * The resourceVersion when it is a decimal number (what etcd issues); -1 when {@link #rvText}
     * holds it.
     */
    private final long rv;

    private final String rvText;
    private final String source;
    private final Severity severity;
    private final Category category;
    private final String eventType;
    private final String originUid;
    private final String clusterName;
    private final ResourceRef resource;

    /** Epoch milliseconds of the creation, {@link Long#MIN_VALUE} when absent or unparseable. */
    private final long createdMillis;

    /** The creation time as written, only when {@link #createdMillis} would not give it back. */
    private final String createdText;

    private final Long ttlSeconds;

    /** status.count, -1 when absent. */
    private final long count;

    /** status.resolved: 0 absent, 1 false, 2 true. */
    private final byte resolvedFlag;

    private final long firstSeenMicros;
    private final long lastSeenMicros;
    private final long resolvedMicros;

    /** The status times as written, each only when its micros would not give it back. */
    private final String firstText;

    private final String lastText;
    private final String resolvedText;
    private final String title;

    /**
     * The search text without what {@link #searchText()} derives from the title and resource name:
     * null when it is only that, what follows that (after a newline) when {@link #searchIsTail},
     * else the whole text.
     */
    private final String search;

    private final boolean searchIsTail;

    private Entry(
        String namespace,
        String name,
        String resourceVersion,
        String source,
        Severity severity,
        Category category,
        String eventType,
        String originUid,
        String clusterName,
        ResourceRef resource,
        String creationTimestamp,
        Long ttlSeconds,
        ObservationStatus status,
        String title,
        String search,
        boolean searchIsTail) {
      this.namespace = namespace;
      this.name = name;
      long n = decimal(resourceVersion);
      this.rv = n;
      this.rvText = n < 0 ? resourceVersion : null;
      this.source = source;
      this.severity = severity;
      this.category = category;
      this.eventType = eventType;
      this.originUid = originUid;
      this.clusterName = clusterName;
      this.resource = resource;
      Instant created = creationTimestamp == null ? null : Statuses.parse(creationTimestamp);
      this.createdMillis = created == null ? Long.MIN_VALUE : created.toEpochMilli();
      this.createdText =
          created != null
                  && Instant.ofEpochMilli(createdMillis).toString().equals(creationTimestamp)
              ? null
              : creationTimestamp;
      this.ttlSeconds = ttlSeconds;
      this.count = status == null || status.count() == null ? -1 : status.count();
      this.resolvedFlag =
          (byte) (status == null || status.resolved() == null ? 0 : status.resolved() ? 2 : 1);
      this.firstSeenMicros = ConsoleReads.micros(status == null ? null : status.firstSeen());
      this.lastSeenMicros = ConsoleReads.micros(status == null ? null : status.lastSeen());
      this.resolvedMicros = ConsoleReads.micros(status == null ? null : status.resolvedAt());
      this.firstText =
          textUnlessCanonical(status == null ? null : status.firstSeen(), firstSeenMicros);
      this.lastText =
          textUnlessCanonical(status == null ? null : status.lastSeen(), lastSeenMicros);
      this.resolvedText =
          textUnlessCanonical(status == null ? null : status.resolvedAt(), resolvedMicros);
      this.title = title;
      this.search = search;
      this.searchIsTail = searchIsTail;
    }

    private Entry(Entry e, String name, long rv, String rvText, ObservationStatus status) {
      this.namespace = e.namespace;
      this.name = name;
      this.rv = rv;
      this.rvText = rvText;
      this.source = e.source;
      this.severity = e.severity;
      this.category = e.category;
      this.eventType = e.eventType;
      this.originUid = e.originUid;
      this.clusterName = e.clusterName;
      this.resource = e.resource;
      this.createdMillis = e.createdMillis;
      this.createdText = e.createdText;
      this.ttlSeconds = e.ttlSeconds;
      this.title = e.title;
      this.search = e.search;
      this.searchIsTail = e.searchIsTail;
      if (status == null) {
        this.count = e.count;
        this.resolvedFlag = e.resolvedFlag;
        this.firstSeenMicros = e.firstSeenMicros;
        this.lastSeenMicros = e.lastSeenMicros;
        this.resolvedMicros = e.resolvedMicros;
        this.firstText = e.firstText;
        this.lastText = e.lastText;
        this.resolvedText = e.resolvedText;
      } else {
        this.count = status.count() == null ? -1 : status.count();
        this.resolvedFlag = (byte) (status.resolved() == null ? 0 : status.resolved() ? 2 : 1);
        this.firstSeenMicros = ConsoleReads.micros(status.firstSeen());
        this.lastSeenMicros = ConsoleReads.micros(status.lastSeen());
        this.resolvedMicros = ConsoleReads.micros(status.resolvedAt());
        this.firstText = textUnlessCanonical(status.firstSeen(), firstSeenMicros);
        this.lastText = textUnlessCanonical(status.lastSeen(), lastSeenMicros);
        this.resolvedText = textUnlessCanonical(status.resolvedAt(), resolvedMicros);
      }
    }

    /** A decimal resourceVersion as a number; -1 when it is not one (opaque, or absent). */
    static long decimal(String rv) {
      if (rv == null
          || rv.isEmpty()
          || rv.length() > 18
          || (rv.length() > 1 && rv.charAt(0) == '0')) {
        return -1;
      }
      for (int i = 0; i < rv.length(); i++) {
        if (rv.charAt(i) < '0' || rv.charAt(i) > '9') {
          return -1;
        }
      }
      return Long.parseLong(rv);
    }

    private static String textUnlessCanonical(String text, long micros) {
      if (text == null) {
        return null;
      }
      return micros != ConsoleReads.NONE && ConsoleReads.instant(micros).toString().equals(text)
          ? null
          : text;
    }

    private static String time(String text, long micros) {
      return text != null
          ? text
          : micros == ConsoleReads.NONE ? null : ConsoleReads.instant(micros).toString();
    }

    public String namespace() {
      return namespace;
    }

    public String name() {
      return name;
    }

    public String resourceVersion() {
      return rvText != null ? rvText : rv < 0 ? null : Long.toString(rv);
    }

    /** The resourceVersion as a number, -1 when it is not a decimal one. */
    long resourceVersionNumber() {
      return rvText != null ? -1 : rv;
    }

    public String source() {
      return source;
    }

    public Severity severity() {
      return severity;
    }

    public Category category() {
      return category;
    }

    public String eventType() {
      return eventType;
    }

    public String originUid() {
      return originUid;
    }

    public String clusterName() {
      return clusterName;
    }

    public ResourceRef resource() {
      return resource;
    }

    public String creationTimestamp() {
      return createdText != null
          ? createdText
          : createdMillis == Long.MIN_VALUE ? null : Instant.ofEpochMilli(createdMillis).toString();
    }

    /** Epoch milliseconds of the creation, {@link Long#MIN_VALUE} when unknown. */
    public long createdMillis() {
      return createdMillis;
    }

    public Long ttlSeconds() {
      return ttlSeconds;
    }

    /** The effective status, rebuilt from the entry's numbers. */
    public ObservationStatus status() {
      String first = time(firstText, firstSeenMicros);
      String last =
          lastText == null && lastSeenMicros == firstSeenMicros && firstText == null
              ? first
              : time(lastText, lastSeenMicros);
      return new ObservationStatus(
          count < 0 ? null : count,
          first,
          last,
          resolvedFlag == 0 ? null : resolvedFlag == 2,
          time(resolvedText, resolvedMicros));
    }

    public String title() {
      return title;
    }

    /** What the entry keeps of its search text (see {@link #searchText()}). */
    String search() {
      return search;
    }

    public long firstSeenMicros() {
      return firstSeenMicros;
    }

    public long lastSeenMicros() {
      return lastSeenMicros;
    }

    public long resolvedMicros() {
      return resolvedMicros;
    }

    public String key() {
      return ObservationCache.key(namespace, name);
    }

    public boolean resolved() {
      return resolvedFlag == 2;
    }

    /** {@code status.count}, 1 when absent. */
    public long count() {
      return count < 0 ? 1 : count;
    }

    /** The free-text haystack: {@link SearchText#of} of the spec (lower-cased), capped. */
    public String searchText() {
      if (search != null && !searchIsTail) {
        return search;
      }
      String head = derivedSearchText();
      return search == null ? head : head + "\n" + search;
    }

    /**
     * {@code searchText().contains(needle)} for a lower-cased {@code needle}, without building the
     * text when the title, resource name and needle are ASCII (the console's free-text search scans
     * every entry): the parts are searched one by one, which is the same because a needle without a
     * newline cannot span the newlines between them.
     */
    public boolean searchContains(String needle) {
      if (search != null && !searchIsTail) {
        return search.contains(needle);
      }
      if (search != null && search.contains(needle)) {
        return true;
      }
      String rn = resource == null ? null : resource.name();
      if (needle.indexOf('\n') < 0 && isAscii(needle) && isAscii(title) && isAscii(rn)) {
        return containsIgnoringAsciiCase(title, needle) || containsIgnoringAsciiCase(rn, needle);
      }
      return searchText().contains(needle);
    }

    private static boolean isAscii(String s) {
      if (s != null) {
        for (int i = 0; i < s.length(); i++) {
          if (s.charAt(i) >= 128) {
            return false;
          }
        }
      }
      return true;
    }

    /** ASCII {@code hay} lower-cased contains ASCII lower-case {@code needle}; false for null. */
    private static boolean containsIgnoringAsciiCase(String hay, String needle) {
      if (hay == null) {
        return false;
      }
      outer:
      for (int i = 0; i + needle.length() <= hay.length(); i++) {
        for (int j = 0; j < needle.length(); j++) {
          char c = hay.charAt(i + j);
          if ((c >= 'A' && c <= 'Z' ? (char) (c + 32) : c) != needle.charAt(j)) {
            continue outer;
          }
        }
        return true;
      }
      return false;
    }

    /** The search text of the title and resource name alone. */
    private String derivedSearchText() {
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
    Entry withStatus(String resourceVersion, ObservationStatus s) {
      long n = decimal(resourceVersion);
      return new Entry(this, name, n, n < 0 ? resourceVersion : null, s);
    }

    /** The same entry under another (equal) name instance: the one the cache's map holds as key. */
    Entry named(String sameName) {
      return sameName == name ? this : new Entry(this, sameName, rv, rvText, null);
    }

    @Override
    public String toString() {
      return "Entry[" + key() + " rv=" + resourceVersion() + " " + status() + "]";
    }
  }

  /** Titles longer than this are cut in the cache (the detail page reads the full Observation). */
  public static final int TITLE_MAX = 256;

  /** Search texts longer than this are cut in the cache. */
  public static final int SEARCH_MAX = 1024;

  /**
   * The entries by namespace, then name (the key is the entry's own name: no key string per entry).
   */
  private final Map<String, Map<String, Entry>> byNamespace = new ConcurrentHashMap<>();

  private final java.util.concurrent.atomic.AtomicInteger size =
      new java.util.concurrent.atomic.AtomicInteger();

  /**
   * The entries of each origin uid (by instance: an entry replaced is taken out, its successor put
   * in).
   */
  private final Map<String, Set<Entry>> byOrigin = new ConcurrentHashMap<>();

  /**
   * The entries of each severity, for eviction under {@code MAX_OBSERVATIONS}; null when not kept.
   */
  private final Map<Severity, Set<Entry>> bySeverity;

  /** Values shared by the entries that have them. */
  private final Interner interner = new Interner();

  private final List<SharedIndexInformer<CachedObservation>> informers = new ArrayList<>();
  private final Stats stats = new Stats();
  private volatile boolean started;

  /** A cache with a severity index ({@link #anyOf} without a scan). */
  public ObservationCache() {
    this(true);
  }

  /**
   * @param severityIndex keep the entries of each severity apart, so that {@link #anyOf} is cheap
   *     (for a store with {@code MAX_OBSERVATIONS}); without it, {@link #anyOf} scans
   */
  public ObservationCache(boolean severityIndex) {
    if (severityIndex) {
      bySeverity = new EnumMap<>(Severity.class);
      for (Severity s : Severity.values()) {
        bySeverity.put(s, ConcurrentHashMap.newKeySet());
      }
    } else {
      bySeverity = null;
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
    MixedOperation<
            CachedObservation,
            KubernetesResourceList<CachedObservation>,
            Resource<CachedObservation>>
        api = client.resources(CachedObservation.class);
    if (namespaces.isEmpty()) {
      informers.add(
          startInformer(
              api.inAnyNamespace().withLimit(LIST_PAGE).runnableInformer(0), ns -> true, "all"));
    } else {
      for (String ns : namespaces) {
        informers.add(
            startInformer(
                api.inNamespace(ns).withLimit(LIST_PAGE).runnableInformer(0), ns::equals, ns));
      }
    }
    return this;
  }

  private SharedIndexInformer<CachedObservation> startInformer(
      SharedIndexInformer<CachedObservation> informer, Predicate<String> namespaces, String scope) {
    informer.removeNamespaceIndex();
    informer.itemStore(itemStore(namespaces));
    java.util.concurrent.atomic.AtomicInteger failures =
        new java.util.concurrent.atomic.AtomicInteger();
    informer.exceptionHandler(
        (isStarted, t) -> {
          if (failures.getAndIncrement() == 0) {
            log.warn(
                "the Observation cache's watch ({}) failed; retrying: {}", scope, t.toString());
          } else {
            log.debug(
                "the Observation cache's watch ({}) failed; retrying: {}", scope, t.toString());
          }
          return true;
        });
    long t0 = System.nanoTime();
    informer
        .start()
        .whenComplete(
            (v, e) -> {
              if (e == null) {
                log.info(
                    "Observation cache ({}) synced: {} Observations in {} ms",
                    scope,
                    size(),
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
      for (SharedIndexInformer<CachedObservation> i : informers) {
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
    for (SharedIndexInformer<CachedObservation> i : informers) {
      i.stop();
    }
    informers.clear();
    started = false;
  }

  // ---------------------------------------------------------------- reads

  public Entry get(String namespace, String name) {
    Map<String, Entry> m = byNamespace.get(namespace);
    return m == null ? null : m.get(name);
  }

  /** The entries of the Observations created from the object with this uid. */
  public List<Entry> byOrigin(String originUid) {
    Set<Entry> set = byOrigin.get(originUid);
    return set == null ? List.of() : new ArrayList<>(set);
  }

  /** Some Observation of {@code severity}, or null. */
  public Entry anyOf(Severity severity) {
    if (bySeverity != null) {
      for (Entry e : bySeverity.get(severity)) {
        return e;
      }
      return null;
    }
    for (Entry e : entries()) {
      if (e.severity() == severity) {
        return e;
      }
    }
    return null;
  }

  public int size() {
    return size.get();
  }

  /**
   * The numbers of {@link StoreSummary}, kept as entries change (a scan only after the newest one
   * went).
   */
  public StoreSummary summary() {
    return stats.summary();
  }

  /** Every entry (a live view: entries may come and go while it is read). */
  public Collection<Entry> entries() {
    return entriesView;
  }

  private final Collection<Entry> entriesView =
      new java.util.AbstractCollection<>() {
        @Override
        public java.util.Iterator<Entry> iterator() {
          java.util.Iterator<Map<String, Entry>> namespaces = byNamespace.values().iterator();
          return new java.util.Iterator<>() {
            java.util.Iterator<Entry> current = java.util.Collections.emptyIterator();

            @Override
            public boolean hasNext() {
              while (!current.hasNext()) {
                if (!namespaces.hasNext()) {
                  return false;
                }
                current = namespaces.next().values().iterator();
              }
              return true;
            }

            @Override
            public Entry next() {
              if (!hasNext()) {
                throw new java.util.NoSuchElementException();
              }
              return current.next();
            }
          };
        }

        @Override
        public int size() {
          return size.get();
        }
      };

  // ---------------------------------------------------------------- writes of the store

  /** The store wrote {@code o} (its result from the API server): the cache has it at once. */
  public void written(Observation o) {
    put(toEntry(o.getMetadata(), o.getSpec(), o.getStatus()));
  }

  /** The store saw that {@code namespace/name} is gone (404, or deleted). */
  public void gone(String namespace, String name) {
    remove(namespace, name);
  }

  /** The status the store just wrote, with the resourceVersion the API server answered. */
  public void statusWritten(
      String namespace, String name, String resourceVersion, ObservationStatus status) {
    Map<String, Entry> m = byNamespace.get(namespace);
    if (m == null) {
      return;
    }
    m.computeIfPresent(
        name,
        (k, e) -> {
          Entry next = e.withStatus(resourceVersion, compact(status));
          unindex(e);
          index(next);
          stats.replaced(e, next);
          return next;
        });
  }

  // ---------------------------------------------------------------- the entries and indexes

  /**
   * Puts {@code e} in place of the entry of its namespace/name, indexes kept in step; returns what
   * was there.
   */
  private Entry put(Entry e) {
    Map<String, Entry> m =
        byNamespace.computeIfAbsent(e.namespace(), ns -> new ConcurrentHashMap<>());
    Entry[] before = new Entry[1];
    m.compute(
        e.name(),
        (k, b) -> {
          before[0] = b;
          if (b != null && older(e.resourceVersionNumber(), b.resourceVersionNumber())) {
            // A watch event older than what the store already wrote here (the create's event
            // arriving
            // after the status write): keep the newer entry; the watch delivers the newer event
            // next.
            return b;
          }
          // The map keeps the key it has: the successor shares that name instance.
          Entry next = b == null ? e : e.named(b.name());
          if (b != null) {
            unindex(b);
          } else {
            size.incrementAndGet();
          }
          index(next);
          stats.replaced(b, next);
          return next;
        });
    return before[0];
  }

  /**
   * True when resourceVersion {@code a} is known to be older than {@code b}: both are the decimal
   * numbers the API server (etcd) issues in practice. Opaque ones are never called older.
   */
  static boolean older(String a, String b) {
    return older(Entry.decimal(a), Entry.decimal(b));
  }

  private static boolean older(long a, long b) {
    return a >= 0 && b >= 0 && a < b;
  }

  private Entry remove(String namespace, String name) {
    Map<String, Entry> m = byNamespace.get(namespace);
    if (m == null) {
      return null;
    }
    Entry[] removed = new Entry[1];
    m.computeIfPresent(
        name,
        (key, before) -> {
          unindex(before);
          size.decrementAndGet();
          removed[0] = before;
          stats.replaced(before, null);
          return null;
        });
    return removed[0];
  }

  private void index(Entry e) {
    if (e.originUid() != null) {
      byOrigin.computeIfAbsent(e.originUid(), u -> ConcurrentHashMap.newKeySet()).add(e);
    }
    if (bySeverity != null) {
      bySeverity.get(e.severity()).add(e);
    }
  }

  private void unindex(Entry e) {
    if (e.originUid() != null) {
      byOrigin.computeIfPresent(
          e.originUid(),
          (u, set) -> {
            set.remove(e);
            return set.isEmpty() ? null : set;
          });
    }
    if (bySeverity != null) {
      bySeverity.get(e.severity()).remove(e);
    }
  }

  Entry toEntry(ObjectMeta m, ObservationSpec spec, ObservationStatus status) {
    Map<String, String> labels = m.getLabels() == null ? Map.of() : m.getLabels();
    Severity severity = spec != null && spec.severity() != null ? spec.severity() : Severity.INFO;
    ResourceRef r = spec == null ? null : spec.resource();
    ResourceRef resource =
        r == null
            ? null
            : interner.intern(
                new ResourceRef(
                    interner.intern(r.apiVersion()),
                    interner.intern(r.kind()),
                    interner.intern(r.name()),
                    interner.intern(r.namespace())));
    String title = spec == null ? null : interner.intern(cap(spec.title(), TITLE_MAX));
    String search = spec == null ? null : cap(SearchText.of(spec), SEARCH_MAX);
    Entry e =
        new Entry(
            interner.intern(m.getNamespace()),
            m.getName(),
            m.getResourceVersion(),
            interner.intern(spec == null ? labels.get(Observation.LABEL_SOURCE) : spec.source()),
            severity,
            spec == null ? null : spec.category(),
            interner.intern(spec == null ? null : spec.eventType()),
            interner.intern(labels.get(Observation.LABEL_ORIGIN_UID)),
            interner.intern(spec == null ? null : spec.clusterName()),
            resource,
            m.getCreationTimestamp(),
            interner.intern(spec == null ? null : spec.ttlSecondsAfterCreation()),
            compact(Statuses.effective(m, spec, status)),
            title,
            null,
            false);
    // Most search texts are the title and resource name, then a detail or two (a CVE id, a rule):
    // the entry keeps only what follows the title and resource name, which it has anyway.
    String head = e.searchText();
    if (search != null && !search.equals(head)) {
      boolean tail =
          !head.isEmpty()
              && search.length() > head.length()
              && search.charAt(head.length()) == '\n'
              && search.startsWith(head);
      e =
          new Entry(
              e.namespace(),
              e.name(),
              m.getResourceVersion(),
              e.source(),
              e.severity(),
              e.category(),
              e.eventType(),
              e.originUid(),
              e.clusterName(),
              e.resource(),
              m.getCreationTimestamp(),
              e.ttlSeconds(),
              e.status(),
              e.title(),
              tail ? search.substring(head.length() + 1) : search,
              tail);
    }
    return e;
  }

  private static String cap(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max);
  }

  /** One String for firstSeen and lastSeen when they are equal (most Observations). */
  private static ObservationStatus compact(ObservationStatus s) {
    if (s.firstSeen() != null
        && s.lastSeen() != null
        && s.firstSeen() != s.lastSeen()
        && s.firstSeen().equals(s.lastSeen())) {
      return new ObservationStatus(
          s.count(), s.firstSeen(), s.firstSeen(), s.resolved(), s.resolvedAt());
    }
    return s;
  }

  static long createdMillis(Entry e) {
    return e.createdMillis();
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
        for (Entry e : entries()) {
          lastCreated = Math.max(lastCreated, createdMillis(e));
          lastSeen = Math.max(lastSeen, e.lastSeenMicros());
        }
      }
      if (total <= 0) {
        return StoreSummary.EMPTY;
      }
      return new StoreSummary(
          total,
          resolved,
          countSum,
          lastCreated == Long.MIN_VALUE ? null : Instant.ofEpochMilli(lastCreated),
          lastSeen == ConsoleReads.NONE ? null : ConsoleReads.instant(lastSeen));
    }
  }

  /** The item store of an informer over the Observations of {@code namespaces}. */
  ItemStore<CachedObservation> itemStore(Predicate<String> namespaces) {
    return new View(namespaces);
  }

  /**
   * The item store of one informer: all of the cache, or the namespace it watches (so that its
   * re-list removes only what it owns).
   */
  private final class View implements ItemStore<CachedObservation> {
    private final Predicate<String> namespaces;

    View(Predicate<String> namespaces) {
      this.namespaces = namespaces;
    }

    @Override
    public String getKey(CachedObservation o) {
      Entry e = o.entry();
      return e != null ? e.key() : key(o.getMetadata().getNamespace(), o.getMetadata().getName());
    }

    @Override
    public CachedObservation put(String key, CachedObservation o) {
      Entry before =
          ObservationCache.this.put(toEntry(o.getMetadata(), o.getSpec(), o.getStatus()));
      return before == null ? null : new CachedObservation(before);
    }

    @Override
    public CachedObservation remove(String key) {
      int slash = key.indexOf('/');
      Entry e =
          slash < 0
              ? null
              : ObservationCache.this.remove(key.substring(0, slash), key.substring(slash + 1));
      return e == null ? null : new CachedObservation(e);
    }

    @Override
    public Stream<String> keySet() {
      return mine().map(Entry::key);
    }

    @Override
    public Stream<CachedObservation> values() {
      return mine().map(CachedObservation::new);
    }

    @Override
    public int size() {
      return (int) mine().count();
    }

    @Override
    public CachedObservation get(String key) {
      int slash = key.indexOf('/');
      Entry e =
          slash < 0
              ? null
              : ObservationCache.this.get(key.substring(0, slash), key.substring(slash + 1));
      return e == null || !namespaces.test(e.namespace()) ? null : new CachedObservation(e);
    }

    /** The entries of the namespaces this informer watches. */
    private Stream<Entry> mine() {
      return byNamespace.entrySet().stream()
          .filter(n -> namespaces.test(n.getKey()))
          .flatMap(n -> n.getValue().values().stream());
    }

    @Override
    public boolean isFullState() {
      return false;
    }
  }
}
