package io.kubezen.watcher.http;

import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.http.error.HttpError;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Read access ({@code READ_AUTH=token}): one guard before every route, so that every GET route
 * (the read API, the console and whatever is added later) needs {@code Authorization: Bearer
 * <READ_AUTH_TOKEN>}. Not guarded: the webhooks ({@code /ingest/*}, which have their own guard),
 * {@code /health} and {@code /ready} (probes), and {@code /metrics} unless {@code METRICS_AUTH=token}.
 * The token is compared in constant time.
 */
final class ReadGuard {
  private final byte[] token; // null: reads are open
  private final boolean metrics;

  private ReadGuard(byte[] token, boolean metrics, boolean reads) {
    this.token = token;
    this.metrics = metrics;
    this.reads = reads;
  }

  static ReadGuard of(Settings.Guards g) {
    byte[] t = g.readAuth() == Settings.ReadAuth.TOKEN || g.metricsAuth()
        ? g.readAuthToken().map(s -> s.getBytes(StandardCharsets.UTF_8)).orElse(null) : null;
    return new ReadGuard(t, g.metricsAuth(), g.readAuth() == Settings.ReadAuth.TOKEN);
  }

  private final boolean reads;

  /** Whether {@code path} is guarded. */
  boolean guards(String path) {
    if (token == null || path == null) {
      return false;
    }
    if (path.startsWith("/ingest/") || path.equals("/health") || path.equals("/ready")) {
      return false;
    }
    if (path.equals("/metrics")) {
      return metrics;
    }
    return reads;
  }

  void handle(RoutingContext ctx) {
    if (!guards(ctx.request().path())) {
      ctx.next();
      return;
    }
    String header = ctx.request().getHeader("Authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"zen-watcher\"");
      HttpError.send(ctx, 401, HttpError.reasonFor(401),
          "missing 'Authorization: Bearer <token>' header (READ_AUTH=token)");
      return;
    }
    byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(given, token)) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"zen-watcher\", error=\"invalid_token\"");
      HttpError.send(ctx, 401, HttpError.reasonFor(401), "the read token is not valid");
      return;
    }
    ctx.next();
  }
}
