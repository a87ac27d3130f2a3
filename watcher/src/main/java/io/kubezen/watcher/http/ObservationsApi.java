package io.kubezen.watcher.http;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.http.error.HttpError;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.vertx.ext.web.RoutingContext;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read API: {@code GET /api/v1/observations} (filters {@code source}, {@code severity}, {@code
 * category}, {@code namespace}, {@code eventType}, {@code cluster} (postgres store); paging {@code
 * limit}, {@code continue}), newest first, as an ObservationList; and {@code GET
 * /api/v1/observations/<namespace>/<name>} (with {@code ?cluster=} to pick a cluster's). Store
 * reads are blocking and run off the event loop.
 */
public final class ObservationsApi {
  private static final Logger log = LoggerFactory.getLogger(ObservationsApi.class);
  private final ObservationStore store;

  public ObservationsApi(ObservationStore store) {
    this.store = store;
  }

  public void list(RoutingContext ctx) {
    ObservationQuery query;
    try {
      query = query(ctx);
      if (query.cluster() != null && !store.holdsClusters()) {
        throw new IllegalArgumentException(
            "cluster: this store holds one cluster's Observations; the cluster filter"
                + " needs the postgres store");
      }
    } catch (IllegalArgumentException e) {
      HttpError.send(ctx, 400, "bad_request", e.getMessage());
      return;
    }
    ctx.vertx()
        .executeBlocking(() -> store.list(query), false)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                if (ar.cause() instanceof InvalidContinueTokenException) {
                  HttpError.send(ctx, 400, "bad_request", ar.cause().getMessage());
                } else {
                  log.warn("listing Observations failed: {}", ar.cause().toString());
                  HttpError.send(
                      ctx,
                      503,
                      "unavailable",
                      "the store could not be read: " + ar.cause().getMessage());
                }
                return;
              }
              ObservationPage page = ar.result();
              Map<String, Object> list = new LinkedHashMap<>();
              list.put("apiVersion", Observation.API_VERSION);
              list.put("kind", "ObservationList");
              Map<String, Object> meta = new LinkedHashMap<>();
              if (page.continueToken() != null) {
                meta.put("continue", page.continueToken());
              }
              list.put("metadata", meta);
              list.put("items", page.items());
              json(ctx, list);
            });
  }

  public void get(RoutingContext ctx) {
    String ns = ctx.pathParam("namespace");
    String name = ctx.pathParam("name");
    String cluster = param(ctx, "cluster");
    ctx.vertx()
        .executeBlocking(() -> store.get(cluster, ns, name), false)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                HttpError.send(
                    ctx,
                    503,
                    "unavailable",
                    "the store could not be read: " + ar.cause().getMessage());
                return;
              }
              Optional<Observation> o = ar.result();
              if (o.isEmpty()) {
                HttpError.send(
                    ctx,
                    404,
                    "not_found",
                    "no Observation "
                        + ns
                        + "/"
                        + name
                        + (cluster == null ? "" : " in cluster " + cluster));
                return;
              }
              json(ctx, o.get());
            });
  }

  static ObservationQuery query(RoutingContext ctx) {
    String severity = param(ctx, "severity");
    if (severity != null && Severity.parse(severity).isEmpty()) {
      throw new IllegalArgumentException(
          "severity must be one of critical, high, medium, low, info");
    }
    String category = param(ctx, "category");
    if (category != null && Category.parse(category).isEmpty()) {
      throw new IllegalArgumentException(
          "category must be one of security, compliance, performance, operations, cost");
    }
    String limitText = param(ctx, "limit");
    int limit = ObservationQuery.DEFAULT_LIMIT;
    if (limitText != null) {
      try {
        limit = Integer.parseInt(limitText);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > ObservationQuery.MAX_LIMIT) {
        throw new IllegalArgumentException(
            "limit must be a whole number from 1 to " + ObservationQuery.MAX_LIMIT);
      }
    }
    return new ObservationQuery(
        param(ctx, "source"),
        severity == null ? null : Severity.parse(severity).get().wire(),
        category == null ? null : Category.parse(category).get().wire(),
        param(ctx, "namespace"),
        param(ctx, "eventType"),
        limit,
        param(ctx, "continue"),
        param(ctx, "cluster"));
  }

  private static String param(RoutingContext ctx, String name) {
    String v = ctx.request().getParam(name);
    return v == null || v.isBlank() ? null : v;
  }

  private static void json(RoutingContext ctx, Object value) {
    String body;
    try {
      body = Json.MAPPER.writeValueAsString(value);
    } catch (Exception e) {
      HttpError.send(ctx, 500, "internal_error", "could not encode the answer");
      return;
    }
    ctx.response().putHeader("Content-Type", "application/json").end(body);
  }
}
