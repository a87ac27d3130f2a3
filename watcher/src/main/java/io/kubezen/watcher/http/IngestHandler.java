package io.kubezen.watcher.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.http.error.HttpError;
import io.kubezen.watcher.ingester.webhook.IngesterRegistry;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.pipeline.IngestResult;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.StoreException;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /ingest/<source>}: the webhook path of every source. In order: who may send (403,
 * 401, 429), method (405), source name (404), Content-Type (415), body size (413), well-formed body
 * (400), source shape (422), room to write (503); then the pipeline, and 200 with the counts only
 * once every resulting Observation is stored.
 */
public final class IngestHandler {
  private static final Logger log = LoggerFactory.getLogger(IngestHandler.class);

  /** Bodies larger than this are parsed and normalized off the event loop. */
  private static final int INLINE_BODY_BYTES = 64 * 1024;

  /** A request whose Observations are not stored by then is answered 503 (the sender retries). */
  private static final Duration STORE_TIMEOUT = Duration.ofSeconds(30);

  private final Sources sources;
  private final Pipeline pipeline;
  private final WebhookGuard guard;
  private final Metrics metrics;
  private final Settings settings;
  private final Clock clock;
  private final BooleanSupplier accepting;
  private final IngesterRegistry ingesters;
  private final Map<Long, BodyHandler> bodyHandlers = new ConcurrentHashMap<>();
  private final InflightBudget budget;
  private final java.util.concurrent.atomic.AtomicInteger inFlight =
      new java.util.concurrent.atomic.AtomicInteger();

  public IngestHandler(
      Sources sources,
      Pipeline pipeline,
      WebhookGuard guard,
      Metrics metrics,
      Settings settings,
      Clock clock,
      BooleanSupplier accepting) {
    this(sources, pipeline, guard, metrics, settings, clock, accepting, new IngesterRegistry());
  }

  /**
   * With the webhook routes Ingesters declare: a declared path takes precedence over the generic
   * source of the same name (built-in source names cannot be declared); a route with bearer or
   * basic auth checks its own credentials instead of the global token.
   */
  public IngestHandler(
      Sources sources,
      Pipeline pipeline,
      WebhookGuard guard,
      Metrics metrics,
      Settings settings,
      Clock clock,
      BooleanSupplier accepting,
      IngesterRegistry ingesters) {
    this.ingesters = ingesters;
    this.budget = new InflightBudget(settings.guards().maxInflightBytes());
    this.sources = sources;
    this.pipeline = pipeline;
    this.guard = guard;
    this.metrics = metrics;
    this.settings = settings;
    this.clock = clock;
    this.accepting = accepting;
  }

  /**
   * Runs first: refuses what can be refused before the body is read, then reads the body within its
   * limit.
   */
  public void admit(RoutingContext ctx) {
    long started = System.nanoTime();
    String name = ctx.pathParam("source");
    ctx.put("started", started);
    IngesterRegistry.Route route =
        sources.builtInNames().contains(name) ? null : ingesters.find(name).orElse(null);
    if (route != null) {
      ctx.put("route", route);
    }
    ctx.addHeadersEndHandler(
        v -> metrics.webhookRequest(known(ctx, name), ctx.response().getStatusCode()));
    inFlight.incrementAndGet();
    ctx.addEndHandler(v -> inFlight.decrementAndGet());
    if (!accepting.getAsBoolean()) {
      refuse(ctx, name, 503, "shutting down: send to another replica", 1);
      return;
    }
    String peer =
        ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress();
    String authorization = ctx.request().getHeader("Authorization");
    boolean ownAuth = route != null && route.auth().ownsAuthorization();
    WebhookGuard.Refusal refusal = guard.check(peer, authorization, started, !ownAuth);
    if (refusal != null) {
      refuse(ctx, name, refusal.status(), refusal.message(), refusal.retryAfterSeconds());
      return;
    }
    if (ownAuth) {
      String problem = route.auth().check(authorization);
      if (problem != null) {
        refuse(ctx, name, 401, problem, 0);
        return;
      }
    }
    if (ctx.request().method() != HttpMethod.POST) {
      ctx.response().putHeader("Allow", "POST");
      refuse(ctx, name, 405, "use POST to send findings to /ingest/" + name, 0);
      return;
    }
    if (route == null && sources.forName(name).isEmpty()) {
      refuse(
          ctx,
          name,
          404,
          "'" + name + "' is not a source name (lower-case letters, digits and '-', at most 40)",
          0);
      return;
    }
    BodyFormat format = BodyFormat.of(ctx.request().getHeader("Content-Type"));
    Set<BodyFormat> accepted =
        route != null
            ? Set.of(BodyFormat.JSON)
            : sources.descriptor(name).orElseThrow().bodyFormats();
    if (format == null || !accepted.contains(format)) {
      StringBuilder types = new StringBuilder();
      accepted.forEach(f -> types.append(types.length() == 0 ? "" : ", ").append(f.mediaTypes()));
      refuse(
          ctx,
          name,
          415,
          "Content-Type '"
              + ctx.request().getHeader("Content-Type")
              + "' is not accepted by /ingest/"
              + name
              + "; use "
              + types,
          0);
      return;
    }
    ctx.put("format", format);
    long limit = settings.maxBodyBytesFor(name);
    // Admission by estimated cost: reserve the body's declared size (else its limit) now, and the
    // estimate from a scan of the body once it is read (see start()).
    long declared = declaredLength(ctx);
    long reserve = declared >= 0 && declared < limit ? declared : limit;
    if (!budget.tryReserve(reserve)) {
      refuse(
          ctx,
          name,
          503,
          "too much webhook work in flight (WEBHOOK_MAX_INFLIGHT_MIB); retry shortly",
          1);
      return;
    }
    long[] reserved = {reserve};
    ctx.put("reserved", reserved);
    ctx.addEndHandler(
        v -> {
          synchronized (reserved) {
            budget.release(reserved[0]);
            reserved[0] = 0;
          }
        });
    bodyHandlers
        .computeIfAbsent(
            limit, l -> BodyHandler.create(false).setBodyLimit(l).setHandleFileUploads(false))
        .handle(ctx);
  }

  private static long declaredLength(RoutingContext ctx) {
    String v = ctx.request().getHeader("Content-Length");
    if (v == null || ctx.request().getHeader("Content-Encoding") != null) {
      return -1; // chunked, or compressed (the decompressed size is what counts)
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** The estimated bytes of webhook work in flight now (admission by cost). */
  public InflightBudget budget() {
    return budget;
  }

  /** Webhook requests being processed now. */
  public int inFlight() {
    return inFlight.get();
  }

  /** Runs once the body is read: parse, normalize, filter, dedup, write, answer. */
  public void ingest(RoutingContext ctx) {
    String name = ctx.pathParam("source");
    IngesterRegistry.Route route = ctx.get("route");
    Normalizer normalizer =
        route != null ? route.normalizer() : sources.forName(name).orElseThrow();
    boolean jsonSequence = route == null && sources.descriptor(name).orElseThrow().jsonSequence();
    Pipeline target = route != null ? route.pipeline() : pipeline;
    BodyFormat format = ctx.get("format");
    byte[] body = ctx.body().buffer() == null ? new byte[0] : ctx.body().buffer().getBytes();
    Map<String, String> params = new HashMap<>();
    ctx.queryParams().forEach(e -> params.putIfAbsent(e.getKey(), e.getValue()));
    IngestContext context = new IngestContext(clock.instant(), params);
    long[] reserved = ctx.get("reserved");
    int maxFindings = settings.guards().maxFindingsFor(name);
    Future<CompletableFuture<IngestResult>> started;
    if (body.length <= INLINE_BODY_BYTES) {
      try {
        started =
            Future.succeededFuture(
                start(
                    target,
                    normalizer,
                    format,
                    jsonSequence,
                    body,
                    context,
                    maxFindings,
                    reserved));
      } catch (RuntimeException e) {
        started = Future.failedFuture(e);
      }
    } else {
      started =
          ctx.vertx()
              .executeBlocking(
                  () ->
                      start(
                          target,
                          normalizer,
                          format,
                          jsonSequence,
                          body,
                          context,
                          maxFindings,
                          reserved),
                  false);
    }
    started.onComplete(
        ar -> {
          if (ar.failed()) {
            fail(ctx, name, ar.cause());
            return;
          }
          Vertx vertx = ctx.vertx();
          ar.result()
              .orTimeout(STORE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
              .whenComplete(
                  (result, error) ->
                      vertx.runOnContext(
                          v -> {
                            if (error != null) {
                              fail(ctx, name, error);
                            } else {
                              if (route != null) {
                                route
                                    .stats()
                                    .record(
                                        result.accepted(), result.created(), context.receivedAt());
                              }
                              answer(ctx, name, result);
                            }
                          }));
        });
  }

  private CompletableFuture<IngestResult> start(
      Pipeline target,
      Normalizer normalizer,
      BodyFormat format,
      boolean jsonSequence,
      byte[] body,
      IngestContext context,
      int maxFindings,
      long[] reserved) {
    BodyParser.Scan scan = BodyParser.scan(body, format, maxFindings);
    long estimate = scan.estimatedBytes(body.length);
    synchronized (reserved) {
      if (reserved[0] > 0 || estimate > 0) {
        if (!budget.tryResize(reserved[0], estimate)) {
          throw new BusyException(
              "too much webhook work in flight (WEBHOOK_MAX_INFLIGHT_MIB); retry shortly");
        }
        reserved[0] = estimate;
      }
    }
    JsonNode input = BodyParser.parse(body, format, jsonSequence);
    List<Finding> findings = normalizer.normalize(input, context);
    if (findings.size() > maxFindings) {
      throw new BodyParser.TooManyFindingsException(
          "the request holds "
              + findings.size()
              + " findings, more than the "
              + maxFindings
              + " one request may hold; send them in smaller batches");
    }
    return target.process(normalizer, findings);
  }

  /** Over the in-flight budget: 503 + Retry-After. */
  static final class BusyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BusyException(String message) {
      super(message, null, false, false);
    }
  }

  private void answer(RoutingContext ctx, String name, IngestResult r) {
    Long started = ctx.get("started");
    Timer timer = metrics.processing(known(ctx, name));
    timer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
    JsonObject body =
        new JsonObject()
            .put("accepted", r.accepted())
            .put("created", r.created())
            .put("aggregated", r.aggregated())
            .put("filtered", r.filtered());
    if (r.shed() > 0) {
      body.put("shed", r.shed()); // only at the MAX_OBSERVATIONS cap
    }
    ctx.response()
        .setStatusCode(200)
        .putHeader("Content-Type", "application/json")
        .end(body.encode());
  }

  private void fail(RoutingContext ctx, String name, Throwable error) {
    Throwable e =
        error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    if (e instanceof BodyParser.MalformedBodyException) {
      refuse(ctx, name, 400, e.getMessage(), 0);
    } else if (e instanceof BodyParser.TooManyFindingsException) {
      refuse(ctx, name, 413, e.getMessage() + " (WEBHOOK_MAX_FINDINGS)", 0);
    } else if (e instanceof BusyException) {
      refuse(ctx, name, 503, e.getMessage(), 1);
    } else if (e instanceof InvalidInputException) {
      refuse(ctx, name, 422, "not a valid " + name + " input: " + e.getMessage(), 0);
    } else if (e instanceof ObservationWriter.OverloadedException) {
      refuse(ctx, name, 503, "cannot take more now: " + e.getMessage(), 1);
    } else if (e instanceof io.kubezen.watcher.store.RejectedWriteException) {
      // Permanent: a retry would meet the same refusal. The other findings of the request are
      // stored.
      log.warn("the store refused a finding of {}: {}", name, e.getMessage());
      refuse(
          ctx,
          name,
          422,
          "a finding was refused by the store as invalid (do not retry; the other findings "
              + "of the request were stored): "
              + BodyParser.shorten(e.getMessage()),
          0);
    } else if (e instanceof StoreException || e instanceof TimeoutException) {
      log.warn("could not store findings of {}: {}", name, e.toString());
      refuse(
          ctx, name, 503, "the findings could not be stored; nothing was acknowledged, retry", 2);
    } else {
      log.error("unexpected error ingesting {}", name, e);
      refuse(ctx, name, 500, "internal error: " + e.getClass().getSimpleName(), 0);
    }
  }

  private void refuse(
      RoutingContext ctx, String name, int status, String message, long retryAfter) {
    metrics.webhookEventsDropped(known(ctx, name), HttpError.reasonFor(status), 1);
    if (retryAfter > 0) {
      ctx.response().putHeader("Retry-After", Long.toString(retryAfter));
    }
    HttpError.send(ctx, status, HttpError.reasonFor(status), message);
  }

  /**
   * A source name fit for a metric label: an Ingester's source, else the name; invalid names are
   * "unknown".
   */
  private String known(RoutingContext ctx, String name) {
    IngesterRegistry.Route route = ctx.get("route");
    if (route != null) {
      return route.normalizer().source();
    }
    return name != null && sources.forName(name).isPresent() ? name : "unknown";
  }
}
