package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the informers of every enabled {@link WatchedSource} and feeds what they see into the
 * pipeline (see {@link OriginReconciler}). {@link #start} and {@link #stop} may be called any
 * number of times on one instance (the leader elector starts it on gaining leadership and stops it
 * on losing it); every start re-lists everything, which creates and counts nothing twice.
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
 *
 * <p>This class is the lifecycle (start, warm standby, promotion, demotion, stop) and the
 * bookkeeping of which feeds each source should run. The parts live beside it: {@link SourceRun}
 * (what one start brought up), {@link SourceUnit} (one source's state), {@link SourceState} (its
 * status), {@link CrdAvailability} (is the CRD there), {@link SourceFeeds} (informers and event
 * streams, and their event handler), {@link WarmStandby} (digests and the catch-up from them),
 * {@link NamespaceSelection} (the namespace-selector informer).
 */
public final class SourceManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SourceManager.class);

  /** The informer key of an informer over all namespaces, or over a cluster-scoped resource. */
  static final String ALL = "";

  private static final int RECONCILE_THREADS = 2;

  private final KubernetesClient client;
  private final Pipeline pipeline;
  private final Metrics metrics;
  private final Clock clock;
  private final SourceOptions options;
  private final LabelSelector namespaceSelector;
  private final CrdAvailability crds;
  private final SourceFeeds feeds;

  /** The watched sources: the built-in ones, then those added at run time ({@link #add}). */
  private final List<SourceUnit> units = new CopyOnWriteArrayList<>();

  private volatile SourceRun run;

  /**
   * One catch-up: the time from {@link #start} until every watched source had synced and every
   * object of its initial list was reconciled, and the Observations created meanwhile.
   */
  public record CatchUp(Duration took, long created) {}

  public SourceManager(
      KubernetesClient client,
      Pipeline pipeline,
      Metrics metrics,
      Clock clock,
      SourceOptions options) {
    this(client, pipeline, metrics, clock, options, BuiltInSources.all());
  }

  /**
   * With the watched sources of the caller's choosing (tests); more can be added with {@link #add}.
   *
   * @throws IllegalArgumentException when the namespace selector is invalid, or a source named in
   *     {@link SourceOptions#sources()} is not among {@code watched}
   */
  public SourceManager(
      KubernetesClient client,
      Pipeline pipeline,
      Metrics metrics,
      Clock clock,
      SourceOptions options,
      List<WatchedSource> watched) {
    this.client = Objects.requireNonNull(client, "client");
    this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.options = Objects.requireNonNull(options, "options");
    this.namespaceSelector =
        options.namespaceSelector() == null
            ? null
            : LabelSelector.parse(options.namespaceSelector());
    this.crds = new CrdAvailability(client, options);
    this.feeds =
        new SourceFeeds(
            client,
            metrics,
            clock,
            new SourceFeeds.Listener() {
              @Override
              public void changed(SourceUnit unit, SourceRun r) {
                refreshSynced(unit, r);
              }

              @Override
              public void maybeUninstalled(SourceRun r) {
                checkCrdsSoon(
                    r); // the CRD may have been removed: look now rather than at the next tick
              }
            });
    Set<String> known = new TreeSet<>();
    Set<String> ids = new LinkedHashSet<>();
    List<SourceUnit> u = new ArrayList<>();
    for (WatchedSource w : watched) {
      known.add(w.source());
      if (!ids.add(w.id())) {
        throw new IllegalArgumentException("watched source " + w.id() + " is listed twice");
      }
      if (options.enabled(w.source())) {
        u.add(new SourceUnit(w, options.namespacedAccess()));
      }
    }
    for (String s : options.sources()) {
      if (!known.contains(s)) {
        throw new IllegalArgumentException(
            "SOURCES names '" + s + "', which is not a watched source; known: " + known);
      }
    }
    this.units.addAll(u);
  }

  // ---------------------------------------------------------------- sources added and removed at
  // run time

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
    SourceRun r;
    synchronized (this) {
      if (unit(source.id()) != null) {
        throw new IllegalArgumentException("watched source " + source.id() + " is running already");
      }
      units.add(new SourceUnit(source, options.namespacedAccess()));
      r = run;
      if (r == null) {
        return;
      }
      if (source.crdName() == null) {
        metrics.sourceAvailable(source.source(), source.gvr(), true);
        reconcileFeeds(r);
        return;
      }
    }
    checkCrdsSoon(r); // starts it as soon as its CRD is found
  }

  /**
   * Removes a watched source added with {@link #add} (an informer Ingester deleted or changed): its
   * informers stop; its Observations are left as they are. No-op when there is none.
   */
  public synchronized void remove(String id) {
    SourceUnit u = unit(id);
    if (u == null) {
      return;
    }
    units.remove(u);
    for (Feed f : u.feeds.values()) {
      f.stop();
      if (f instanceof EventSource es && run != null) {
        run.eventSources.remove(es);
      }
    }
    u.feeds.clear();
    log.info("{}: no longer watched", id);
  }

  private SourceUnit unit(String id) {
    for (SourceUnit u : units) {
      if (u.id().equals(id)) {
        return u;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts every enabled source (no-op when started). Returns at once; the informers sync in the
   * background.
   */
  public synchronized SourceManager start() {
    if (run == null) {
      run = newRun(true);
    } else if (!run.active) {
      activate(run);
    }
    return this;
  }

  /**
   * Warm standby (no-op when running): the informers run and each object's findings are remembered
   * ({@link Digest}), nothing is written. A later {@link #start} makes this replica lead with a
   * catch-up that reads only the objects whose Observations do not match what it remembers.
   */
  public synchronized SourceManager standby() {
    if (run == null) {
      run = newRun(false);
    }
    return this;
  }

  private SourceRun newRun(boolean active) {
    EventCheckpoint checkpoint =
        options.checkpointed()
            ? new EventCheckpoint(client, options.checkpointNamespace(), options.checkpointName())
            : null;
    SourceRun r = new SourceRun(new WarmStandby(pipeline, clock), checkpoint, active);
    r.reconciler =
        new OriginReconciler(pipeline, clock, RECONCILE_THREADS, r.standby.digests, this::read);
    if (namespaceSelector != null) {
      r.namespaces = new NamespaceSelection(client, namespaceSelector, () -> reconcileFeeds(r));
      r.namespaces.start();
    }
    for (SourceUnit u : units) {
      if (u.source.crdName() == null) {
        metrics.sourceAvailable(u.source.source(), u.source.gvr(), true);
      }
    }
    long every = options.crdCheckInterval().toMillis();
    r.timer.scheduleWithFixedDelay(() -> checkCrds(r), 0, every, TimeUnit.MILLISECONDS);
    r.timer.scheduleWithFixedDelay(() -> checkCaughtUp(r), 20, 50, TimeUnit.MILLISECONDS);
    if (checkpoint != null) {
      long cp = options.checkpointInterval().toMillis();
      r.timer.scheduleWithFixedDelay(() -> r.writeCheckpoint(false), cp, cp, TimeUnit.MILLISECONDS);
    }
    if (active) {
      log.info("watched sources starting: {}", units.stream().map(SourceUnit::id).toList());
    } else {
      log.info(
          "warm standby: watching sources {} (nothing is written until this replica leads)",
          units.stream().map(SourceUnit::id).toList());
    }
    return r;
  }

  /**
   * Standby to leading: a fresh reconciler, the leader-only feeds, and the catch-up from the
   * digests.
   */
  private void activate(SourceRun r) {
    OriginReconciler unused = r.reconciler;
    r.reconciler =
        new OriginReconciler(pipeline, clock, RECONCILE_THREADS, r.standby.digests, this::read);
    unused.close(Duration.ZERO);
    r.startedNanos = System.nanoTime();
    r.caughtUp = new CompletableFuture<>();
    r.active = true;
    r.leading = true;
    reconcileFeeds(r); // the event streams resuming from the checkpoint run on the leader only
    Thread t = new Thread(() -> r.standby.catchUp(r, units), "source-catch-up");
    t.setDaemon(true);
    t.start();
    log.info("watched sources starting (from warm standby)");
  }

  /**
   * Leading to warm standby: fenced at once, the work under way drained (bounded), the leader-only
   * feeds stopped and the checkpoint written; the informers keep running.
   */
  public void demote() {
    SourceRun r;
    OriginReconciler stepped;
    synchronized (this) {
      r = run;
      if (r == null) {
        return;
      }
      boolean wasLeading = r.leading;
      r.leading = false;
      r.halt();
      if (!wasLeading) {
        return;
      }
      // Fenced: nothing new starts from here (what was handed to the writer completes below).
      // Logged now, under the lock, so that a next term's "starting" always comes after it.
      stepped = r.reconciler;
      log.info("watched sources stopped (back to warm standby: the informers go on)");
    }
    reconcileFeeds(r);
    // This term's reconciler, not r.reconciler: leading again meanwhile (start() on another
    // thread) put a new one there, which this must not close.
    stepped.close(Duration.ofSeconds(10));
    synchronized (this) {
      if (r.checkpoint != null && !r.leading) {
        r.writeCheckpoint(true); // the last word, unless the next term owns the checkpoint already
      }
    }
    log.debug("the stepped-down term's work is drained");
  }

  /**
   * Fences the current run at once, without waiting: informer events are ignored from now on and no
   * new store work starts (the reconciles already handed to the writer complete). Call before a
   * {@link #stop} that may take long, so that nothing this replica's informers saw is written by it
   * after it stopped leading. {@link #stop} must still be called.
   */
  public void halt() {
    SourceRun r = run;
    if (r != null) {
      r.halt();
    }
  }

  /**
   * Stops every informer and waits (briefly) for the work under way; start() may be called again.
   */
  public synchronized void stop() {
    SourceRun r = run;
    if (r == null) {
      return;
    }
    run = null;
    boolean wasActive = r.leading;
    r.leading = false;
    r.active = false;
    r.stopTimers();
    for (SourceUnit u : units) {
      for (Feed f : u.feeds.values()) {
        f.stop();
      }
      u.feeds.clear();
      metrics.informerCacheSynced(u.source.source(), false);
    }
    r.stopWork();
    if (r.checkpoint != null && wasActive) {
      // The work under way is done (or dropped: then the position stays before it): the last word.
      r.writeCheckpoint(true);
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

  /** The run, once a start or stop under way has finished. */
  private synchronized SourceRun currentRun() {
    return run;
  }

  // ---------------------------------------------------------------- catch-up

  /**
   * Completes when the run started by the last {@link #start} has caught up: every source synced
   * (or waiting for its CRD) and every object of the informers' caches reconciled once. Never
   * completes when stopped first; an incomplete future when not started.
   */
  public CompletableFuture<CatchUp> catchUp() {
    SourceRun r = run;
    return r == null ? new CompletableFuture<>() : r.caughtUp;
  }

  private void checkCaughtUp(SourceRun r) {
    if (r.stopped || !r.active || r.caughtUp.isDone()) {
      return;
    }
    for (SourceUnit u : units) {
      if (state(u, r).pending()) {
        return;
      }
      // Informer feeds: every cached object reconciled once. Event feeds resuming from a
      // checkpoint count as caught up once their watch is open (they replay what they missed).
      for (Feed feed : u.feeds.values()) {
        if (!(feed instanceof Feed.InformerFeed f)) {
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
    r.caughtUp.complete(
        new CatchUp(Duration.ofNanos(System.nanoTime() - r.startedNanos), r.reconciler.created()));
  }

  /** One watched object by name (a GET), or null when it does not exist. */
  private GenericKubernetesResource read(WatchedSource source, String namespace, String name) {
    var op = client.genericKubernetesResources(source.resource());
    return source.namespaced() && namespace != null
        ? op.inNamespace(namespace).withName(name).get()
        : op.withName(name).get();
  }

  // ---------------------------------------------------------------- status

  /**
   * Per watched source ({@link WatchedSource#id()}, e.g. {@code
   * trivy:aquasecurity.github.io/v1alpha1/vulnerabilityreports}): "synced", "syncing", "checking
   * CRD", "waiting for CRD <name>" (and its variants), "waiting for namespaces", "cluster-scoped:
   * not watched (...)" (namespaces scoped, or namespaced access), or "stopped" ({@link
   * SourceState}). For the readiness details.
   */
  public Map<String, String> status() {
    Map<String, String> out = new LinkedHashMap<>();
    SourceRun r = currentRun();
    for (SourceUnit u : units) {
      out.put(u.id(), state(u, r).text());
    }
    return out;
  }

  /** The status of one watched source (as in {@link #status()}), or null when there is none. */
  public String status(String id) {
    SourceRun r = currentRun();
    SourceUnit u = unit(id);
    return u == null ? null : state(u, r).text();
  }

  /**
   * Why a watched source is not synced yet: the last failure of its initial list or watch (a 403,
   * say), or null when it is synced, has not failed, or there is no such source.
   */
  public String failure(String id) {
    SourceRun r = currentRun();
    SourceUnit u = unit(id);
    if (u == null) {
      return null;
    }
    String f = u.failure;
    return f != null && state(u, r).phase() == SourceState.Phase.SYNCING ? f : null;
  }

  /**
   * True when started and every enabled source whose resource is served has synced its informers.
   */
  public boolean synced() {
    SourceRun r = currentRun();
    if (r == null) {
      return false;
    }
    for (SourceUnit u : units) {
      if (state(u, r).pending()) {
        return false;
      }
    }
    return true;
  }

  /**
   * The namespaces a watched source has an informer in ("" for all namespaces or cluster scope).
   * For tests and diagnostics.
   */
  public Set<String> watchedNamespaces(String id) {
    SourceUnit u = unit(id);
    if (u == null) {
      throw new IllegalArgumentException("no watched source " + id);
    }
    return Set.copyOf(u.feeds.keySet());
  }

  /**
   * The event streams of a watched source, by namespace key ("" for all). For tests and
   * diagnostics.
   */
  Map<String, EventSource> eventSources(String id) {
    SourceUnit u = unit(id);
    if (u == null) {
      throw new IllegalArgumentException("no watched source " + id);
    }
    Map<String, EventSource> out = new TreeMap<>();
    u.feeds.forEach(
        (k, f) -> {
          if (f instanceof EventSource es) {
            out.put(k, es);
          }
        });
    return out;
  }

  private SourceState state(SourceUnit u, SourceRun r) {
    if (r == null) {
      return SourceState.STOPPED;
    }
    CrdAvailability.Availability a = u.availability;
    if (!a.available()) {
      return a.state();
    }
    if (!u.source.namespaced()
        && !options.clusterScopedWatched()
        && u.source.namespaces() == null) {
      return SourceState.CLUSTER_SCOPED_NOT_WATCHED;
    }
    if (u.source.namespaced()
        && u.source.namespaces() == null
        && namespaceSelector != null
        && !r.namespacesSynced()) {
      return SourceState.WAITING_FOR_NAMESPACES;
    }
    if (!u.feeds.keySet().containsAll(wantedKeys(u, r))) {
      return SourceState.SYNCING;
    }
    for (Feed f : u.feeds.values()) {
      if (!f.hasSynced()) {
        return SourceState.SYNCING;
      }
    }
    return SourceState.SYNCED;
  }

  /** The informer-cache gauge is per source name: synced when all the units of that name are. */
  private void refreshSynced(SourceUnit changed, SourceRun r) {
    if (r.stopped) {
      return;
    }
    boolean all = true;
    for (SourceUnit u : units) {
      if (u.source.source().equals(changed.source.source()) && !state(u, r).settled()) {
        all = false;
      }
    }
    metrics.informerCacheSynced(changed.source.source(), all);
  }

  // ---------------------------------------------------------------- CRDs

  private void checkCrdsSoon(SourceRun r) {
    try {
      r.timer.execute(() -> checkCrds(r));
    } catch (RejectedExecutionException stopping) {
      // stopped meanwhile: the next start checks it
    }
  }

  private void checkCrds(SourceRun r) {
    for (SourceUnit u : units) {
      if (r.stopped) {
        return;
      }
      if (u.source.crdName() == null
          || u.availability == CrdAvailability.Availability.NOT_IN_SCOPE) {
        continue;
      }
      CrdAvailability.Availability a;
      try {
        CrdAvailability.Check c = crds.check(u.source);
        u.source = c.source();
        a = c.availability();
      } catch (KubernetesClientException e) {
        if (r.stopped) {
          return;
        }
        if (!u.warned) {
          log.warn(
              "{}: cannot check CRD {} (will retry): {}",
              u.id(),
              u.source.crdName(),
              e.getMessage());
          u.warned = true;
        }
        continue;
      } catch (RuntimeException e) {
        if (r.stopped) {
          return;
        }
        log.warn(
            "{}: checking CRD {} failed (will retry): {}",
            u.id(),
            u.source.crdName(),
            e.toString());
        continue;
      }
      CrdAvailability.Availability before = u.availability;
      u.availability = a;
      metrics.sourceAvailable(u.source.source(), u.source.gvr(), a.available());
      if (a.available() && !before.available()) {
        log.info("{}: CRD {} is installed; watching", u.id(), u.source.crdName());
        u.warned = false;
      } else if (!a.available() && !u.warned) {
        log.warn(
            "{}: {}; the source starts when it is installed (checked every {} s)",
            u.id(),
            a.message(),
            options.crdCheckInterval().toSeconds());
        u.warned = true;
      }
    }
    reconcileFeeds(r);
  }

  // ---------------------------------------------------------------- feeds

  /** Starts and stops feeds so that each source runs exactly the ones it should now. */
  private synchronized void reconcileFeeds(SourceRun r) {
    if (r.stopped || run != r) {
      return;
    }
    for (SourceUnit u : units) {
      Set<String> wanted = wantedKeys(u, r);
      for (Map.Entry<String, Feed> e : new HashMap<>(u.feeds).entrySet()) {
        if (!wanted.contains(e.getKey())) {
          e.getValue().stop();
          u.feeds.remove(e.getKey());
          if (e.getValue() instanceof EventSource es) {
            es.publish();
            r.eventSources.remove(es);
          }
          log.info(
              "{}: stopped watching {}",
              u.id(),
              e.getKey().isEmpty() ? "all namespaces" : e.getKey());
        }
      }
      for (String key : wanted) {
        if (!u.feeds.containsKey(key)) {
          u.feeds.put(key, feeds.start(u, key, r));
        }
      }
      refreshSynced(u, r);
    }
  }

  /** The namespace keys a source should have a feed for now. */
  private Set<String> wantedKeys(SourceUnit u, SourceRun r) {
    if (!u.availability.available()) {
      return Set.of();
    }
    if (r.checkpoint != null && !u.source.stateLike() && !r.active) {
      return Set.of(); // event streams resuming from the checkpoint: the leader's only
    }
    if (u.source.namespaces() != null) { // its own (an informer Ingester's)
      return !u.source.namespaced() || u.source.namespaces().isEmpty()
          ? Set.of(ALL)
          : new TreeSet<>(u.source.namespaces());
    }
    if (!u.source.namespaced()) {
      return options.clusterScopedWatched() ? Set.of(ALL) : Set.of();
    }
    if (!options.scoped()) {
      return Set.of(ALL);
    }
    Set<String> ns = new TreeSet<>(options.watchNamespaces());
    ns.addAll(r.selectedNamespaces());
    return ns;
  }
}
