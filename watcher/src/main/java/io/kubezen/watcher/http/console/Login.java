package io.kubezen.watcher.http.console;

import io.kubezen.watcher.http.auth.ReadSessions;
import io.kubezen.watcher.http.error.HttpError;
import io.vertx.core.http.Cookie;
import io.vertx.core.http.CookieSameSite;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.net.URI;
import java.util.Locale;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signing in to the console with the read token ({@code READ_AUTH=token}), for browsers, which
 * cannot send {@code Authorization: Bearer}:
 *
 * <ul>
 *   <li>{@code GET /login?next=<path>}: the form (or straight to {@code next} when already signed
 *       in);
 *   <li>{@code POST /login} ({@code token}, {@code next}; form-encoded, at most 4 KiB): refused
 *       with 403 unless its {@code Origin} is this server's own (CSRF); a right token sets the
 *       session cookie ({@link ReadSessions}: HttpOnly, SameSite=Strict, Path=/, Secure over TLS)
 *       and 303s to {@code next} when it is a local path ({@link ReadSessions#localPath}), else to
 *       {@code /}; a wrong one is answered after {@link ReadSessions#FAILURE_DELAY} with the form
 *       again (401), and more than {@link ReadSessions#MAX_FAILURES} wrong ones a minute from one
 *       address get 429;
 *   <li>{@code POST /logout}: same Origin check; ends the session on this replica, clears the
 *       cookie, 303 to {@code /login}.
 * </ul>
 */
final class Login {
  private static final Logger log = LoggerFactory.getLogger(Login.class);
  static final int BODY_LIMIT = 4096;

  private final ReadSessions sessions;
  private final String assetVersion;
  private final Function<Views.Login, String> render;

  Login(ReadSessions sessions, String assetVersion, Function<Views.Login, String> render) {
    this.sessions = sessions;
    this.assetVersion = assetVersion;
    this.render = render;
  }

  void mount(Router router) {
    router.get("/login").handler(this::form);
    // The Origin check comes first (nothing is read from another origin), then the body (at most
    // BODY_LIMIT).
    BodyHandler body =
        BodyHandler.create(false).setBodyLimit(BODY_LIMIT).setHandleFileUploads(false);
    router.post("/login").handler(ctx -> sameOrigin(ctx, body)).handler(this::signIn);
    router.post("/logout").handler(ctx -> sameOrigin(ctx, null)).handler(this::signOut);
  }

  private void form(RoutingContext ctx) {
    String next = ReadSessions.localPath(ctx.request().getParam("next"));
    Cookie c = ctx.request().getCookie(ReadSessions.COOKIE);
    if (c != null && sessions.valid(c.getValue())) {
      redirect(ctx.response(), next);
      return;
    }
    page(ctx, 200, next, null);
  }

  /**
   * CSRF: a POST must come from a page of this server (its Origin is this server's scheme, host and
   * port).
   */
  private void sameOrigin(RoutingContext ctx, BodyHandler body) {
    HttpServerRequest req = ctx.request();
    String origin = req.getHeader("Origin");
    if (!isOwnOrigin(origin, req.isSSL(), req.authority())) {
      Console.secure(ctx.response());
      HttpError.send(
          ctx,
          403,
          HttpError.reasonFor(403),
          "cross-origin POST "
              + req.path()
              + " refused: its Origin ("
              + (origin == null ? "none" : shorten(origin))
              + ") is not this server's");
      return;
    }
    if (body != null) {
      body.handle(ctx); // reads the body, then on to the next handler
    } else {
      ctx.next();
    }
  }

  static boolean isOwnOrigin(String origin, boolean tls, HostAndPort authority) {
    if (origin == null || authority == null || origin.equals("null")) {
      return false;
    }
    URI u;
    try {
      u = new URI(origin);
    } catch (java.net.URISyntaxException e) {
      return false;
    }
    String scheme = tls ? "https" : "http";
    int defaultPort = tls ? 443 : 80;
    if (!scheme.equalsIgnoreCase(u.getScheme())
        || u.getHost() == null
        || u.getRawPath() != null && !u.getRawPath().isEmpty()
        || u.getRawUserInfo() != null) {
      return false;
    }
    int originPort = u.getPort() < 0 ? defaultPort : u.getPort();
    int hostPort = authority.port() < 0 ? defaultPort : authority.port();
    return u.getHost().toLowerCase(Locale.ROOT).equals(authority.host().toLowerCase(Locale.ROOT))
        && originPort == hostPort;
  }

  private void signIn(RoutingContext ctx) {
    HttpServerRequest req = ctx.request();
    String next = ReadSessions.localPath(req.getFormAttribute("next"));
    String address = req.remoteAddress() == null ? "" : req.remoteAddress().hostAddress();
    if (!sessions.mayTry(address)) {
      ctx.response()
          .putHeader("Retry-After", Long.toString(ReadSessions.FAILURE_WINDOW.toSeconds()));
      page(ctx, 429, next, "Too many wrong tokens from this address: wait a minute and try again.");
      return;
    }
    if (!sessions.tokenMatches(req.getFormAttribute("token"))) {
      sessions.failed(address);
      log.warn("console sign-in: wrong read token from {}", address);
      ctx.vertx()
          .setTimer(
              ReadSessions.FAILURE_DELAY.toMillis(),
              t -> page(ctx, 401, next, "That is not the read token."));
      return;
    }
    HttpServerResponse r = ctx.response();
    r.addCookie(cookie(sessions.issue(), ReadSessions.TTL.toSeconds(), req.isSSL()));
    redirect(r, next);
  }

  private void signOut(RoutingContext ctx) {
    Cookie c = ctx.request().getCookie(ReadSessions.COOKIE);
    if (c != null) {
      sessions.revoke(c.getValue());
    }
    HttpServerResponse r = ctx.response();
    r.addCookie(cookie("", 0, ctx.request().isSSL()));
    redirect(r, "/login");
  }

  private static Cookie cookie(String value, long maxAge, boolean tls) {
    return Cookie.cookie(ReadSessions.COOKIE, value)
        .setPath("/")
        .setHttpOnly(true)
        .setSameSite(CookieSameSite.STRICT)
        .setSecure(tls)
        .setMaxAge(maxAge);
  }

  private static void redirect(HttpServerResponse r, String to) {
    Console.secure(r);
    r.setStatusCode(303).putHeader("Location", to).putHeader("Cache-Control", "no-store").end();
  }

  private void page(RoutingContext ctx, int status, String next, String error) {
    HttpServerResponse r = ctx.response();
    if (r.ended() || r.closed()) {
      return;
    }
    Console.secure(r);
    r.setStatusCode(status)
        .putHeader("Content-Type", "text/html; charset=utf-8")
        .putHeader("Cache-Control", "no-store")
        .end(render.apply(new Views.Login(assetVersion, next, error, ReadSessions.TTL.toHours())));
  }

  private static String shorten(String s) {
    return s.length() > 100 ? s.substring(0, 100) + "…" : s;
  }
}
