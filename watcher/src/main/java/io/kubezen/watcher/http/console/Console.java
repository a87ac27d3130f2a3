package io.kubezen.watcher.http.console;

import gg.jte.ContentType;
import gg.jte.TemplateEngine;
import gg.jte.output.StringOutput;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.http.auth.ReadSessions;
import io.kubezen.watcher.http.error.HttpError;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.StoreSummary;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The web console: read-only HTML pages over the store, server-rendered with precompiled jte
 * templates, enhanced by htmx and one small script of our own. Routes (all GET):
 *
 * <ul>
 *   <li>{@code /} overview, {@code /findings} list, {@code /findings/<ns>/<name>} detail, {@code
 *       /resource} resource or namespace view, {@code /sources} sources and Ingesters, {@code
 *       /report} printable report;
 *   <li>{@code /export/findings.csv} and {@code /export/findings.json}: the list's filter,
 *       streamed, every matching finding;
 *   <li>{@code /console/stamp}: the store's state tag for the live check (ETag, 304 when
 *       unchanged);
 *   <li>{@code /assets/<file>}: the stylesheet, the script and htmx, cached for a year (the pages
 *       link them with a version);
 *   <li>with {@code READ_AUTH=token} ({@link #mountLogin}): {@code GET/POST /login} and {@code POST
 *       /logout}, the browser's way in ({@link Login}).
 * </ul>
 *
 * The sources page shows the Ingesters' Ready condition through {@link IngesterConditions} ({@link
 * #withIngesters}).
 *
 * <p>Every answer carries the security headers ({@link #SECURITY_HEADERS}); every finding field is
 * escaped by the templates (jte's Html content type).
 */
public final class Console {
  private static final Logger log = LoggerFactory.getLogger(Console.class);

  /** CSP: nothing inline, nothing from elsewhere, no framing. */
  public static final String CSP =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
          + " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

  public static final Map<String, String> SECURITY_HEADERS =
      Map.of(
          "Content-Security-Policy", CSP,
          "X-Content-Type-Options", "nosniff",
          "X-Frame-Options", "DENY",
          // same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on a
          // POST, and the
          // sign-in form's CSRF check needs the real Origin; nothing goes to other sites either
          // way.
          "Referrer-Policy", "same-origin",
          "Cross-Origin-Opener-Policy", "same-origin");
  static final String HTMX =
      "META-INF/resources/webjars/htmx.org/" + webjarVersion() + "/dist/htmx.min.js";

  /** Rows per store read while exporting. */
  static final int EXPORT_PAGE = 1000;

  private record Asset(byte[] bytes, String type) {}

  private final ObservationStore store;
  private final Pages pages;
  private final TemplateEngine templates = TemplateEngine.createPrecompiled(ContentType.Html);
  private final Map<String, Asset> assets = new LinkedHashMap<>();
  private final String assetVersion;
  private final Clock clock;

  public Console(
      ObservationStore store,
      Clock clock,
      Supplier<Map<String, Object>> readyDetails,
      String storeName) {
    this.store = store;
    this.clock = clock;
    assets.put(
        "console.css", new Asset(resource("console/console.css"), "text/css; charset=utf-8"));
    assets.put(
        "console.js", new Asset(resource("console/console.js"), "text/javascript; charset=utf-8"));
    assets.put("htmx.min.js", new Asset(resource(HTMX), "text/javascript; charset=utf-8"));
    this.assetVersion = version(assets);
    this.pages = new Pages(store, clock, assetVersion, readyDetails, storeName);
  }

  /** The Ingesters whose Ready condition the sources page shows (none by default). */
  public Console withIngesters(IngesterConditions conditions) {
    pages.ingesters = conditions == null ? IngesterConditions.NONE : conditions;
    return this;
  }

  /** Adds the console's routes to {@code router}: one place for an access guard to wrap. */
  public void mount(Router router) {
    router.get("/assets/:file").handler(this::asset);
    router
        .get("/")
        .handler(
            ctx ->
                page(ctx, "overview.jte", () -> pages.overview(ctx.request().getParam("range"))));
    router
        .get("/findings")
        .handler(
            ctx -> {
              ConsoleQuery q = query(ctx);
              if (q != null) {
                page(ctx, "findings.jte", () -> pages.findings(q));
              }
            });
    router
        .get("/findings/:namespace/:name")
        .handler(
            ctx -> {
              String ns = ctx.pathParam("namespace");
              String name = ctx.pathParam("name");
              render(
                  ctx,
                  () -> pages.detail(ns, name).map(d -> html("detail.jte", d)).orElse(null),
                  "no Observation " + ns + "/" + name);
            });
    router
        .get("/resource")
        .handler(
            ctx -> {
              ConsoleQuery q = query(ctx);
              if (q != null) {
                page(ctx, "resource.jte", () -> pages.resource(q));
              }
            });
    router.get("/sources").handler(ctx -> page(ctx, "sources.jte", pages::sources));
    router
        .get("/report")
        .handler(
            ctx -> {
              ConsoleQuery q = query(ctx);
              if (q != null) {
                page(ctx, "report.jte", () -> pages.report(q));
              }
            });
    router.get("/export/findings.csv").handler(ctx -> export(ctx, Export.CSV));
    router.get("/export/findings.json").handler(ctx -> export(ctx, Export.JSON));
    router.get("/console/stamp").handler(this::stamp);
  }

  /**
   * READ_AUTH=token: the sign-in routes ({@code GET/POST /login}, {@code POST /logout}, see {@link
   * Login}) and a sign-out button on every page. Before {@link #mount}.
   */
  public void mountLogin(Router router, ReadSessions sessions) {
    pages.signOut = true;
    new Login(sessions, assetVersion, m -> html("login.jte", m)).mount(router);
  }

  /** Puts the security headers on a response. */
  public static void secure(HttpServerResponse r) {
    SECURITY_HEADERS.forEach(r::putHeader);
  }

  private ConsoleQuery query(RoutingContext ctx) {
    try {
      return ConsoleQuery.parse(ctx.request()::getParam);
    } catch (IllegalArgumentException e) {
      fail(ctx, 400, "bad_request", e.getMessage());
      return null;
    }
  }

  private void fail(RoutingContext ctx, int status, String reason, String message) {
    secure(ctx.response());
    HttpError.send(ctx, status, reason, message);
  }

  private String html(String template, Object model) {
    StringOutput out = new StringOutput();
    templates.render(template, model, out);
    return out.toString();
  }

  private void page(RoutingContext ctx, String template, Callable<Object> model) {
    render(ctx, () -> html(template, model.call()), null);
  }

  /** Renders off the event loop; a null page is a 404 with {@code notFound}. */
  private void render(RoutingContext ctx, Callable<String> work, String notFound) {
    ctx.vertx()
        .executeBlocking(work::call, false)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                failure(ctx, ar.cause());
                return;
              }
              if (ar.result() == null) {
                fail(ctx, 404, "not_found", notFound);
                return;
              }
              HttpServerResponse r = ctx.response();
              secure(r);
              r.putHeader("Content-Type", "text/html; charset=utf-8")
                  .putHeader("Cache-Control", "no-store")
                  .end(ar.result());
            });
  }

  private void failure(RoutingContext ctx, Throwable cause) {
    Throwable c =
        cause instanceof gg.jte.TemplateException && cause.getCause() != null
            ? cause.getCause()
            : cause;
    if (c instanceof InvalidContinueTokenException || c instanceof IllegalArgumentException) {
      fail(ctx, 400, "bad_request", c.getMessage());
    } else if (c instanceof StoreException) {
      log.warn("console: the store could not be read: {}", c.toString());
      fail(ctx, 503, "unavailable", "the store could not be read: " + c.getMessage());
    } else {
      log.warn("console: rendering failed", c);
      fail(ctx, 500, "internal_error", "the page could not be rendered");
    }
  }

  private void stamp(RoutingContext ctx) {
    ctx.vertx()
        .executeBlocking(store::summary, false)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                failure(ctx, ar.cause());
                return;
              }
              StoreSummary s = ar.result();
              String etag = "\"" + s.tag() + "\"";
              HttpServerResponse r = ctx.response();
              secure(r);
              r.putHeader("ETag", etag).putHeader("Cache-Control", "no-cache");
              if (etag.equals(ctx.request().getHeader("If-None-Match"))) {
                r.setStatusCode(304).end();
                return;
              }
              JsonObject body =
                  new JsonObject()
                      .put("tag", s.tag())
                      .put("total", s.total())
                      .put("resolved", s.resolved())
                      .put("asOf", clock.instant().toString());
              r.putHeader("Content-Type", "application/json").end(body.encode());
            });
  }

  private void asset(RoutingContext ctx) {
    Asset a = assets.get(ctx.pathParam("file"));
    HttpServerResponse r = ctx.response();
    secure(r);
    if (a == null) {
      HttpError.send(ctx, 404, "not_found", "no such asset");
      return;
    }
    String etag = "\"" + assetVersion + "\"";
    r.putHeader("ETag", etag);
    // Pages link assets as /assets/<file>?v=<version>: a new build has new URLs.
    r.putHeader(
        "Cache-Control",
        assetVersion.equals(ctx.request().getParam("v"))
            ? "public, max-age=31536000, immutable"
            : "public, max-age=300");
    if (etag.equals(ctx.request().getHeader("If-None-Match"))) {
      r.setStatusCode(304).end();
      return;
    }
    r.putHeader("Content-Type", a.type()).end(Buffer.buffer(a.bytes()));
  }

  // ---------------------------------------------------------------- export

  enum Export {
    CSV,
    JSON
  }

  /**
   * Streams every finding matching the list's filter, one store page at a time: the next page is
   * read when the previous one is written and the connection can take more (back-pressure).
   */
  private void export(RoutingContext ctx, Export kind) {
    ConsoleQuery q = query(ctx);
    if (q == null) {
      return;
    }
    FindingsQuery first;
    try {
      first = new FindingsQuery(q.filter(clock.instant()), q.sort(), EXPORT_PAGE, null);
    } catch (IllegalArgumentException e) {
      fail(ctx, 400, "bad_request", e.getMessage());
      return;
    }
    String stamp = clock.instant().toString().replace(":", "").replace("-", "");
    exportPage(ctx, kind, first, true, stamp);
  }

  private void exportPage(
      RoutingContext ctx, Export kind, FindingsQuery query, boolean first, String stamp) {
    ctx.vertx()
        .executeBlocking(
            () -> {
              ObservationPage page = store.findings(query);
              StringBuilder b = new StringBuilder();
              if (first) {
                b.append(
                    kind == Export.CSV
                        ? Csv.header()
                        : "{\"apiVersion\":\""
                            + Observation.API_VERSION
                            + "\",\"kind\":\"ObservationList\",\"items\":[");
              }
              boolean firstItem = first;
              for (Observation o : page.items()) {
                if (kind == Export.CSV) {
                  b.append(Csv.row(o));
                } else {
                  if (!firstItem) {
                    b.append(',');
                  }
                  b.append(Json.MAPPER.writeValueAsString(o));
                }
                firstItem = false;
              }
              return Map.entry(page, b.toString());
            },
            false)
        .onComplete(
            ar -> {
              HttpServerResponse r = ctx.response();
              if (ar.failed()) {
                if (first) {
                  failure(ctx, ar.cause());
                } else {
                  log.warn("console export stopped: {}", ar.cause().toString());
                  r.reset();
                }
                return;
              }
              if (r.closed()) {
                return;
              }
              if (first) {
                secure(r);
                r.setChunked(true).putHeader("Cache-Control", "no-store");
                r.putHeader(
                    "Content-Type",
                    kind == Export.CSV ? "text/csv; charset=utf-8" : "application/json");
                r.putHeader(
                    "Content-Disposition",
                    "attachment; filename=\"findings-"
                        + stamp
                        + "."
                        + (kind == Export.CSV ? "csv" : "json")
                        + "\"");
              }
              ObservationPage page = ar.result().getKey();
              String chunk = ar.result().getValue();
              boolean last = page.continueToken() == null;
              String out = chunk; // a JSON page after the first starts with its separator
              if (last) {
                r.end(kind == Export.JSON ? out + "]}" : out);
                return;
              }
              FindingsQuery next =
                  new FindingsQuery(
                      query.filter(), query.sort(), query.limit(), page.continueToken());
              r.write(out);
              if (r.writeQueueFull()) {
                r.drainHandler(v -> exportPage(ctx, kind, next, false, stamp));
              } else {
                exportPage(ctx, kind, next, false, stamp);
              }
            });
  }

  // ---------------------------------------------------------------- helpers

  private static byte[] resource(String path) {
    try (InputStream in = Console.class.getClassLoader().getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("console asset missing from the jar: " + path);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new IllegalStateException("console asset unreadable: " + path, e);
    }
  }

  private static String version(Map<String, Asset> assets) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      for (Asset a : assets.values()) {
        d.update(a.bytes());
      }
      return HexFormat.of().formatHex(d.digest()).substring(0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The htmx webjar's version, from its pom properties in the jar. */
  private static String webjarVersion() {
    String props = "META-INF/maven/org.webjars.npm/htmx.org/pom.properties";
    try (InputStream in = Console.class.getClassLoader().getResourceAsStream(props)) {
      if (in == null) {
        throw new IllegalStateException("htmx webjar missing: " + props);
      }
      java.util.Properties p = new java.util.Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
