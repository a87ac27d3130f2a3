package io.kubezen.watcher.http;

import io.kubezen.watcher.http.auth.ReadSessions;
import io.kubezen.watcher.http.error.HttpError;
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
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(WebServer.class);
  private final Vertx vertx;
  private final IngestHandler ingest;
  private final ObservationsApi api;
  private final ObservationStore store;
  private final Metrics metrics;
  private final String storeName;
  private final AtomicBoolean ready = new AtomicBoolean(false);
  private volatile boolean reader;
  private volatile String deployment;
  private volatile int port = -1;

  private final Supplier<java.util.Map<String, Object>> readyDetails;
  private volatile io.kubezen.watcher.config.Settings.Guards guards;
  private final java.util.concurrent.atomic.AtomicInteger connections =
      new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicLong refusedConnections =
      new java.util.concurrent.atomic.AtomicLong();
  private final ClientFaultLog clientFaults = ClientFaultLog.INSTANCE;

  private final io.kubezen.watcher.http.console.Console console;

  public WebServer(
      Vertx vertx,
      IngestHandler ingest,
      ObservationsApi api,
      ObservationStore store,
      Metrics metrics,
      String storeName,
      Supplier<java.util.Map<String, Object>> readyDetails) {
    this(vertx, ingest, api, store, metrics, storeName, readyDetails, null);
  }

  /**
   * @param console the web console, or null for none
   */
  public WebServer(
      Vertx vertx,
      IngestHandler ingest,
      ObservationsApi api,
      ObservationStore store,
      Metrics metrics,
      String storeName,
      Supplier<java.util.Map<String, Object>> readyDetails,
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

  /**
   * The limits and access settings of issue 10 (read access, connection cap, header timeout); set
   * before {@link #start}. Without them: no read token, no connection cap beyond the defaults.
   */
  public WebServer withGuards(io.kubezen.watcher.config.Settings.Guards value) {
    this.guards = value;
    return this;
  }

  private io.kubezen.watcher.config.Settings.Guards guards() {
    io.kubezen.watcher.config.Settings.Guards g = guards;
    return g != null ? g : io.kubezen.watcher.config.Settings.fromEnv(java.util.Map.of()).guards();
  }

  public Router router() {
    Router router = Router.router(vertx);
    // One guard for reads: everything but the webhooks, /health and /ready (and /metrics unless
    // METRICS_AUTH=token), so routes added later (the console) are covered without more code.
    ReadSessions sessions = sessions();
    ReadGuard readGuard = ReadGuard.of(guards(), sessions);
    router.route().handler(readGuard::handle);
    if (reader) {
      router
          .route("/ingest/:source")
          .handler(
              ctx ->
                  HttpError.send(
                      ctx,
                      404,
                      "not_found",
                      "this zen-watcher is a read-only viewer (MODE=reader): send findings to a watcher of the cluster"));
    } else {
      router.route("/ingest/:source").handler(ingest::admit).handler(ingest::ingest);
    }
    readRoutes(router);
    router
        .get("/health")
        .handler(
            ctx ->
                ctx.response()
                    .putHeader("Content-Type", "application/json")
                    .end("{\"status\":\"ok\"}"));
    router.get("/ready").handler(this::ready);
    router
        .get("/metrics")
        .handler(
            ctx ->
                vertx
                    .executeBlocking(metrics::scrape, false)
                    .onComplete(
                        ar -> {
                          if (ar.failed()) {
                            HttpError.send(ctx, 500, "internal_error", "could not render metrics");
                          } else {
                            ctx.response()
                                .putHeader(
                                    "Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                                .end(ar.result());
                          }
                        }));
    for (int status :
        new int[] {400, 401, 403, 404, 405, 408, 413, 414, 415, 429, 431, 500, 501, 503}) {
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
      ReadSessions sessions = sessions();
      if (sessions != null) {
        console.mountLogin(router, sessions); // READ_AUTH=token: a browser signs in with the token
      }
      console.mount(router);
    }
  }

  private ReadSessions sessions;

  /**
   * The browser sessions of READ_AUTH=token (one for all event loops), or null when reads are open.
   */
  private synchronized ReadSessions sessions() {
    io.kubezen.watcher.config.Settings.Guards g = guards();
    if (g.readAuth() != io.kubezen.watcher.config.Settings.ReadAuth.TOKEN
        || g.readAuthToken().isEmpty()) {
      return null;
    }
    if (sessions == null) {
      sessions = new ReadSessions(g.readAuthToken().get(), java.time.Clock.systemUTC());
    }
    return sessions;
  }

  private void onError(RoutingContext ctx, int status) {
    String message =
        switch (status) {
          case 404 -> "no such endpoint: " + ctx.request().method() + " " + ctx.request().path();
          case 405 ->
              "method " + ctx.request().method() + " is not allowed on " + ctx.request().path();
          case 413 -> "the request body is larger than the limit for this endpoint";
          case 415 -> "unsupported Content-Type";
          case 400 ->
              "bad request"
                  + (ctx.failure() == null
                      ? ""
                      : ": " + BodyParser.shorten(ctx.failure().getMessage()));
          default -> status == 500 ? "internal error" : "request refused";
        };
    if (status == 500 && ctx.failure() != null) {
      if (ClientFaultLog.isClientFault(ctx.failure())) {
        // A client that went away, a malformed chunk, a reset stream: not our error, no stack
        // trace.
        clientFaults.record(ctx.failure());
        if (!ctx.response().ended() && !ctx.response().closed() && !ctx.response().headWritten()) {
          HttpError.send(
              ctx,
              400,
              HttpError.reasonFor(400),
              "bad request: " + BodyParser.shorten(ctx.failure().toString()));
        }
        return;
      }
      log.error(
          "unexpected error serving {} {}",
          ctx.request().method(),
          ctx.request().path(),
          ctx.failure());
    }
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
    vertx
        .executeBlocking(store::isReachable, false)
        .onComplete(
            ar -> {
              boolean ok = ar.succeeded() && Boolean.TRUE.equals(ar.result());
              JsonObject body =
                  new JsonObject()
                      .put("status", ok ? "ready" : "not ready")
                      .put("store", storeName)
                      .put("storeReachable", ok);
              readyDetails.get().forEach(body::put);
              ctx.response()
                  .setStatusCode(ok ? 200 : 503)
                  .putHeader("Content-Type", "application/json")
                  .end(body.encode());
            });
  }

  /**
   * A request the HTTP decoder could not read (bad request line, header too large, unknown
   * version): JSON too.
   */
  private void invalidRequest(io.vertx.core.http.HttpServerRequest req) {
    io.netty.handler.codec.DecoderResult result = req.decoderResult();
    Throwable cause = result == null ? null : result.cause();
    int status;
    String message;
    if (cause instanceof io.netty.handler.codec.TooLongFrameException) {
      status = cause instanceof io.netty.handler.codec.http.TooLongHttpLineException ? 414 : 431;
      message =
          status == 414 ? "the request line is too long" : "the request headers are too large";
    } else if (req.version() == null) {
      status = 505;
      message =
          "only HTTP/1.0 and HTTP/1.1 are served on this port (and HTTP/2 by upgrade or prior knowledge)";
    } else {
      status = 400;
      message =
          "bad request: "
              + (cause == null
                  ? "the request could not be read"
                  : BodyParser.shorten(cause.toString()));
    }
    clientFaults.record("invalid request: " + message);
    JsonObject body =
        new JsonObject()
            .put(
                "error", status == 505 ? "http_version_not_supported" : HttpError.reasonFor(status))
            .put("message", message)
            .put("status", status);
    req.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .putHeader("Connection", "close")
        .end(body.encode());
  }

  private void unsupportedVersion(io.vertx.core.http.HttpServerRequest req, String version) {
    clientFaults.record(
        "unsupported HTTP version in the request line: " + BodyParser.shorten(version));
    JsonObject body =
        new JsonObject()
            .put("error", "http_version_not_supported")
            .put(
                "message",
                "'"
                    + BodyParser.shorten(version)
                    + "' is not served: use HTTP/1.1 (or HTTP/2 by upgrade or "
                    + "prior knowledge)")
            .put("status", 505);
    req.response()
        .setStatusCode(505)
        .putHeader("Content-Type", "application/json")
        .putHeader("Connection", "close")
        .end(body.encode());
  }

  /** Open HTTP connections now. */
  public int connections() {
    return connections.get();
  }

  /** Connections closed at once because of HTTP_MAX_CONNECTIONS. */
  public long refusedConnections() {
    return refusedConnections.get();
  }

  /** A read-only viewer (MODE=reader): webhooks answer 404. Set before {@link #start}. */
  public void setReader(boolean value) {
    reader = value;
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
    Supplier<AbstractVerticle> verticle =
        () ->
            new AbstractVerticle() {
              @Override
              public void start(Promise<Void> started) {
                HttpServerOptions options =
                    new HttpServerOptions()
                        .setHost(host)
                        .setPort(chosen)
                        .setIdleTimeout(120)
                        .setMaxHeaderSize(16 * 1024)
                        .setMaxInitialLineLength(8 * 1024)
                        .setDecompressionSupported(true);
                io.kubezen.watcher.config.Settings.Guards g = guards();
                Router router = router();
                long headerTimeoutMillis = g.headerTimeout().toMillis();
                new GuardedHttpServer(
                        (io.vertx.core.impl.VertxInternal) vertx,
                        options,
                        connections,
                        refusedConnections,
                        g.maxConnections(),
                        headerTimeoutMillis,
                        clientFaults)
                    .connectionHandler(
                        conn -> {
                          conn.exceptionHandler(clientFaults::record);
                          if (conn instanceof io.vertx.core.net.impl.ConnectionBase base) {
                            VersionCheck.headSeen(
                                base.channel()); // Vert.x calls this once a first head is read
                          }
                        })
                    .exceptionHandler(clientFaults::record)
                    .invalidRequestHandler(
                        req -> {
                          if (req.connection()
                              instanceof io.vertx.core.net.impl.ConnectionBase base) {
                            VersionCheck.headSeen(base.channel());
                          }
                          invalidRequest(req);
                        })
                    .requestHandler(
                        req -> {
                          if (req.connection()
                              instanceof io.vertx.core.net.impl.ConnectionBase base) {
                            VersionCheck.headSeen(base.channel());
                          }
                          String unsupported = req.getHeader(VersionCheck.MARK);
                          if (unsupported != null) {
                            unsupportedVersion(req, unsupported);
                            return;
                          }
                          router.handle(req);
                        })
                    .listen()
                    .onSuccess(s -> started.complete())
                    .onFailure(started::fail);
              }
            };
    return vertx
        .deployVerticle(verticle::get, new DeploymentOptions().setInstances(instances))
        .map(
            id -> {
              deployment = id;
              port = chosen;
              return chosen;
            });
  }

  private static int freePort(String host) throws java.io.IOException {
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
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
