package io.kubezen.bench;

import io.vertx.core.AbstractVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;

/**
 * The baseline of webhook-load.sh: a bare Vert.x route set up like zen-watcher's (same Vert.x, one
 * server verticle per event loop, as many event loops as available processors, the same server
 * options, a Router with a BodyHandler reading the body under the same 1 MiB limit) that answers
 * every {@code POST /ingest/<source>} with 200 {@code {}} and does nothing else.
 *
 * <p>Usage: {@code java -cp benchmarks.jar io.kubezen.bench.BareServer <host> <port>}
 */
public final class BareServer {
  private BareServer() {}

  public static void main(String[] args) {
    String host = args.length > 0 ? args[0] : "127.0.0.1";
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 8081;
    int loops = Math.max(1, Runtime.getRuntime().availableProcessors());
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(loops).setWorkerPoolSize(8));
    vertx
        .deployVerticle(
            () ->
                new AbstractVerticle() {
                  @Override
                  public void start(Promise<Void> started) {
                    Router router = Router.router(vertx);
                    router
                        .post("/ingest/:source")
                        .handler(
                            BodyHandler.create(false)
                                .setBodyLimit(1024 * 1024)
                                .setHandleFileUploads(false))
                        .handler(
                            ctx ->
                                ctx.response()
                                    .setStatusCode(200)
                                    .putHeader("Content-Type", "application/json")
                                    .end("{}"));
                    router.get("/ready").handler(ctx -> ctx.response().end("{}"));
                    HttpServerOptions options =
                        new HttpServerOptions()
                            .setHost(host)
                            .setPort(port)
                            .setIdleTimeout(120)
                            .setMaxHeaderSize(16 * 1024)
                            .setMaxInitialLineLength(8 * 1024)
                            .setDecompressionSupported(true);
                    vertx
                        .createHttpServer(options)
                        .requestHandler(router)
                        .listen()
                        .onSuccess(s -> started.complete())
                        .onFailure(started::fail);
                  }
                },
            new DeploymentOptions().setInstances(loops))
        .onSuccess(
            id ->
                System.out.println(
                    "bare server ready on "
                        + host
                        + ":"
                        + port
                        + " with "
                        + loops
                        + " event loops"))
        .onFailure(
            e -> {
              System.err.println("bare server failed to start: " + e);
              System.exit(1);
            });
  }
}
