package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.Pipeline;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the informers of every enabled {@link WatchedSource} and feeds what they see into the
 * pipeline (see {@link OriginReconciler}). {@link #start} and {@link #stop} may be called any number
 * of times on one instance (the leader elector starts it on gaining leadership and stops it on
 * losing it); every start re-lists everything, which creates and counts nothing twice.
 *
 * <p>A source whose CRD is not installed waits for it: a WARN log once, {@code
 * zen_watcher_source_available 0}, {@link #status()} "waiting for CRD ..."; the CRD is looked for
 * every {@link SourceOptions#crdCheckInterval()} and the source starts as soon as it is there (and
 * stops when it is removed), without a restart.
 *
 * <p>Namespaced sources run one informer across all namespaces, or, when scoped, one informer per
 * watched namespace: those of {@code WATCH_NAMESPACE}, plus those whose labels match {@code
 * WATCH_NAMESPACE_SELECTOR} (a Namespace informer follows them as they are created, relabelled and
 * deleted; the selector is matched here, so set-based selectors work the same everywhere).
 *
 * <p>Sources come and go at run time too ({@link #add}, {@link #remove}): the informer Ingesters
 * ({@code IngesterInformers} tells the engine which to run) are watched sources like the built-in
 * ones, with their own pipeline, namespaces and field selector; when their resource has no kind yet
 * (its CRD was not installed when the Ingester was read), the kind and scope are read from the CRD
 * once it is there. The engine never calls the store: creates and resolves go through the writer
 * ({@link Pipeline#reconcile}, {@link Pipeline#resolveOrigin}), digests are compared with {@link
 * Pipeline#openKeys}.
 *
 * <p>With a checkpoint ({@link SourceOptions#checkpointed()}), event-like sources (Kubernetes
 * Events) are not informers but {@link EventSource}s: they resume their watch from the
 * resourceVersion {@link EventCheckpoint} recorded (written every {@link
 * SourceOptions#checkpointInterval()} and on stop), so Events created while no leader ran are seen.
 */
public final class SourceManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SourceManager.class);
  /** The informer key of an informer over all namespaces, or over a cluster-scoped resource. */
  static final String ALL = "";
  private static final int RECONCILE_THREADS = 2;
  /** Page size of a watched source's initial list (reports can be large). */
  static final long LIST_PAGE = 50;

  private final KubernetesClient client;
  private final Pipeline pipeline;
  private final Metrics metrics;
  private final Clock clock;
  private final SourceOptions options;
  private final LabelSelector namespaceSelector;
  /** The watched sources: the built-in ones, then those added at run time ({@link #add}). */
  private final List<Unit> units = new java.util.concurrent.CopyOnWriteArrayList<>();

  private volatile Run run;

  /**
   * One catch-up: the time from {@link #start} until every watched source had synced and every
   * object of its initial list was reconciled, and the Observations created meanwhile.
   */
  public record CatchUp(Duration took, long created) {}

  /** What runs one watched source in one namespace scope: an informer, or an {@link EventSource}. */
  interface Feed {
    void stop();

    boolean hasSynced();
  }

  private record InformerFeed(SharedIndexInformer<GenericKubernetesResource> informer) implements Feed {
    @Override
    public void stop() {
      informer.stop();
    }

    @Override
    public boolean hasSynced() {
      return informer.hasSynced();
    }
  }

  /**
   * The Observations one watched object's findings map to, as sorted 64-bit hashes of their keys:
   * a few bytes per finding, enough to tell whether the Observations match the object.
   */
  record Digest(long[] keys) {
    static Digest of(List<io.kubezen.watcher.store.ObservationKey> keys) {
      long[] h = new long[keys.size()];
      for (int i = 0; i < h.length; i++) {
        h[i] = hash(keys.get(i).namespace(), keys.get(i).name());
      }
      java.util.Arrays.sort(h);
      return new Digest(h);
    }

    /** FNV-1a, 64 bits, of {@code namespace/name}. */
    static long hash(String namespace, String name) {
      long h = 0xcbf29ce484222325L;
      String s = namespace + "/" + name;
      for (int i = 0; i < s.length(); i++) {
        h ^= s.charAt(i);
        h *= 0x100000001b3L;
      }
      return h;
    }

    /** True when {@code open} (the keys of the unresolved Observations of the object) are exactly these. */
    boolean matches(long[] open) {
      long[] sorted = open.clone();
      java.util.Arrays.sort(sorted);
      long[] mine = java.util.Arrays.stream(keys).distinct().toArray();
      return java.util.Arrays.equals(mine, java.util.Arrays.stream(sorted).distinct().toArray());
    }
  }

  /** One enabled watched source and its state. */
  private final class Unit {
    /** Replaced once when the kind and scope are read from the CRD ({@link WatchedSource#kindFromCrd}). */
    volatile WatchedSource source;
    volatile Availability availability;
    volatile boolean warned;
    /** The last failure of an initial list or watch (cleared once synced), or null. */
    volatile String failure;
    final Map<String, Feed> informers = new ConcurrentHashMap<>();

    Unit(WatchedSource source) {
      this.source = source;
      this.availability = source.crdName() == null ? Availability.AVAILABLE
          : options.namespacedAccess() && !source.namespaced() ? Availability.NOT_IN_SCOPE
          : Availability.UNKNOWN;
    }
  }

  private record Availability(boolean available, String message) {
    static final Availability AVAILABLE = new Availability(true, null);
    static final Availability UNKNOWN = new Availability(false, "checking CRD");
    static final Availability NOT_IN_SCOPE =
        new Availability(false, "cluster-scoped: not watched (ACCESS_SCOPE=namespaces has no cluster-wide rights)");
  }

  /** What one start() brought up; dropped by stop(). */
  private static final class Run {
    /** Replaced on each promotion (a halted reconciler cannot be reused). */
    volatile OriginReconciler reconciler;
    /** True while this replica leads: events are reconciled; false in warm standby: only remembered. */
    volatile boolean active;
    /** True from becoming leader until demoted or stopped (a halt fences, but the term lasts until then). */
    volatile boolean leading;
    /** What each watched object's findings map to (by uid), for the catch-up of a warm standby. */
    final Map<String, Digest> digests = new ConcurrentHashMap<>();
    final ScheduledExecutorService checker;
    /** Null without a checkpoint. */
    final EventCheckpoint checkpoint;
    final ScheduledExecutorService eventExecutor;
    final Set<EventSource> eventSources = ConcurrentHashMap.newKeySet();
    final Set<String> selectedNamespaces = ConcurrentHashMap.newKeySet();
    SharedIndexInformer<Namespace> namespaceInformer;
    volatile boolean namespacesSynced;
    volatile boolean stopped;
    volatile long startedNanos = System.nanoTime();
    volatile java.util.concurrent.CompletableFuture<CatchUp> caughtUp = new java.util.concurrent.CompletableFuture<>();

    Run(OriginReconciler reconciler, ScheduledExecutorService checker, EventCheckpoint checkpoint,
        ScheduledExecutorService eventExecutor) {
      this.reconciler = reconciler;
      this.checker = checker;
      this.checkpoint = checkpoint;
      this.eventExecutor = eventExecutor;
    }
  }

  public SourceManager(KubernetesClient client, Pipeline pipeline, Metrics metrics, Clock clock,
      SourceOptions options) {
    this(client, pipeline, metrics, clock, options, BuiltInSources.all());
  }

  /**
   * With the watched sources of the caller's choosing (tests); more can be added with {@link #add}.
   *
   * @throws IllegalArgumentException when the namespace selector is invalid, or a source named in
   *     {@link SourceOptions#sources()} is not among {@code watched}
   */
  public SourceManager(KubernetesClient client, Pipeline pipeline, Metrics metrics, Clock clock,
      SourceOptions options, List<WatchedSource> watched) {
    this.client = Objects.requireNonNull(client, "client");
    this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    this.namespaceSelector = options.namespaceSelector() == null ? null : LabelSelector.parse(options.namespaceSelector());
    Set<String> known = new TreeSet<>();
    Set<String> ids = new LinkedHashSet<>();
    List<Unit> u = new ArrayList<>();
    for (WatchedSource w : watched) {
      known.add(w.source());
      if (!ids.add(w.id())) {
        throw new IllegalArgumentException("watched source " + w.id() + " is listed twice");
      }
      if (options.enabled(w.source())) {
        u.add(new Unit(w));
      }
    }
    for (String s : options.sources()) {
      if (!known.contains(s)) {
        throw new IllegalArgumentException("SOURCES names '" + s + "', which is not a watched source; known: " + known);
      }
    }
    this.units.addAll(u);
  }

  /**
   * Adds a watched source at run time (an informer Ingester): it runs like the built-in ones (CRD
   * waiting, paged list, warm standby digests, catch-up, retries on a full write queue), whether
   * this engine is leading, in warm standby, or stopped (then from the next start). {@code SOURCES}
   * does not apply to it.
   *
   * @throws IllegalArgumentException when a source with the same {@link WatchedSource#id()} runs
   */
  public void add(WatchedSource source) {
    Objects.requireNonNull(source, "source");
    Run r;
    Unit u;
    synchronized (this) {
      for (Unit x : units) {
        if (x.source.id().equals(source.id())) {
          throw new IllegalArgumentException("watched source " + source.id() + " is running already");
        }
      }
      u = new Unit(source);
      units.add(u);
      r = run;
      if (r == null) {
        return;
      }
      if (source.crdName() == null) {
        metrics.sourceAvailable(source.source(), source.gvr(), true);
        reconcileInformers(r);
        return;
      }
    }
    try {
      r.checker.execute(() -> checkCrds(r)); // starts it as soon as its CRD is found
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      // stopped meanwhile: the next start checks it
    }
  }

  /**
   * Removes a watched source added with {@link #add} (an informer Ingester deleted or changed):
   * its informers stop; its Observations are left as they are. No-op when there is none.
   */
  public synchronized void remove(String id) {
    for (Unit u : units) {
      if (u.source.id().equals(id)) {
        units.remove(u);
        for (Feed f : u.informers.values()) {
          f.stop();
          if (f instanceof EventSource es && run != null) {
            run.eventSources.remove(es);
          }
        }
        u.informers.clear();
        log.info("{}: no longer watched", id);
        return;
      }
    }
  }

  /**
   * Why a watched source is not synced yet: the last failure of its initial list or watch (a 403,
   * say), or null when it is synced, has not failed, or there is no such source.
   */
  public String failure(String id) {
    Run r;
    synchronized (this) {
      r = run;
    }
    for (Unit u : units) {
      if (u.source.id().equals(id)) {
        String f = u.failure;
        return f != null && "syncing".equals(status(u, r)) ? f : null;
      }
    }
    return null;
  }

  /** The status of one watched source (as in {@link #status()}), or null when there is none. */
  public String status(String id) {
    Run r;
    synchronized (this) {
      r = run;
    }
    for (Unit u : units) {
      if (u.source.id().equals(id)) {
        return status(u, r);
      }
    }
    return null;
  }

  /** Starts every enabled source (no-op when started). Returns at once; the informers sync in the background. */
  public synchronized SourceManager start() {
    if (run == null) {
      run = newRun(true);
    } else if (!run.active) {
      activate(run);
    }
    return this;
  }

  /**
   * Warm standby (no-op when running): the informers run and each object's findings are
   * remembered ({@link Digest}), nothing is written. A later {@link #start} makes this replica lead
   * with a catch-up that reads only the objects whose Observations do not match what it remembers.
   */
  public synchronized SourceManager standby() {
    if (run == null) {
      run = newRun(false);
    }
    return this;
  }

  /** Standby to leading: a fresh reconciler, the leader-only feeds, and the catch-up from the digests. */
  private void activate(Run r) {
    OriginReconciler unused = r.reconciler;
    r.reconciler = new OriginReconciler(pipeline, clock, RECONCILE_THREADS, r.digests);
    unused.close(Duration.ZERO);
    r.startedNanos = System.nanoTime();
    r.caughtUp = new java.util.concurrent.CompletableFuture<>();
    r.active = true;
    r.leading = true;
    reconcileInformers(r); // the event streams resuming from the checkpoint run on the leader only
    Thread t = new Thread(() -> catchUpFromDigests(r), "source-catch-up");
    t.setDaemon(true);
    t.start();
    log.info("watched sources starting (from warm standby)");
  }

  /**
   * Leading to warm standby: fenced at once, the work under way drained (bounded), the
   * leader-only feeds stopped and the checkpoint written; the informers keep running.
   */
  public void demote() {
    Run r;
    synchronized (this) {
      r = run;
      if (r == null || !r.leading) {
        if (r != null) {
          r.active = false;
          r.reconciler.halt();
        }
        return;
      }
      r.active = false;
      r.leading = false;
      r.reconciler.halt();
    }
    reconcileInformers(r);
    r.reconciler.close(Duration.ofSeconds(10));
    if (r.checkpoint != null) {
      writeCheckpoint(r, true);
    }
    log.info("watched sources stopped (back to warm standby: the informers go on)");
  }

  /**
   * The catch-up of a warm standby: each object whose remembered findings match its unresolved
   * Observations (the cache answers) is done without a request; each other one (changed since the
   * last leader reconciled it, or never seen whole) is read and reconciled.
   */
  private void catchUpFromDigests(Run r) {
    OriginReconciler rec = r.reconciler;
    long read = 0;
    long matched = 0;
    for (Unit u : units) {
      for (Feed feed : u.informers.values()) {
        if (!(feed instanceof InformerFeed f)) {
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
          Digest d = r.digests.get(uid);
          try {
            if (d != null && d.matches(openKeys(uid))) {
              rec.alreadyReconciled(uid);
              matched++;
              continue;
            }
            read++;
            var op = client.genericKubernetesResources(u.source.resource());
            String ns = o.getMetadata().getNamespace();
            GenericKubernetesResource full = u.source.namespaced() && ns != null
                ? op.inNamespace(ns).withName(o.getMetadata().getName()).get()
                : op.withName(o.getMetadata().getName()).get();
            if (full == null) {
              rec.alreadyReconciled(uid); // deleted meanwhile: its delete event follows
            } else {
              rec.upserted(u.source, full);
            }
          } catch (RuntimeException e) {
            // the next update or re-list of the object reconciles it
            log.warn("{}: catch-up of {}/{} failed: {}", u.source.id(), o.getMetadata().getNamespace(),
                o.getMetadata().getName(), e.toString());
            rec.alreadyReconciled(uid);
          }
        }
      }
    }
    log.info("catch-up from warm standby: {} objects matched their Observations, {} read and reconciled", matched,
        read);
  }

  /** The key hashes of the unresolved Observations of the object with this uid. */
  private long[] openKeys(String uid) {
    return pipeline.openKeys(uid).stream().mapToLong(k -> Digest.hash(k.namespace(), k.name())).toArray();
  }

  /** Warm standby: remembers what the object's findings map to (no write). */
  private void remember(Run r, WatchedSource source, GenericKubernetesResource object) {
    String uid = object.getMetadata().getUid();
    if (uid == null) {
      return;
    }
    try {
      Pipeline p = source.pipeline() != null ? source.pipeline() : pipeline;
      r.digests.put(uid, Digest.of(p.keys(source.normalizer(), OriginReconciler.findings(source, object, clock))));
    } catch (RuntimeException e) { // unreadable (InvalidInputException) or the filter failed
      r.digests.remove(uid); // unknown: the catch-up reads it
    }
    if (r.active) {
      // Promoted meanwhile: the catch-up may have judged this object by its previous digest.
      r.reconciler.upserted(source, object);
    }
  }

  private Run newRun(boolean active) {
    ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "source-crd-check");
      t.setDaemon(true);
      return t;
    });
    EventCheckpoint checkpoint = options.checkpointed()
        ? new EventCheckpoint(client, options.checkpointNamespace(), options.checkpointName()) : null;
    ScheduledExecutorService eventExecutor = Executors.newSingleThreadScheduledExecutor(t -> {
      Thread th = new Thread(t, "event-source");
      th.setDaemon(true);
      return th;
    });
    Run r = new Run(new OriginReconciler(pipeline, clock, RECONCILE_THREADS, null), checker, checkpoint,
        eventExecutor);
    r.active = active;
    r.leading = active;
    r.reconciler = new OriginReconciler(pipeline, clock, RECONCILE_THREADS, r.digests);
    if (namespaceSelector != null) {
      startNamespaceInformer(r);
    }
    for (Unit u : units) {
      if (u.source.crdName() == null) {
        metrics.sourceAvailable(u.source.source(), u.source.gvr(), true);
      }
    }
    long every = options.crdCheckInterval().toMillis();
    checker.scheduleWithFixedDelay(() -> checkCrds(r), 0, every, TimeUnit.MILLISECONDS);
    checker.scheduleWithFixedDelay(() -> checkCaughtUp(r), 20, 50, TimeUnit.MILLISECONDS);
    if (checkpoint != null) {
      long cp = options.checkpointInterval().toMillis();
      checker.scheduleWithFixedDelay(() -> writeCheckpoint(r, false), cp, cp, TimeUnit.MILLISECONDS);
    }
    if (active) {
      log.info("watched sources starting: {}", units.stream().map(u -> u.source.id()).toList());
    } else {
      log.info("warm standby: watching sources {} (nothing is written until this replica leads)",
          units.stream().map(u -> u.source.id()).toList());
    }
    return r;
  }

  /**
   * Completes when the run started by the last {@link #start} has caught up: every source synced
   * (or waiting for its CRD) and every object of the informers' caches reconciled once. Never
   * completes when stopped first; an incomplete future when not started.
   */
  public java.util.concurrent.CompletableFuture<CatchUp> catchUp() {
    Run r = run;
    return r == null ? new java.util.concurrent.CompletableFuture<>() : r.caughtUp;
  }

  /**
   * Fences the current run at once, without waiting: informer events are ignored from now on and no
   * new store work starts (the reconciles already handed to the writer complete). Call before a
   * {@link #stop} that may take long, so that nothing this replica's informers saw is written by
   * it after it stopped leading. {@link #stop} must still be called.
   */
  public void halt() {
    Run r = run;
    if (r != null) {
      r.active = false;
      r.reconciler.halt();
    }
  }

  private void checkCaughtUp(Run r) {
    if (r.stopped || !r.active || r.caughtUp.isDone()) {
      return;
    }
    for (Unit u : units) {
      String s = status(u, r);
      if (s.equals("syncing") || s.startsWith("checking") || s.startsWith("waiting for namespaces")) {
        return;
      }
      // Informer feeds: every cached object reconciled once. Event feeds resuming from a
      // checkpoint count as caught up once their watch is open (they replay what they missed).
      for (Feed feed : u.informers.values()) {
        if (!(feed instanceof InformerFeed f)) {
          continue;
        }
        for (GenericKubernetesResource o : f.informer().getStore().list()) {
          String uid = o.getMetadata().getUid();
          if (uid != null && !r.reconciler.handled(uid)) {
            return;
          }
        }
      }
    }
    r.caughtUp.complete(new CatchUp(Duration.ofNanos(System.nanoTime() - r.startedNanos), r.reconciler.created()));
  }

  /** Stops every informer and waits (briefly) for the work under way; start() may be called again. */
  public synchronized void stop() {
    Run r = run;
    if (r == null) {
      return;
    }
    run = null;
    boolean wasActive = r.leading;
    r.leading = false;
    r.active = false;
    r.stopped = true;
    r.checker.shutdownNow();
    if (r.namespaceInformer != null) {
      r.namespaceInformer.stop();
    }
    for (Unit u : units) {
      for (Feed i : u.informers.values()) {
        i.stop();
      }
      u.informers.clear();
      metrics.informerCacheSynced(u.source.source(), false);
    }
    r.eventExecutor.shutdownNow();
    r.reconciler.close(Duration.ofSeconds(10));
    if (r.checkpoint != null && wasActive) {
      // The work under way is done (or dropped: then the position stays before it): the last word.
      writeCheckpoint(r, true);
    }
    log.info(wasActive ? "watched sources stopped" : "warm standby stopped");
  }

  @Override
  public void close() {
    stop();
  }

  public synchronized boolean running() {
    return run != null;
  }

  /**
   * Per watched source ({@link WatchedSource#id()}, e.g. {@code trivy:aquasecurity.github.io/v1alpha1/vulnerabilityreports}):
   * "synced", "syncing", "checking CRD", "waiting for CRD <name>" (and its variants), "waiting for
   * namespaces", "cluster-scoped: not watched (...)" (namespaces scoped, or namespaced access), or
   * "stopped". For the readiness details.
   */
  public Map<String, String> status() {
    Map<String, String> out = new LinkedHashMap<>();
    Run r;
    synchronized (this) {
      r = run;
    }
    for (Unit u : units) {
      out.put(u.source.id(), status(u, r));
    }
    return out;
  }

  /** The namespaces a watched source has an informer in ("" for all namespaces or cluster scope). For tests and diagnostics. */
  public Set<String> watchedNamespaces(String id) {
    for (Unit u : units) {
      if (u.source.id().equals(id)) {
        return Set.copyOf(u.informers.keySet());
      }
    }
    throw new IllegalArgumentException("no watched source " + id);
  }

  /** True when started and every enabled source whose resource is served has synced its informers. */
  public boolean synced() {
    Run r;
    synchronized (this) {
      r = run;
    }
    if (r == null) {
      return false;
    }
    for (Unit u : units) {
      String s = status(u, r);
      // "waiting for namespaces": the namespace informer itself has not synced yet.
      if (s.equals("syncing") || s.startsWith("checking") || s.startsWith("waiting for namespaces")) {
        return false;
      }
    }
    return true;
  }

  private String status(Unit u, Run r) {
    if (r == null) {
      return "stopped";
    }
    Availability a = u.availability;
    if (!a.available()) {
      return a.message();
    }
    if (!u.source.namespaced() && !options.clusterScopedWatched() && u.source.namespaces() == null) {
      return "cluster-scoped: not watched (namespaces are scoped; WATCH_CLUSTER_SCOPED=true watches them)";
    }
    if (u.source.namespaced() && u.source.namespaces() == null && namespaceSelector != null && !r.namespacesSynced) {
      return "waiting for namespaces";
    }
    if (!u.informers.keySet().containsAll(wantedKeys(u, r))) {
      return "syncing";
    }
    for (Feed i : u.informers.values()) {
      if (!i.hasSynced()) {
        return "syncing";
      }
    }
    return "synced";
  }

  // --- CRDs ---

  private void checkCrds(Run r) {
    for (Unit u : units) {
      if (r.stopped) {
        return;
      }
      if (u.source.crdName() == null || u.availability == Availability.NOT_IN_SCOPE) {
        continue;
      }
      Availability a;
      try {
        a = crdAvailability(u.source);
      } catch (KubernetesClientException e) {
        if (r.stopped) {
          return;
        }
        if (!u.warned) {
          log.warn("{}: cannot check CRD {} (will retry): {}", u.source.id(), u.source.crdName(), e.getMessage());
          u.warned = true;
        }
        continue;
      } catch (RuntimeException e) {
        if (r.stopped) {
          return;
        }
        log.warn("{}: checking CRD {} failed (will retry): {}", u.source.id(), u.source.crdName(), e.toString());
        continue;
      }
      Availability before = u.availability;
      u.availability = a;
      metrics.sourceAvailable(u.source.source(), u.source.gvr(), a.available());
      if (a.available() && !before.available()) {
        log.info("{}: CRD {} is installed; watching", u.source.id(), u.source.crdName());
        u.warned = false;
      } else if (!a.available() && !u.warned) {
        log.warn("{}: {}; the source starts when it is installed (checked every {} s)", u.source.id(), a.message(),
            options.crdCheckInterval().toSeconds());
        u.warned = true;
      }
    }
    reconcileInformers(r);
  }

  private Availability crdAvailability(WatchedSource w) {
    if (options.namespacedAccess()) {
      return servedInNamespace(w);
    }
    CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions().withName(w.crdName()).get();
    if (crd == null) {
      return new Availability(false, "waiting for CRD " + w.crdName());
    }
    boolean established = crd.getStatus() != null && crd.getStatus().getConditions() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
    if (!established) {
      return new Availability(false, "waiting for CRD " + w.crdName() + " to be established");
    }
    String version = w.resource().getVersion();
    boolean served = crd.getSpec().getVersions().stream()
        .anyMatch(v -> version.equals(v.getName()) && Boolean.TRUE.equals(v.getServed()));
    if (!served) {
      return new Availability(false, "waiting for CRD " + w.crdName() + " to serve version " + version);
    }
    if (w.kindFromCrd()) {
      for (Unit u : units) {
        if (u.source == w) { // the kind and scope, read once from the CRD
          u.source = w.withResource(WatchedSource.context(w.resource().getGroup(), version, w.resource().getPlural(),
              crd.getSpec().getNames().getKind(), "Namespaced".equals(crd.getSpec().getScope())));
        }
      }
    }
    return Availability.AVAILABLE;
  }

  /**
   * Without the right to read CRDs (namespaced Roles): the resource is installed when a list of one
   * item in the first watched namespace is answered; 404 means it is not served.
   */
  private Availability servedInNamespace(WatchedSource w) {
    String ns = w.namespaces() != null && !w.namespaces().isEmpty() ? w.namespaces().get(0)
        : options.watchNamespaces().get(0);
    try {
      client.genericKubernetesResources(w.resource()).inNamespace(ns)
          .list(new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLimit(1L).build());
      return Availability.AVAILABLE;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        return new Availability(false, "waiting for CRD " + w.crdName() + " (" + w.gvr() + " is not served)");
      }
      throw e;
    }
  }

  // --- informers ---

  /** Starts and stops informers so that each unit runs exactly the ones it should now. */
  private synchronized void reconcileInformers(Run r) {
    if (r.stopped || run != r) {
      return;
    }
    for (Unit u : units) {
      Set<String> wanted = wantedKeys(u, r);
      for (Map.Entry<String, Feed> e : new HashMap<>(u.informers).entrySet()) {
        if (!wanted.contains(e.getKey())) {
          e.getValue().stop();
          u.informers.remove(e.getKey());
          if (e.getValue() instanceof EventSource es) {
            es.publish();
            r.eventSources.remove(es);
          }
          log.info("{}: stopped watching {}", u.source.id(), e.getKey().isEmpty() ? "all namespaces" : e.getKey());
        }
      }
      for (String key : wanted) {
        if (!u.informers.containsKey(key)) {
          u.informers.put(key, startFeed(u, key, r));
        }
      }
      refreshSynced(u, r);
    }
  }

  private Set<String> wantedKeys(Unit u, Run r) {
    if (!u.availability.available()) {
      return Set.of();
    }
    if (r.checkpoint != null && !u.source.stateLike() && !r.active) {
      return Set.of(); // event streams resuming from the checkpoint: the leader's only
    }
    if (u.source.namespaces() != null) { // its own (an informer Ingester's)
      return !u.source.namespaced() || u.source.namespaces().isEmpty() ? Set.of(ALL)
          : new TreeSet<>(u.source.namespaces());
    }
    if (!u.source.namespaced()) {
      return options.clusterScopedWatched() ? Set.of(ALL) : Set.of();
    }
    if (!options.scoped()) {
      return Set.of(ALL);
    }
    Set<String> ns = new TreeSet<>(options.watchNamespaces());
    ns.addAll(r.selectedNamespaces);
    return ns;
  }

  private Feed startFeed(Unit u, String key, Run r) {
    WatchedSource w = u.source;
    MixedOperation<GenericKubernetesResource, GenericKubernetesResourceList, Resource<GenericKubernetesResource>> op =
        client.genericKubernetesResources(w.resource());
    FilterWatchListDeletable<GenericKubernetesResource, GenericKubernetesResourceList, Resource<GenericKubernetesResource>> scoped =
        !w.namespaced() ? op : key.equals(ALL) ? op.inAnyNamespace() : op.inNamespace(key);
    if (w.labelSelector() != null && !w.labelSelector().isBlank()) {
      scoped = scoped.withLabelSelector(w.labelSelector());
    }
    scoped = FieldSelectors.apply(scoped, w.fieldSelector());
    if (r.checkpoint != null && !w.stateLike()) {
      EventSource es = new EventSource(w, key, scoped, r.reconciler, r.checkpoint, r.eventExecutor, metrics, clock,
          () -> refreshSynced(u, r));
      r.eventSources.add(es);
      es.start();
      log.info("{}: watching {} (progress checkpointed in Lease {}/{})", w.id(),
          w.namespaced() ? (key.isEmpty() ? "all namespaces" : "namespace " + key) : "cluster-scoped objects",
          r.checkpoint.namespace(), r.checkpoint.name());
      return es;
    }
    return new InformerFeed(startInformer(u, scoped, key, r));
  }

  private SharedIndexInformer<GenericKubernetesResource> startInformer(Unit u,
      FilterWatchListDeletable<GenericKubernetesResource, GenericKubernetesResourceList, Resource<GenericKubernetesResource>> scoped,
      String key, Run r) {
    WatchedSource w = u.source;
    // Paged initial list, and only each object's identity kept (MetadataItemStore): the reconciler
    // reads each object whole when the informer hands it over.
    SharedIndexInformer<GenericKubernetesResource> informer = scoped.withLimit(LIST_PAGE).runnableInformer(0);
    informer.removeNamespaceIndex();
    informer.itemStore(new MetadataItemStore());
    java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
    informer.addEventHandler(new Handler(w, r));
    informer.exceptionHandler((started, t) -> {
      if (r.stopped) {
        return false;
      }
      metrics.sourceWatchRestart(w.source(), w.gvr());
      u.failure = describe(t);
      // WARN once per informer, then DEBUG: a resource that is not served fails every few seconds.
      boolean first = failures.getAndIncrement() == 0;
      String msg = "{}{}: {} failed; retrying: {}";
      Object[] args = {w.id(), key.isEmpty() ? "" : " in " + key, started ? "the watch" : "the initial list",
          t.toString()};
      if (first) {
        log.warn(msg, args);
      } else {
        log.debug(msg, args);
      }
      if (t instanceof KubernetesClientException k && k.getCode() == 404 && w.crdName() != null) {
        // The CRD may have been removed: look now rather than at the next tick.
        try {
          r.checker.execute(() -> checkCrds(r));
        } catch (java.util.concurrent.RejectedExecutionException ignored) {
          // stopping
        }
      }
      return true;
    });
    informer.start().whenComplete((v, e) -> {
      if (e == null) {
        u.failure = null;
      }
      refreshSynced(u, r);
    });
    log.info("{}: watching {}{}", w.id(), w.namespaced() ? (key.isEmpty() ? "all namespaces" : "namespace " + key)
        : "cluster-scoped objects", w.labelSelector() == null ? "" : " labelled " + w.labelSelector());
    return informer;
  }

  /** {@code <code> <the API server's message>} for a refused request (a 403, say), else the failure itself. */
  static String describe(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof KubernetesClientException k && k.getCode() > 0) {
        String m = k.getStatus() != null && k.getStatus().getMessage() != null ? k.getStatus().getMessage()
            : k.getMessage();
        return k.getCode() + " " + m;
      }
    }
    return t.toString();
  }

  /** Records every event stream's stored position and writes the checkpoint (a failure is retried next time). */
  private void writeCheckpoint(Run r, boolean last) {
    if (!r.active && !last) {
      return; // only the leader's event streams have positions to record
    }
    try {
      for (EventSource es : r.eventSources) {
        es.publish();
      }
      r.checkpoint.flush();
    } catch (RuntimeException e) {
      log.warn("cannot write the events checkpoint {}/{} (retried): {}", r.checkpoint.namespace(),
          r.checkpoint.name(), e.toString());
    }
  }

  /** The event streams of a watched source, by namespace key ("" for all). For tests and diagnostics. */
  Map<String, EventSource> eventSources(String id) {
    for (Unit u : units) {
      if (u.source.id().equals(id)) {
        Map<String, EventSource> out = new TreeMap<>();
        u.informers.forEach((k, f) -> {
          if (f instanceof EventSource es) {
            out.put(k, es);
          }
        });
        return out;
      }
    }
    throw new IllegalArgumentException("no watched source " + id);
  }

  private void refreshSynced(Unit changed, Run r) {
    if (r.stopped) {
      return;
    }
    // The gauge is per source name: all the units of that name.
    boolean all = true;
    for (Unit u : units) {
      if (u.source.source().equals(changed.source.source()) && !status(u, r).startsWith("synced")
          && !status(u, r).startsWith("cluster-scoped")) {
        all = false;
      }
    }
    metrics.informerCacheSynced(changed.source.source(), all);
  }

  private final class Handler implements ResourceEventHandler<GenericKubernetesResource> {
    private final WatchedSource source;
    private final Run run;

    Handler(WatchedSource source, Run run) {
      this.source = source;
      this.run = run;
    }

    @Override
    public void onAdd(GenericKubernetesResource obj) {
      if (seen()) {
        upserted(obj);
      }
    }

    private void upserted(GenericKubernetesResource obj) {
      if (run.active) {
        run.reconciler.upserted(source, obj);
      } else {
        remember(run, source, obj);
      }
    }

    @Override
    public void onUpdate(GenericKubernetesResource oldObj, GenericKubernetesResource newObj) {
      if (!seen()) {
        return;
      }
      String before = oldObj == null ? null : oldObj.getMetadata().getResourceVersion();
      String after = newObj.getMetadata().getResourceVersion();
      if (before != null && before.equals(after)) {
        return; // a resync: nothing changed
      }
      upserted(newObj);
    }

    @Override
    public void onDelete(GenericKubernetesResource obj, boolean deletedFinalStateUnknown) {
      if (seen()) {
        if (run.active) {
          run.reconciler.deleted(source, obj);
        } else if (obj.getMetadata().getUid() != null) {
          run.digests.remove(obj.getMetadata().getUid());
        }
      }
    }

    private boolean seen() {
      if (run.stopped) {
        return false;
      }
      metrics.sourceWatchLastEvent(source.source(), source.gvr(), clock.instant());
      return true;
    }
  }

  // --- namespaces ---

  private void startNamespaceInformer(Run r) {
    SharedIndexInformer<Namespace> informer = client.namespaces().runnableInformer(0);
    // The selection is read from the informer's cache, which is up to date before handlers are called
    // (and before start() completes, when handlers may not have run yet).
    Runnable reselect = () -> {
      if (r.stopped) {
        return;
      }
      Set<String> now = new TreeSet<>();
      for (Namespace ns : informer.getStore().list()) {
        if (namespaceSelector.matches(ns.getMetadata().getLabels())) {
          now.add(ns.getMetadata().getName());
        }
      }
      boolean changed;
      synchronized (r.selectedNamespaces) {
        changed = !now.equals(r.selectedNamespaces);
        if (changed) {
          Set<String> added = new TreeSet<>(now);
          added.removeAll(r.selectedNamespaces);
          Set<String> removed = new TreeSet<>(r.selectedNamespaces);
          removed.removeAll(now);
          log.info("namespaces selected by {}: {} (added {}, removed {})", namespaceSelector, now, added, removed);
          r.selectedNamespaces.clear();
          r.selectedNamespaces.addAll(now);
        }
      }
      if (changed && r.namespacesSynced) {
        reconcileInformers(r);
      }
    };
    informer.addEventHandler(new ResourceEventHandler<>() {
      @Override
      public void onAdd(Namespace ns) {
        reselect.run();
      }

      @Override
      public void onUpdate(Namespace oldNs, Namespace newNs) {
        reselect.run();
      }

      @Override
      public void onDelete(Namespace ns, boolean unknown) {
        reselect.run();
      }
    });
    informer.exceptionHandler((started, t) -> {
      if (r.stopped) {
        return false;
      }
      log.warn("the namespace watch failed; retrying: {}", t.toString());
      return true;
    });
    r.namespaceInformer = informer;
    informer.start().whenComplete((v, e) -> {
      if (e == null) {
        reselect.run();
        r.namespacesSynced = true;
        reconcileInformers(r);
      }
    });
  }
}
