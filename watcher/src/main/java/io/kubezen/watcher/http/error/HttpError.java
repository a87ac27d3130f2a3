package io.kubezen.watcher.http.error;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** Every error answer of the HTTP API: a status and a JSON body saying what was wrong. */
public final class HttpError {
  private HttpError() {}

  /** Sends {@code {"error": <reason>, "message": <message>, "status": <status>}}. */
  public static void send(RoutingContext ctx, int status, String reason, String message) {
    if (ctx.response().ended() || ctx.response().closed()) {
      return;
    }
    if (ctx.response().headWritten()) {
      ctx.response().end();
      return;
    }
    JsonObject body =
        new JsonObject().put("error", reason).put("message", message).put("status", status);
    ctx.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(body.encode());
  }

  public static String reasonFor(int status) {
    return switch (status) {
      case 400 -> "bad_request";
      case 401 -> "unauthorized";
      case 403 -> "forbidden";
      case 404 -> "not_found";
      case 405 -> "method_not_allowed";
      case 413 -> "too_large";
      case 414 -> "uri_too_long";
      case 415 -> "unsupported_media_type";
      case 431 -> "headers_too_large";
      case 422 -> "invalid_shape";
      case 429 -> "rate_limited";
      case 503 -> "unavailable";
      default -> status >= 500 ? "internal_error" : "error";
    };
  }
}
