package io.kubezen.watcher;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.http.IngestHandler;
import io.kubezen.watcher.http.ObservationsApi;
import io.kubezen.watcher.http.WebServer;
import io.kubezen.watcher.http.WebhookGuard;
import io.kubezen.watcher.http.console.Console;
import io.kubezen.watcher.http.console.FileIngesterConditions;
import io.kubezen.watcher.http.console.IngesterConditions;
import io.kubezen.watcher.http.console.KubeIngesterConditions;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.webhook.IngesterRegistry;
import io.kubezen.watcher.ingester.webhook.IngestersDirectory;
import io.kubezen.watcher.kube.ApiRequestMetrics;
import io.kubezen.watcher.kube.leader.ElectionConfig;
import io.kubezen.watcher.kube.leader.LeaseElector;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.model.CelBudget;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.kubernetes.KubernetesObservationStore;
import io.kubezen.watcher.store.kubernetes.KubernetesStoreOptions;
import io.kubezen.watcher.store.postgres.PostgresObservationStore;
import io.kubezen.watcher.store.postgres.PostgresStoreOptions;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole program, assembled from its settings: store, filter, pipeline, writer, HTTP server and
 * the leader work. {@link #start} builds the components and starts them; {@link #stop} takes them
 * down, in order, without losing anything acknowledged. The components: {@link GlobalFilter},
 * {@link KubernetesSources} (what Kubernetes mode watches), {@link LeaderWork} (what only the
 * leader runs), {@link GarbageCollector}, {@link StoreMetrics}.
 */
public final class ZenWatcher {
  private static final Logger log = LoggerFactory.getLogger(ZenWatcher.class);

  private final Settings settings;
  private final Clock clock;
  private final Metrics metrics;

  /** Null for the store the settings name; tests wrap the real one. */
  private final Function<Settings, ObservationStore> storeFactory;

  private final AtomicBoolean accepting = new AtomicBoolean(true);

  // Built by start(), in this order; a start that fails part-way leaves the later ones null, and
  // stop() closes what was built.
  private KubernetesClient client;
  private ObservationStore store;
  private GlobalFilter filter;
  private ObservationWriter writer;
  private KubernetesSources kubeSources;
  private IngestersDirectory ingestersDirectory;
  private GarbageCollector gc;
  private LeaderWork leaderWork;
  private Vertx vertx;
  private IngestHandler ingest;
  private WebServer web;
  private LeaseElector elector;
  private int port;

  public ZenWatcher(Settings settings, Clock clock) {
    this(settings, clock, null);
  }

  /**
   * With a store of the caller's making (tests wrap the real one); null for the one the settings
   * name.
   */
  public ZenWatcher(
      Settings settings, Clock clock, Function<Settings, ObservationStore> storeFactory) {
    this.settings = settings;
    this.clock = clock;
    this.storeFactory = storeFactory;
    this.metrics = Metrics.prometheus(Sources.standard().builtInNames());
  }

  /** Starts everything; returns once the HTTP port is open and the program is ready. */
  public ZenWatcher start() {
    long t0 = System.nanoTime();
    CelBudget.setLimit(settings.guards().celCostLimit()); // before any filter compiles
    Sources sources = Sources.standard();
    metrics.preregister(KnownMetricLabels.of(settings, sources.builtInNames()));
    if (settings.kubernetesMode() && storeFactory == null) {
      client = kubernetesClient();
    }
    store = openStore();
    filter = GlobalFilter.start(settings, client, metrics);

    // The pipeline: filter, dedup, the writer's queue.
    Deduplicator dedup = new Deduplicator(settings.dedupMaxSize(), settings.dedupWindow());
    writer =
        new ObservationWriter(
                store,
                dedup,
                metrics,
                settings.writeQueueSize(),
                settings.writeBatchSize(),
                settings.flushInterval())
            .start();
    // ACCESS_SCOPE=namespaces: findings about namespaces outside the install's are stored in its
    // own.
    ObservationFactory factory =
        new ObservationFactory(
            settings.podNamespace(),
            Set.copyOf(settings.accessNamespaces()),
            settings.observationTtlSeconds(),
            settings.dedupWindow(),
            settings.kube().clusterName().orElse(null));
    Pipeline pipeline = new Pipeline(filter, factory, dedup, writer, metrics);
    metrics.gauge(Metrics.WRITE_QUEUE_DEPTH, "Observations waiting to be written", writer::queued);
    metrics.gauge(Metrics.DEDUP_CACHE_SIZE, "Fingerprints remembered for dedup", dedup::size);
    metrics.gauge(
        Metrics.REPEATS_PENDING,
        "Sightings counted as repeats and not yet written to the store",
        dedup::pendingRepeats);

    // Declared sources (Ingesters): webhook routes on every replica; informer ones in Kubernetes
    // mode.
    IngesterRegistry ingesterRoutes = new IngesterRegistry();
    IngesterPipelines ingesterPipelines =
        new IngesterPipelines(filter, dedup, writer, metrics, factory, settings.dedupWindow());
    if (client != null) {
      kubeSources =
          KubernetesSources.start(
              client,
              settings,
              clock,
              metrics,
              pipeline,
              sources.builtInNames(),
              ingesterRoutes,
              ingesterPipelines);
    }
    if (settings.ingesters().dir().isPresent()) {
      ingestersDirectory =
          new IngestersDirectory(
              settings.ingesters().dir().get(),
              settings.ingesters().dirPoll(),
              sources.builtInNames(),
              ingesterRoutes,
              ingesterPipelines);
      ingestersDirectory.start();
    }
    StoreMetrics.export(metrics, store);

    // HTTP: webhooks, read API, console, health, readiness, metrics.
    int loops = Math.max(1, Runtime.getRuntime().availableProcessors());
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(loops).setWorkerPoolSize(8));
    WebhookGuard guard =
        new WebhookGuard(
            settings.allowedCidrs(),
            settings.authToken(),
            settings.rateLimitPerSecond(),
            settings.rateLimitBurst());
    ingest =
        new IngestHandler(
            sources, pipeline, guard, metrics, settings, clock, accepting::get, ingesterRoutes);
    String storeName = settings.store().name().toLowerCase(Locale.ROOT);
    web =
        new WebServer(
                vertx,
                ingest,
                new ObservationsApi(store),
                store,
                metrics,
                storeName,
                this::readyDetails,
                new Console(store, clock, this::readyDetails, storeName)
                    .withIngesters(
                        ingesterConditions(
                            ingesterRoutes, settings.ingesters().namespace().orElse(null))))
            .withGuards(settings.guards());
    boolean reader = settings.mode() == Settings.Mode.READER;
    web.setReader(reader);
    port =
        web.start(settings.bindAddress(), settings.port(), loops)
            .toCompletionStage()
            .toCompletableFuture()
            .join();

    // The leader work, and who runs it.
    KubernetesSources watched = kubeSources;
    gc =
        new GarbageCollector(
            store,
            clock,
            metrics,
            settings.gcInterval(),
            () -> watched == null ? Set.of() : watched.stateLikeSources());
    leaderWork = new LeaderWork(kubeSources, gc, metrics, identity());
    metrics.gauge(
        Metrics.IS_LEADER,
        "1 while this replica runs the leader-only work (informers, GC), else 0",
        () -> leaderWork.leading() ? 1 : 0);
    metrics.functionCounter(
        Metrics.LEADER_TRANSITIONS,
        "Times this replica became leader or stopped being leader (builtin leader election)",
        () -> elector == null ? 0 : elector.transitions());
    if (reader) {
      log.info(
          "MODE=reader: serving the read API only (no webhooks, no sources, no garbage collection)");
    } else if (settings.leaderElection().mode() == Settings.LeaderElectionMode.BUILTIN
        && client != null) {
      elector = elector();
    } else {
      leaderWork.start();
    }
    web.setReady(true);
    if (elector != null) {
      elector.start();
    }
    log.info(
        "zen-watcher ready on {}:{} with the {} store in {} ms",
        settings.bindAddress(),
        port,
        storeName,
        (System.nanoTime() - t0) / 1_000_000);
    return this;
  }

  /**
   * In a pod: the service account; outside: KUBECONFIG or ~/.kube/config. Every request counted by
   * verb, resource and code (zen_watcher_kube_requests_total).
   */
  private KubernetesClient kubernetesClient() {
    ApiRequestMetrics requests = new ApiRequestMetrics(metrics::kubeRequest);
    return new KubernetesClientBuilder()
        .withHttpClientBuilderConsumer(
            b -> b.addOrReplaceInterceptor(ApiRequestMetrics.NAME, requests))
        .build();
  }

  /** The Lease election: the leader work starts on gaining the Lease and stops on losing it. */
  private LeaseElector elector() {
    Settings.LeaderElection le = settings.leaderElection();
    return new LeaseElector(
        client,
        new ElectionConfig(
            settings.podNamespace(),
            le.id(),
            le.identity(),
            le.leaseDuration(),
            le.renewDeadline(),
            le.retryPeriod()),
        clock,
        new LeaseElector.Listener() {
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
  }

  private ObservationStore openStore() {
    if (storeFactory != null) {
      return storeFactory.apply(settings);
    }
    return switch (settings.store()) {
      case SQLITE ->
          SqliteObservationStore.open(
              settings.sqlitePath(),
              clock,
              SqliteObservationStore.DEFAULT_READERS,
              settings.kube().maxObservations());
      case POSTGRES -> {
        Settings.Postgres p = settings.postgres();
        PostgresStoreOptions options =
            new PostgresStoreOptions(
                p.url(),
                p.user().orElse(null),
                p.password().reveal(),
                p.poolSize(),
                p.statementTimeout(),
                p.connectTimeout(),
                settings.kube().clusterName().orElse(null),
                settings.mode() == Settings.Mode.READER,
                settings.kube().maxObservations());
        yield PostgresObservationStore.open(options, clock);
      }
      case KUBERNETES -> {
        Settings.Kube k = settings.kube();
        yield new KubernetesObservationStore(
            client,
            clock,
            new KubernetesStoreOptions(
                k.writeQps(),
                k.writeBurst(),
                k.maxInFlight(),
                k.maxObservations(),
                k.maxDetailsBytes(),
                k.clusterName().orElse(null),
                settings.accessNamespaces()));
      }
    };
  }

  /**
   * Starts the work only one replica does: informer sources, informer Ingesters and the garbage
   * collector. Without leader election this replica always does it.
   */
  public void startLeaderWork() {
    leaderWork.start();
  }

  /** Stops the leader-only work (within 10 s); the replica keeps serving webhooks. */
  public void stopLeaderWork() {
    stopLeaderWork("stopped", Duration.ofSeconds(10));
  }

  /** Stops the leader-only work within {@code timeout} (see {@link LeaderWork#stop}). */
  public void stopLeaderWork(String reason, Duration timeout) {
    if (leaderWork != null) {
      leaderWork.stop(reason, timeout);
    }
  }

  /** True while this replica runs the leader-only work. */
  public boolean isLeader() {
    return leaderWork != null && leaderWork.leading();
  }

  /** One TTL sweep. Public so that tests and operators can trigger one. */
  public GcResult collectGarbage() {
    return gc.collect();
  }

  private String identity() {
    return settings.leaderElection().identity();
  }

  /**
   * What the console's sources page reads of the Ingesters (their Ready condition), through small
   * adapters.
   */
  private IngesterConditions ingesterConditions(IngesterRegistry routes, String ingesterNamespace) {
    List<IngesterConditions> all = new ArrayList<>();
    if (client != null) {
      all.add(new KubeIngesterConditions(client, ingesterNamespace, clock));
    }
    if (ingestersDirectory != null) {
      IngestersDirectory dir = ingestersDirectory;
      var files =
          new FileIngesterConditions(
              clock,
              dir::active,
              dir::problems,
              key ->
                  routes
                      .routeOf(key)
                      .map(
                          r ->
                              new FileIngesterConditions.Served(
                                  r.path(), r.normalizer().source())));
      vertx.setPeriodic(
          Math.max(1000, settings.ingesters().dirPoll().toMillis()),
          id ->
              vertx.executeBlocking(
                  files::conditions, false)); // keeps "since" close to the changes
      all.add(files);
    }
    return IngesterConditions.of(all);
  }

  private Map<String, Object> readyDetails() {
    boolean leading = isLeader();
    Map<String, Object> details = new LinkedHashMap<>();
    details.put(
        "role",
        settings.mode() == Settings.Mode.READER ? "reader" : leading ? "leader" : "follower");
    details.put("identity", identity());
    if (kubeSources != null && leading) {
      details.put("sources", kubeSources.status());
    }
    return details;
  }

  /**
   * Not ready, refuses new webhooks (503, so senders go to another replica), lets in-flight
   * requests finish and their Observations be stored, flushes repeats, then closes everything;
   * within {@code timeout}.
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
    long reserve =
        Math.min(TimeUnit.SECONDS.toNanos(2), Math.max(0, deadline - System.nanoTime()) / 4);
    stopLeaderWork(
        "shutdown", Duration.ofNanos(Math.max(1, deadline - reserve - System.nanoTime())));
    if (kubeSources != null) {
      kubeSources.stopWebhooks();
    }
    if (ingestersDirectory != null) {
      ingestersDirectory.close();
    }
    if (writer != null) {
      writer.close(Duration.ofNanos(Math.max(1, deadline - reserve - System.nanoTime())));
    }
    if (elector != null) {
      // Leader work is already stopped: this releases the Lease so that a follower takes it at
      // once.
      elector.close(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
    }
    if (kubeSources != null) {
      kubeSources.close();
    }
    if (gc != null) {
      gc.close();
    }
    if (filter != null) {
      filter.close();
    }
    if (vertx != null) {
      try {
        vertx
            .close()
            .toCompletionStage()
            .toCompletableFuture()
            .get(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS);
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
