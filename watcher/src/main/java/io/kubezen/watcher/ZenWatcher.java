package io.kubezen.watcher;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.kube.ApiRequestMetrics;
import io.kubezen.watcher.kube.SourceManager;
import io.kubezen.watcher.kube.SourceOptions;
import io.kubezen.watcher.kube.leader.ElectionConfig;
import io.kubezen.watcher.kube.leader.LeaseElector;
import io.kubezen.watcher.pipeline.filter.ConfigMapFilter;
import io.kubezen.watcher.ingester.informer.IngesterInformers;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import io.kubezen.watcher.ingester.webhook.IngesterWebhookController;
import io.kubezen.watcher.pipeline.filter.FilterConfigException;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.webhook.IngesterRegistry;
import io.kubezen.watcher.ingester.webhook.IngestersDirectory;
import io.kubezen.watcher.store.kubernetes.KubernetesObservationStore;
import io.kubezen.watcher.store.kubernetes.KubernetesStoreOptions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import io.kubezen.watcher.http.IngestHandler;
import io.kubezen.watcher.http.ObservationsApi;
import io.kubezen.watcher.http.WebServer;
import io.kubezen.watcher.http.WebhookGuard;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.pipeline.filter.FilterReloader;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.postgres.PostgresObservationStore;
import io.kubezen.watcher.store.postgres.PostgresStoreOptions;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import static net.logstash.logback.argument.StructuredArguments.kv;

/**
 * The whole program, assembled from its settings: store, filter, pipeline, writer, HTTP server and
 * garbage collector. {@link #start} brings it up; {@link #stop} takes it down without losing anything
 * it acknowledged.
 */
public final class ZenWatcher {
  private static final Logger log = LoggerFactory.getLogger(ZenWatcher.class);

  private final Settings settings;
  private final Clock clock;
  private final Metrics metrics;
  private final AtomicBoolean accepting = new AtomicBoolean(true);
  private ObservationStore store;
  private FilterReloader filter;
  private ObservationWriter writer;
  private Vertx vertx;
  private WebServer web;
  private IngestHandler ingest;
  private ScheduledExecutorService gc;
  private java.util.concurrent.ScheduledFuture<?> gcTask;
  private int port;
  private KubernetesClient client;
  private ConfigMapFilter configMapFilter;
  private SourceManager sourceManager;
  private IngesterWebhookController ingesterWebhooks;
  private IngesterInformers ingesterInformers;
  private IngestersDirectory ingestersDirectory;
  private volatile boolean leaderWork;
  private LeaseElector elector;

  private final java.util.function.Function<Settings, ObservationStore> storeFactory;

  public ZenWatcher(Settings settings, Clock clock) {
    this(settings, clock, null);
  }

  /** With a store of the caller's making (tests wrap the real one); null for the one the settings name. */
  public ZenWatcher(Settings settings, Clock clock, java.util.function.Function<Settings, ObservationStore> storeFactory) {
    this.settings = settings;
    this.clock = clock;
    this.storeFactory = storeFactory;
    this.metrics = Metrics.prometheus(Sources.standard().builtInNames());
  }

  /** Starts everything; returns once the HTTP port is open and the program is ready. */
  public ZenWatcher start() {
    long t0 = System.nanoTime();
    io.kubezen.watcher.model.CelBudget.setLimit(settings.guards().celCostLimit()); // before any filter compiles
    Sources sources = Sources.standard();
    metrics.preregister(KnownMetricLabels.of(settings, sources.builtInNames()));
    if (settings.kubernetesMode() && storeFactory == null) {
      // In a pod: the service account; outside: KUBECONFIG or ~/.kube/config.
      // Every request counted by verb, resource and code (zen_watcher_kube_requests_total).
      ApiRequestMetrics requests = new ApiRequestMetrics(metrics::kubeRequest);
      client = new KubernetesClientBuilder()
          .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor(ApiRequestMetrics.NAME, requests)).build();
    }
    store = openStore();
    FilterReloader.Listener filterEvents = new FilterReloader.Listener() {
      @Override
      public void onLoaded(Filter f, String contentHash) {
        metrics.filterReload(true);
      }

      @Override
      public void onInvalid(String message) {
        metrics.filterReload(false);
      }
    };
    Supplier<Filter> globalFilter = startFilter(filterEvents);
    Deduplicator dedup = new Deduplicator(settings.dedupMaxSize(), settings.dedupWindow());
    writer = new ObservationWriter(store, dedup, metrics, settings.writeQueueSize(), settings.writeBatchSize(),
        settings.flushInterval()).start();
    String clusterName = settings.kube().clusterName().orElse(null);
    // ACCESS_SCOPE=namespaces: findings about namespaces outside the install's are stored in its own.
    ObservationFactory factory = new ObservationFactory(settings.podNamespace(),
        java.util.Set.copyOf(settings.accessNamespaces()), settings.observationTtlSeconds(), settings.dedupWindow(),
        clusterName);
    Pipeline pipeline = new Pipeline(globalFilter, factory, dedup, writer, metrics);
    metrics.gauge(Metrics.WRITE_QUEUE_DEPTH, "Observations waiting to be written", writer::queued);
    metrics.gauge(Metrics.DEDUP_CACHE_SIZE, "Fingerprints remembered for dedup", dedup::size);
    metrics.gauge(Metrics.REPEATS_PENDING, "Sightings counted as repeats and not yet written to the store",
        dedup::pendingRepeats);

    // Declared sources (Ingesters): webhook routes on every replica.
    IngesterRegistry ingesterRoutes = new IngesterRegistry();
    IngesterPipelines ingesterPipelines = new IngesterPipelines(globalFilter, dedup, writer, metrics, factory,
        settings.dedupWindow());
    String ingesterNamespace = settings.ingesters().namespace().orElse(null);
    if (client != null) {
      IngesterStatusWriter ingesterStatus = new IngesterStatusWriter(client, clock);
      ingesterWebhooks = new IngesterWebhookController(client, ingesterNamespace, sources.builtInNames(),
          ingesterRoutes, ingesterPipelines, ingesterStatus, settings.ingesters().statusInterval(),
          settings.ingesters().resync());
      ingesterWebhooks.start();
      Settings.Watch w = settings.watch();
      sourceManager = new SourceManager(client, pipeline, metrics, clock,
          new SourceOptions(w.sources(), w.namespaces(), w.namespaceSelector(), w.clusterScoped(),
              w.crdCheckInterval())
              // Kubernetes Events resume from the resourceVersion stored so far, kept in a Lease of
              // their own beside the election's, so a new leader misses none of them.
              .withCheckpoint(settings.podNamespace(),
                  SourceOptions.checkpointNameFor(settings.leaderElection().id()))
              .withNamespacedAccess(settings.accessScope() == Settings.AccessScope.NAMESPACES));
      // Informer Ingesters: watched sources of the same engine, added and removed as Ingesters come and go.
      ingesterInformers = new IngesterInformers(client, ingesterNamespace, settings.accessNamespaces(),
          sources.builtInNames(), ingesterPipelines, sourceManager, ingesterStatus, clock,
          settings.ingesters().statusInterval(), settings.ingesters().resync());
      if (w.warmStandby()) {
        sourceManager.standby();
        ingesterInformers.standby();
      }
    }
    if (settings.ingesters().dir().isPresent()) {
      ingestersDirectory = new IngestersDirectory(settings.ingesters().dir().get(), settings.ingesters().dirPoll(),
          sources.builtInNames(), ingesterRoutes, ingesterPipelines);
      ingestersDirectory.start();
    }
    if (store instanceof KubernetesObservationStore kube) {
      exportStoreMetrics(kube);
    }

    int loops = Math.max(1, Runtime.getRuntime().availableProcessors());
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(loops).setWorkerPoolSize(8));
    WebhookGuard guard = new WebhookGuard(settings.allowedCidrs(), settings.authToken(),
        settings.rateLimitPerSecond(), settings.rateLimitBurst());
    ingest = new IngestHandler(sources, pipeline, guard, metrics, settings, clock, accepting::get, ingesterRoutes);
    String storeName = settings.store().name().toLowerCase();
    web = new WebServer(vertx, ingest, new ObservationsApi(store), store, metrics, storeName, this::readyDetails,
        new io.kubezen.watcher.http.console.Console(store, clock, this::readyDetails, storeName))
        .withGuards(settings.guards());
    boolean reader = settings.mode() == Settings.Mode.READER;
    web.setReader(reader);
    port = web.start(settings.bindAddress(), settings.port(), loops).toCompletionStage().toCompletableFuture().join();

    gc = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "observation-gc");
      t.setDaemon(true);
      return t;
    });
    metrics.gauge(Metrics.IS_LEADER, "1 while this replica runs the leader-only work (informers, GC), else 0",
        () -> leaderWork ? 1 : 0);
    metrics.functionCounter(Metrics.LEADER_TRANSITIONS,
        "Times this replica became leader or stopped being leader (builtin leader election)",
        () -> elector == null ? 0 : elector.transitions());
    Settings.LeaderElection le = settings.leaderElection();
    if (reader) {
      log.info("MODE=reader: serving the read API only (no webhooks, no sources, no garbage collection)");
    } else if (le.mode() == Settings.LeaderElectionMode.BUILTIN && client != null) {
      elector = new LeaseElector(client, new ElectionConfig(settings.podNamespace(), le.id(), le.identity(),
          le.leaseDuration(), le.renewDeadline(), le.retryPeriod()), clock, new LeaseElector.Listener() {
            @Override
            public void startLeading(Duration failover) {
              if (failover != null) {
                metrics.failover(failover);
              }
              startLeaderWork();
            }

            @Override
            public void stopLeading(String reason, Duration budget) {
              stopLeaderWork(reason, budget);
            }
          });
    } else {
      startLeaderWork();
    }
    web.setReady(true);
    if (elector != null) {
      elector.start();
    }
    log.info("zen-watcher ready on {}:{} with the {} store in {} ms", settings.bindAddress(), port,
        settings.store().name().toLowerCase(), (System.nanoTime() - t0) / 1_000_000);
    return this;
  }

  private void exportStoreMetrics(KubernetesObservationStore kube) {
    metrics.gauge(Metrics.OBSERVATIONS_LIVE, "Observations in the cluster (as this replica counts them; -1 until counted)",
        kube::liveCount);
    for (Severity severity : Severity.values()) {
      for (KubernetesObservationStore.Shed action : KubernetesObservationStore.Shed.values()) {
        metrics.functionCounter(Metrics.OBSERVATIONS_SHED, "Observations refused or evicted to respect MAX_OBSERVATIONS",
            () -> kube.shedCount(severity, action), "severity", severity.wire(), "action",
            action.name().toLowerCase(java.util.Locale.ROOT));
      }
    }
    metrics.gauge(Metrics.KUBE_WRITE_RATE_LIMIT, "Writes per second the adaptive limiter allows now (KUBE_WRITE_QPS caps it)",
        kube::writeRateLimit);
    metrics.functionCounter(Metrics.KUBE_CONFLICT_RETRIES, "Status updates retried after 409 Conflict",
        kube::conflictRetries);
    metrics.functionCounter(Metrics.KUBE_THROTTLED_RETRIES, "Writes retried after 429 Too Many Requests",
        kube::throttledRetries);
  }

  private Supplier<Filter> startFilter(FilterReloader.Listener events) {
    try {
      if (settings.ingesters().filterConfigMap().isPresent()) {
        if (client == null) {
          throw new IllegalStateException("FILTER_CONFIGMAP needs the Kubernetes store (OBSERVATION_STORE=kubernetes)");
        }
        ConfigMapFilter cm = ConfigMapFilter.of(client, settings.ingesters().filterConfigMap().get(),
            settings.podNamespace(), events);
        cm.start();
        configMapFilter = cm;
        return cm::current;
      }
      filter = settings.filterConfig()
          .map(path -> new FilterReloader(path, settings.filterReloadInterval(), events))
          .orElseGet(FilterReloader::none);
      filter.start();
      return filter::current;
    } catch (FilterConfigException e) {
      throw new IllegalStateException(settings.filterConfig().isPresent() ? "FILTER_CONFIG: " + e.getMessage()
          : "FILTER_CONFIGMAP: " + e.getMessage(), e);
    }
  }

  /**
   * Starts the work only one replica does: informer sources, informer Ingesters and the garbage
   * collector. Without leader election this replica always does it.
   */
  public synchronized void startLeaderWork() {
    if (leaderWork) {
      return;
    }
    leaderWork = true;
    log.info("leader work started {}", kv("identity", identity()));
    if (sourceManager != null) {
      sourceManager.start();
      sourceManager.catchUp().thenAccept(c -> {
        metrics.catchUp(c.took(), c.created());
        log.info("catch-up done {} {} {}", kv("identity", identity()), kv("catchupMillis", c.took().toMillis()),
            kv("created", c.created()));
      });
    }
    if (ingesterInformers != null) {
      ingesterInformers.start();
    }
    long gcMillis = settings.gcInterval().toMillis();
    gcTask = gc.scheduleWithFixedDelay(this::collectGarbage, Math.min(gcMillis, 60_000), gcMillis,
        TimeUnit.MILLISECONDS);
  }

  /** Stops the leader-only work (within 10 s); the replica keeps serving webhooks. */
  public void stopLeaderWork() {
    stopLeaderWork("stopped", Duration.ofSeconds(10));
  }

  /**
   * Stops the leader-only work within {@code timeout}; the replica keeps serving webhooks. The
   * watched sources are fenced first (their informer events are ignored and no new store work
   * starts, at once), then the informers are stopped on another thread, waited for up to {@code
   * timeout}: an informer that hangs on a dead API server stops in the background but writes
   * nothing more. {@code leader work stopped} is logged when that is so.
   */
  public void stopLeaderWork(String reason, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    SourceManager sources;
    IngesterInformers ingesterSources;
    synchronized (this) {
      if (!leaderWork) {
        return;
      }
      leaderWork = false;
      sources = sourceManager;
      ingesterSources = ingesterInformers;
      if (sources != null) {
        sources.halt();
      }
      if (gcTask != null) {
        gcTask.cancel(true);
        gcTask = null;
      }
    }
    Thread stopper = new Thread(() -> {
      boolean warm = settings.watch().warmStandby();
      if (ingesterSources != null) {
        if (warm) {
          ingesterSources.demote(); // their sources stay in the engine, warm
        } else {
          ingesterSources.stop();
        }
      }
      if (sources != null) {
        if (warm) {
          sources.demote(); // the informers keep running for a later takeover
        } else {
          sources.stop();
        }
      }
    }, "leader-work-stop");
    stopper.setDaemon(true);
    stopper.start();
    try {
      stopper.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (stopper.isAlive()) {
      log.warn("leader work did not stop within {} ms; the watched sources are fenced and stop in the background",
          timeout.toMillis());
    }
    log.info("leader work stopped {} {}", kv("identity", identity()), kv("reason", reason));
  }

  /** True while this replica runs the leader-only work. */
  public boolean isLeader() {
    return leaderWork;
  }

  private String identity() {
    return settings.leaderElection().identity();
  }

  private Map<String, Object> readyDetails() {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("role", settings.mode() == Settings.Mode.READER ? "reader" : leaderWork ? "leader" : "follower");
    details.put("identity", identity());
    if (sourceManager != null && leaderWork) {
      details.put("sources", sourceManager.status());
    }
    return details;
  }

  private ObservationStore openStore() {
    if (storeFactory != null) {
      return storeFactory.apply(settings);
    }
    return switch (settings.store()) {
      case SQLITE -> SqliteObservationStore.open(settings.sqlitePath(), clock);
      case POSTGRES -> {
        Settings.Postgres p = settings.postgres();
        PostgresStoreOptions options = new PostgresStoreOptions(p.url(), p.user().orElse(null),
            p.password().reveal(), p.poolSize(), p.statementTimeout(), p.connectTimeout(),
            settings.kube().clusterName().orElse(null), settings.mode() == Settings.Mode.READER,
            settings.kube().maxObservations());
        yield PostgresObservationStore.open(options, clock);
      }
      case KUBERNETES -> {
        Settings.Kube k = settings.kube();
        yield new KubernetesObservationStore(client, clock, new KubernetesStoreOptions(k.writeQps(), k.writeBurst(),
            k.maxInFlight(), k.maxObservations(), k.maxDetailsBytes(), k.clusterName().orElse(null),
            settings.accessNamespaces()));
      }
    };
  }

  /**
   * The sources whose open Observations live as long as their finding is reported (TTL from
   * resolvedAt): the state-like watched sources and the informer Ingesters, when this replica
   * watches (Kubernetes mode); none standalone.
   */
  private java.util.Set<String> stateLikeSources() {
    java.util.Set<String> out = new java.util.TreeSet<>();
    if (sourceManager != null) {
      io.kubezen.watcher.kube.BuiltInSources.all().stream().filter(w -> w.stateLike()).forEach(w -> out.add(w.source()));
    }
    if (ingesterInformers != null) {
      out.addAll(ingesterInformers.sourceNames());
    }
    return out;
  }

  /** One TTL sweep. Public so that tests and operators can trigger one. */
  public GcResult collectGarbage() {
    try {
      GcResult r = store.deleteExpired(clock.instant(), stateLikeSources());
      metrics.gcDeleted(r.deleted());
      metrics.gcErrors(r.errors());
      if (r.deleted() > 0 || r.errors() > 0) {
        log.info("garbage collection deleted {} expired Observations ({} errors)", r.deleted(), r.errors());
      }
      return r;
    } catch (RuntimeException e) {
      metrics.gcErrors(1);
      log.warn("garbage collection failed: {}", e.toString());
      return new GcResult(0, 1);
    }
  }

  /**
   * Not ready, refuses new webhooks (503, so senders go to another replica), lets in-flight requests
   * finish and their Observations be stored, flushes repeats, then closes everything; within
   * {@code timeout}.
   */
  public void stop(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    if (web != null) {
      web.setReady(false);
    }
    accepting.set(false);
    while (ingest != null && ingest.inFlight() > 0 && System.nanoTime() < deadline) {
      sleep(10);
    }
    // Graceful handoff: while this replica still holds (and renews) the Lease, stop the leader work
    // completely and write everything queued, informer work included; only then release the
    // Lease, so the next leader starts after this one has fully stopped (no overlap, and no late
    // write of this replica lands after the next leader's). A reserve is kept for the release.
    long reserve = Math.min(TimeUnit.SECONDS.toNanos(2), Math.max(0, deadline - System.nanoTime()) / 4);
    stopLeaderWork("shutdown", Duration.ofNanos(Math.max(1, deadline - reserve - System.nanoTime())));
    if (ingesterWebhooks != null) {
      ingesterWebhooks.stop();
    }
    if (ingestersDirectory != null) {
      ingestersDirectory.close();
    }
    if (writer != null) {
      writer.close(Duration.ofNanos(Math.max(1, deadline - reserve - System.nanoTime())));
    }
    if (elector != null) {
      // Leader work is already stopped: this releases the Lease so that a follower takes it at once.
      elector.close(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
    }
    if (ingesterInformers != null) {
      ingesterInformers.close();
    }
    if (sourceManager != null) {
      sourceManager.close();
    }
    if (gc != null) {
      gc.shutdownNow();
    }
    if (filter != null) {
      filter.close();
    }
    if (configMapFilter != null) {
      configMapFilter.close();
    }
    if (vertx != null) {
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(Math.max(1, (deadline - System.nanoTime()) / 1_000_000),
            TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        log.warn("HTTP server did not close cleanly: {}", e.toString());
      }
    }
    if (store != null) {
      store.close();
    }
    if (client != null) {
      client.close();
    }
    log.info("zen-watcher stopped");
  }

  /** The HTTP server (tests read its connection counts). */
  public WebServer webServer() {
    return web;
  }

  public int port() {
    return port;
  }

  public Metrics metrics() {
    return metrics;
  }

  public ObservationStore store() {
    return store;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
