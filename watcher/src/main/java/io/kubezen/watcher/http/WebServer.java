package io.kubezen.watcher.http;

import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.store.ObservationStore;
import io.vertx.core.AbstractVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The one HTTP port: webhooks ({@code /ingest/<source>}), the read API, health, readiness and
 * metrics. Served by one verticle per event loop.
 */
public final class WebServer {
  private final Vertx vertx;
  private final IngestHandler ingest;
  private final ObservationsApi api;
  private final ObservationStore store;
  private final Metrics metrics;
  private final String storeName;
  private final AtomicBoolean ready = new AtomicBoolean(false);
  private volatile String deployment;
  private volatile int port = -1;

  private final Supplier<java.util.Map<String, Object>> readyDetails;

  private final io.kubezen.watcher.http.console.Console console;

  public WebServer(Vertx vertx, IngestHandler ingest, ObservationsApi api, ObservationStore store, Metrics metrics,
      String storeName, Supplier<java.util.Map<String, Object>> readyDetails) {
    this(vertx, ingest, api, store, metrics, storeName, readyDetails, null);
  }

  /** @param console the web console, or null for none */
  public WebServer(Vertx vertx, IngestHandler ingest, ObservationsApi api, ObservationStore store, Metrics metrics,
      String storeName, Supplier<java.util.Map<String, Object>> readyDetails,
      io.kubezen.watcher.http.console.Console console) {
    this.console = console;
    this.readyDetails = readyDetails;
    this.vertx = vertx;
    this.ingest = ingest;
    this.api = api;
    this.store = store;
    this.metrics = metrics;
    this.storeName = storeName;
  }

  public Router router() {
    Router router = Router.router(vertx);
    router.route("/ingest/:source").handler(ingest::admit).handler(ingest::ingest);
    readRoutes(router);
    router.get("/health").handler(ctx -> ctx.response().putHeader("Content-Type", "application/json")
        .end("{\"status\":\"ok\"}"));
    router.get("/ready").handler(this::ready);
    router.get("/metrics").handler(ctx -> vertx.executeBlocking(metrics::scrape, false).onComplete(ar -> {
      if (ar.failed()) {
        HttpError.send(ctx, 500, "internal_error", "could not render metrics");
      } else {
        ctx.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(ar.result());
      }
    }));
    for (int status : new int[] {400, 404, 405, 413, 415, 500}) {
      router.errorHandler(status, ctx -> onError(ctx, status));
    }
    return router;
  }

  /**
   * Everything a reader sees: the read API and the web console (its pages, exports, live check and
   * assets). Not the webhooks, /health, /ready or /metrics.
   */
  private void readRoutes(Router router) {
    router.get("/api/v1/observations").handler(api::list);
    router.get("/api/v1/observations/:namespace/:name").handler(api::get);
    if (console != null) {
      console.mount(router);
    }
  }

  private void onError(RoutingContext ctx, int status) {
    String message = switch (status) {
      case 404 -> "no such endpoint: " + ctx.request().method() + " " + ctx.request().path();
      case 405 -> "method " + ctx.request().method() + " is not allowed on " + ctx.request().path();
      case 413 -> "the request body is larger than the limit for this endpoint";
      case 415 -> "unsupported Content-Type";
      case 400 -> "bad request" + (ctx.failure() == null ? "" : ": " + ctx.failure().getMessage());
      default -> "internal error";
    };
    if (status == 413 && ctx.pathParam("source") != null) {
      metrics.webhookEventsDropped(ctx.pathParam("source"), HttpError.reasonFor(413), 1);
    }
    HttpError.send(ctx, status, HttpError.reasonFor(status), message);
  }

  private void ready(RoutingContext ctx) {
    if (!ready.get()) {
      HttpError.send(ctx, 503, "not_ready", "not ready: starting or shutting down");
      return;
    }
    vertx.executeBlocking(store::isReachable, false).onComplete(ar -> {
      boolean ok = ar.succeeded() && Boolean.TRUE.equals(ar.result());
      JsonObject body = new JsonObject().put("status", ok ? "ready" : "not ready").put("store", storeName)
          .put("storeReachable", ok);
      readyDetails.get().forEach(body::put);
      ctx.response().setStatusCode(ok ? 200 : 503).putHeader("Content-Type", "application/json").end(body.encode());
    });
  }

  public void setReady(boolean value) {
    ready.set(value);
  }

  public boolean isReady() {
    return ready.get();
  }

  /**
   * Starts one server verticle per event loop on host:port, sharing the port; returns the port.
   * Port 0 picks a free port first (Vert.x does not share servers bound to port 0).
   */
  public Future<Integer> start(String host, int requestedPort, int instances) {
    int chosen;
    try {
      chosen = requestedPort != 0 ? requestedPort : freePort(host);
    } catch (java.io.IOException e) {
      return Future.failedFuture(e);
    }
    Supplier<AbstractVerticle> verticle = () -> new AbstractVerticle() {
      @Override
      public void start(Promise<Void> started) {
        HttpServerOptions options = new HttpServerOptions()
            .setHost(host)
            .setPort(chosen)
            .setIdleTimeout(120)
            .setMaxHeaderSize(16 * 1024)
            .setMaxInitialLineLength(8 * 1024)
            .setDecompressionSupported(true);
        vertx.createHttpServer(options).requestHandler(router()).listen()
            .onSuccess(s -> started.complete())
            .onFailure(started::fail);
      }
    };
    return vertx.deployVerticle(verticle::get, new DeploymentOptions().setInstances(instances)).map(id -> {
      deployment = id;
      port = chosen;
      return chosen;
    });
  }

  private static int freePort(String host) throws java.io.IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
      return s.getLocalPort();
    }
  }

  public int port() {
    return port;
  }

  /** Stops accepting connections. */
  public Future<Void> stop() {
    return deployment == null ? Future.succeededFuture() : vertx.undeploy(deployment);
  }
}
