package io.kubezen.watcher.ingester;

import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.http.IngestHandler;
import io.kubezen.watcher.http.ObservationsApi;
import io.kubezen.watcher.http.WebServer;
import io.kubezen.watcher.http.WebhookGuard;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.webhook.IngesterRegistry;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The HTTP side of zen-watcher as ZenWatcher assembles it (SQLite store, pipeline, IngestHandler,
 * WebServer on a free port), plus an {@link IngesterRegistry} and {@link IngesterPipelines}: what
 * the Ingester tests need to POST to declared paths.
 */
public final class IngestServer implements AutoCloseable {
  public final SqliteObservationStore store;
  public final IngesterRegistry registry = new IngesterRegistry();
  public final IngesterPipelines pipelines;

  /** The global pipeline (the built-in sources'). */
  public final Pipeline pipeline;

  public final AtomicReference<Filter> globalFilter = new AtomicReference<>(Filter.ALLOW_ALL);
  public final Metrics metrics = Metrics.prometheus(Sources.standard().builtInNames());
  public final Sources sources = Sources.standard();
  final ObservationWriter writer;
  final Vertx vertx = Vertx.vertx();
  final WebServer web;
  final String base;
  final HttpClient http = HttpClient.newHttpClient();

  public IngestServer(Path dir, Map<String, String> env) {
    Map<String, String> e =
        new HashMap<>(Map.of("OBSERVATION_STORE", "sqlite", "WATCHER_PORT", "0"));
    e.putAll(env);
    Settings settings = Settings.fromEnv(e);
    store = SqliteObservationStore.open(dir.resolve("zw.db"), Clock.systemUTC());
    Deduplicator dedup = new Deduplicator(10_000, Duration.ofSeconds(60));
    writer =
        new ObservationWriter(store, dedup, metrics, 1000, 100, Duration.ofMillis(100)).start();
    ObservationFactory factory =
        new ObservationFactory("zen-system", 3600, Duration.ofSeconds(60), null);
    pipeline = new Pipeline(globalFilter::get, factory, dedup, writer, metrics);
    pipelines =
        new IngesterPipelines(
            globalFilter::get, dedup, writer, metrics, factory, Duration.ofSeconds(60));
    WebhookGuard guard = new WebhookGuard(settings.allowedCidrs(), settings.authToken(), 0, 1);
    IngestHandler ingest =
        new IngestHandler(
            sources, pipeline, guard, metrics, settings, Clock.systemUTC(), () -> true, registry);
    web =
        new WebServer(
            vertx, ingest, new ObservationsApi(store), store, metrics, "sqlite", java.util.Map::of);
    int port = web.start("127.0.0.1", 0, 1).toCompletionStage().toCompletableFuture().join();
    base = "http://127.0.0.1:" + port;
  }

  public record Response(int status, String body) {}

  public Response post(String path, String json, String... headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    try {
      HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      return new Response(r.statusCode(), r.body());
    } catch (Exception ex) {
      throw new AssertionError(ex);
    }
  }

  /** Observations of a source in the store. */
  public long count(String source) {
    return store
        .list(
            new io.kubezen.watcher.store.ObservationQuery(
                source, null, null, null, null, 1000, null))
        .items()
        .size();
  }

  @Override
  public void close() {
    web.stop().toCompletionStage().toCompletableFuture().join();
    writer.close(Duration.ofSeconds(5));
    vertx.close();
    store.close();
  }
}
