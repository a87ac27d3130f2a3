package io.kubezen.watcher.http;

import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.http.auth.ReadSessions;
import io.kubezen.watcher.http.error.HttpError;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Read access ({@code READ_AUTH=token}): one guard before every route, so that every GET route (the
 * read API, the console and whatever is added later) needs {@code Authorization: Bearer
 * <READ_AUTH_TOKEN>} or, from a browser, the signed session cookie that {@code POST /login} sets
 * ({@link ReadSessions}). Not guarded: the webhooks ({@code /ingest/*}, which have their own
 * guard), {@code /health} and {@code /ready} (probes), the sign-in routes ({@code /login}, {@code
 * /logout}) and the console's static assets ({@code /assets/*}: the stylesheet and scripts of the
 * sign-in page, no data), and {@code /metrics} unless {@code METRICS_AUTH=token} (bearer only). The
 * token is compared in constant time.
 *
 * <p>Without valid credentials a browser page request ({@code Accept: text/html}) is sent to {@code
 * /login?next=<its path>} (303; an htmx request gets {@code HX-Redirect} instead), anything else
 * gets 401 with a JSON body.
 */
final class ReadGuard {
  private final byte[] token; // null: reads are open
  private final boolean metrics;
  private final boolean reads;
  private final ReadSessions sessions; // null: reads are open

  private ReadGuard(byte[] token, boolean metrics, boolean reads, ReadSessions sessions) {
    this.token = token;
    this.metrics = metrics;
    this.reads = reads;
    this.sessions = sessions;
  }

  /**
   * @param sessions the browser sessions, used when reads are guarded (may be null otherwise)
   */
  static ReadGuard of(Settings.Guards g, ReadSessions sessions) {
    byte[] t =
        g.readAuth() == Settings.ReadAuth.TOKEN || g.metricsAuth()
            ? g.readAuthToken().map(s -> s.getBytes(StandardCharsets.UTF_8)).orElse(null)
            : null;
    boolean reads = g.readAuth() == Settings.ReadAuth.TOKEN;
    return new ReadGuard(t, g.metricsAuth(), reads, reads ? sessions : null);
  }

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
    if (path.equals("/login") || path.equals("/logout") || path.startsWith("/assets/")) {
      return false;
    }
    return reads;
  }

  void handle(RoutingContext ctx) {
    String path = ctx.request().path();
    if (!guards(path)) {
      ctx.next();
      return;
    }
    String header = ctx.request().getHeader("Authorization");
    if (header == null && sessions != null && !path.equals("/metrics")) {
      Cookie c = ctx.request().getCookie(ReadSessions.COOKIE);
      if (c != null && sessions.valid(c.getValue())) {
        ctx.next();
        return;
      }
      if (toLogin(ctx)) {
        return;
      }
    }
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"zen-watcher\"");
      HttpError.send(
          ctx,
          401,
          HttpError.reasonFor(401),
          "missing 'Authorization: Bearer <token>' header (READ_AUTH=token)"
              + (sessions != null ? "; in a browser, sign in at /login" : ""));
      return;
    }
    byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(given, token)) {
      ctx.response()
          .putHeader("WWW-Authenticate", "Bearer realm=\"zen-watcher\", error=\"invalid_token\"");
      HttpError.send(ctx, 401, HttpError.reasonFor(401), "the read token is not valid");
      return;
    }
    ctx.next();
  }

  /** A browser page without a session: to the sign-in page. False for API clients. */
  private static boolean toLogin(RoutingContext ctx) {
    HttpServerRequest req = ctx.request();
    String target =
        "/login?next="
            + URLEncoder.encode(ReadSessions.localPath(req.uri()), StandardCharsets.UTF_8);
    if ("true".equals(req.getHeader("HX-Request"))) {
      // htmx follows redirects inside its request; this makes it load the sign-in page as a page.
      ctx.response().putHeader("HX-Redirect", target);
      HttpError.send(ctx, 401, HttpError.reasonFor(401), "sign in at /login (READ_AUTH=token)");
      return true;
    }
    String accept = req.getHeader("Accept");
    if ((req.method() == io.vertx.core.http.HttpMethod.GET
            || req.method() == io.vertx.core.http.HttpMethod.HEAD)
        && accept != null
        && accept.contains("text/html")) {
      ctx.response()
          .setStatusCode(303)
          .putHeader("Location", target)
          .putHeader("Cache-Control", "no-store")
          .end();
      return true;
    }
    return false;
  }
}
