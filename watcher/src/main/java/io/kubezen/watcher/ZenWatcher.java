package io.kubezen.watcher;

import io.kubezen.watcher.config.Settings;
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
import io.kubezen.watcher.source.Sources;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationStore;
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
  private int port;

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
    Sources sources = Sources.standard();
    store = openStore();
    filter = settings.filterConfig()
        .map(path -> new FilterReloader(path, settings.filterReloadInterval(), new FilterReloader.Listener() {
          @Override
          public void onLoaded(Filter f, String contentHash) {
            metrics.filterReload(true);
          }

          @Override
          public void onInvalid(String message) {
            metrics.filterReload(false);
          }
        }))
        .orElseGet(FilterReloader::none);
    try {
      filter.start();
    } catch (io.kubezen.watcher.pipeline.filter.FilterConfigException e) {
      throw new IllegalStateException("FILTER_CONFIG: " + e.getMessage(), e);
    }
    Deduplicator dedup = new Deduplicator(settings.dedupMaxSize(), settings.dedupWindow());
    writer = new ObservationWriter(store, dedup, metrics, settings.writeQueueSize(), settings.writeBatchSize(),
        settings.flushInterval()).start();
    ObservationFactory factory = new ObservationFactory(settings.podNamespace(), settings.observationTtlSeconds(),
        settings.dedupWindow(), null);
    Pipeline pipeline = new Pipeline(filter::current, factory, dedup, writer, metrics);
    metrics.gauge(Metrics.WRITE_QUEUE_DEPTH, "Observations waiting to be written", writer::queued);
    metrics.gauge(Metrics.DEDUP_CACHE_SIZE, "Fingerprints remembered for dedup", dedup::size);

    int loops = Math.max(1, Runtime.getRuntime().availableProcessors());
    vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(loops).setWorkerPoolSize(8));
    WebhookGuard guard = new WebhookGuard(settings.allowedCidrs(), settings.authToken(),
        settings.rateLimitPerSecond(), settings.rateLimitBurst());
    ingest = new IngestHandler(sources, pipeline, guard, metrics, settings, clock, accepting::get);
    web = new WebServer(vertx, ingest, new ObservationsApi(store), store, metrics,
        settings.store().name().toLowerCase());
    port = web.start(settings.bindAddress(), settings.port(), loops).toCompletionStage().toCompletableFuture().join();

    gc = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "observation-gc");
      t.setDaemon(true);
      return t;
    });
    long gcMillis = settings.gcInterval().toMillis();
    gc.scheduleWithFixedDelay(this::collectGarbage, Math.min(gcMillis, 60_000), gcMillis, TimeUnit.MILLISECONDS);
    web.setReady(true);
    log.info("zen-watcher ready on {}:{} with the {} store in {} ms", settings.bindAddress(), port,
        settings.store().name().toLowerCase(), (System.nanoTime() - t0) / 1_000_000);
    return this;
  }

  private ObservationStore openStore() {
    if (storeFactory != null) {
      return storeFactory.apply(settings);
    }
    return switch (settings.store()) {
      case SQLITE -> SqliteObservationStore.open(settings.sqlitePath(), clock);
      case KUBERNETES -> throw new IllegalStateException(
          "OBSERVATION_STORE=kubernetes is not available in this version; use OBSERVATION_STORE=sqlite");
    };
  }

  /** One TTL sweep. Public so that tests and operators can trigger one. */
  public GcResult collectGarbage() {
    try {
      GcResult r = store.deleteExpired(clock.instant());
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
    if (writer != null) {
      writer.close(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }
    if (gc != null) {
      gc.shutdownNow();
    }
    if (filter != null) {
      filter.close();
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
    log.info("zen-watcher stopped");
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
