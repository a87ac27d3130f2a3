package io.kubezen.watcher.testing;

import io.fabric8.kubernetes.client.Config;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback HTTP proxy in front of a real API server that authorizes every request as Kubernetes
 * RBAC would for one ServiceAccount ({@link RbacAuthorizer}), for a test API server that has no
 * RBAC of its own. A refused request gets the API server's 403 Forbidden Status; an allowed one is
 * forwarded over HTTPS with the upstream credentials and its response streamed back (watches too).
 *
 * <p>Every request is logged as {@code VERB resource[.group][/subresource] namespace=<ns or *>
 * <METHOD path>} (non-resource requests show their path as the resource), the refused ones again in
 * {@link #denied()}.
 *
 * <p>HTTP/1.1 upgrades (fabric8 runs its watches over WebSocket by default) are authorized like any
 * request, then tunnelled byte for byte once the API server switches protocols.
 */
public final class RbacProxy implements AutoCloseable {
  /** Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself. */
  private static final Set<String> NOT_FORWARDED =
      Set.of(
          "connection",
          "keep-alive",
          "proxy-authenticate",
          "proxy-authorization",
          "proxy-connection",
          "te",
          "trailer",
          "transfer-encoding",
          "upgrade",
          "host",
          "expect");

  private final Vertx vertx;
  private final HttpServer server;
  private final HttpClient client;
  private final RbacAuthorizer authorizer;
  private final Upstream upstream;
  private final List<String> requests = new ArrayList<>();
  private final List<String> denied = new ArrayList<>();
  private final AtomicInteger inFlight = new AtomicInteger();

  private record Upstream(
      String host, int port, boolean ssl, String basePath, String authorization) {}

  private RbacProxy(Vertx vertx, HttpClient client, Upstream upstream, RbacAuthorizer authorizer) {
    this.vertx = vertx;
    this.client = client;
    this.upstream = upstream;
    this.authorizer = authorizer;
    this.server =
        vertx.createHttpServer(
            new HttpServerOptions()
                .setHost("127.0.0.1")
                .setPort(0)
                .setHandle100ContinueAutomatically(true)
                .setMaxInitialLineLength(64 * 1024)
                .setMaxHeaderSize(64 * 1024));
    server.requestHandler(this::handle);
  }

  /**
   * Starts a proxy on a free loopback port in front of the API server {@code upstream} describes.
   */
  public static RbacProxy start(Config upstream, RbacAuthorizer authorizer) {
    URI master = URI.create(upstream.getMasterUrl());
    boolean ssl = "https".equalsIgnoreCase(master.getScheme());
    int port = master.getPort() != -1 ? master.getPort() : ssl ? 443 : 80;
    String basePath = master.getRawPath() == null ? "" : master.getRawPath().replaceAll("/+$", "");
    String authorization = null;
    if (upstream.getOauthToken() != null && !upstream.getOauthToken().isEmpty()) {
      authorization = "Bearer " + upstream.getOauthToken();
    } else if (upstream.getUsername() != null && upstream.getPassword() != null) {
      authorization =
          "Basic "
              + Base64.getEncoder()
                  .encodeToString(
                      (upstream.getUsername() + ":" + upstream.getPassword())
                          .getBytes(StandardCharsets.UTF_8));
    }
    HttpClientOptions options =
        new HttpClientOptions()
            .setSsl(ssl)
            .setKeepAlive(true)
            .setDefaultHost(master.getHost())
            .setDefaultPort(port);
    if (ssl) {
      configureTls(options, upstream);
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2).setWorkerPoolSize(1));
    try {
      // Watches hold an upstream connection each for as long as they run: the default pool of 5
      // would queue every request behind a handful of informers.
      HttpClient client =
          vertx
              .httpClientBuilder()
              .with(options)
              .with(new PoolOptions().setHttp1MaxSize(512))
              .build();
      RbacProxy proxy =
          new RbacProxy(
              vertx,
              client,
              new Upstream(master.getHost(), port, ssl, basePath, authorization),
              authorizer);
      proxy.server.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      return proxy;
    } catch (Exception e) {
      vertx.close();
      throw new IllegalStateException("cannot start the RBAC proxy", e);
    }
  }

  private static void configureTls(HttpClientOptions options, Config upstream) {
    if (upstream.isTrustCerts()) {
      options.setTrustAll(true).setVerifyHost(false);
    } else {
      options.setVerifyHost(!upstream.isDisableHostnameVerification());
      PemTrustOptions trust = new PemTrustOptions();
      if (upstream.getCaCertFile() != null) {
        trust.addCertPath(existing(upstream.getCaCertFile()));
        options.setTrustOptions(trust);
      } else if (upstream.getCaCertData() != null) {
        trust.addCertValue(base64(upstream.getCaCertData()));
        options.setTrustOptions(trust);
      } // else: the JVM's default trust store
    }
    boolean cert = upstream.getClientCertFile() != null || upstream.getClientCertData() != null;
    if (cert) {
      PemKeyCertOptions keyCert = new PemKeyCertOptions();
      if (upstream.getClientCertFile() != null) {
        keyCert.setCertPath(existing(upstream.getClientCertFile()));
      } else {
        keyCert.setCertValue(base64(upstream.getClientCertData()));
      }
      if (upstream.getClientKeyFile() != null) {
        keyCert.setKeyPath(existing(upstream.getClientKeyFile()));
      } else if (upstream.getClientKeyData() != null) {
        keyCert.setKeyValue(base64(upstream.getClientKeyData()));
      } else {
        throw new IllegalArgumentException(
            "the upstream config has a client certificate but no key");
      }
      options.setKeyCertOptions(keyCert);
    }
  }

  private static String existing(String file) {
    if (!Files.isReadable(Path.of(file))) {
      throw new IllegalArgumentException("cannot read " + file);
    }
    return file;
  }

  private static Buffer base64(String data) {
    return Buffer.buffer(Base64.getMimeDecoder().decode(data));
  }

  public int port() {
    return server.actualPort();
  }

  /** {@code http://127.0.0.1:<port>} */
  public String url() {
    return "http://127.0.0.1:" + port();
  }

  /**
   * Every request received so far, in order, as {@code VERB resource[.group][/sub] namespace=<ns|*>
   * <METHOD path>}.
   */
  public List<String> requests() {
    synchronized (requests) {
      return List.copyOf(requests);
    }
  }

  /** The refused requests, in the same form. */
  public List<String> denied() {
    synchronized (requests) {
      return List.copyOf(denied);
    }
  }

  public void clearLog() {
    synchronized (requests) {
      requests.clear();
      denied.clear();
    }
  }

  /** Requests forwarded upstream whose response has not finished yet (open watches among them). */
  int inFlight() {
    return inFlight.get();
  }

  /**
   * Writes a kubeconfig for the proxy (no credentials; current context's namespace is the
   * ServiceAccount's) to {@code dir/rbac-proxy.kubeconfig} and returns its path.
   */
  public Path writeKubeconfig(Path dir) {
    try {
      Files.createDirectories(dir);
      Path file = dir.resolve("rbac-proxy.kubeconfig");
      Files.writeString(file, kubeconfig());
      return file;
    } catch (IOException e) {
      throw new IllegalStateException("cannot write a kubeconfig to " + dir, e);
    }
  }

  /**
   * A fabric8 client configuration for the proxy (built from the kubeconfig alone: nothing from the
   * environment).
   */
  public Config clientConfig() {
    return Config.fromKubeconfig(kubeconfig());
  }

  private String kubeconfig() {
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: rbac-proxy
          cluster:
            server: %s
        users:
        - name: rbac-proxy
          user: {}
        contexts:
        - name: rbac-proxy
          context:
            cluster: rbac-proxy
            user: rbac-proxy
            namespace: %s
        current-context: rbac-proxy
        """
        .formatted(url(), authorizer.serviceAccountNamespace());
  }

  @Override
  public void close() {
    try {
      server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      client.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      // closing anyway
    } finally {
      try {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // best effort
      }
    }
  }

  // request handling

  private void handle(HttpServerRequest req) {
    req.pause();
    String uri = req.uri();
    String path = uri.indexOf('?') < 0 ? uri : uri.substring(0, uri.indexOf('?'));
    RequestAttributes a;
    try {
      a = RequestAttributes.parse(req.method().name(), uri);
    } catch (IllegalArgumentException e) {
      record("invalid namespace=* " + req.method().name() + " " + path, true);
      req.resume();
      status(
          req.response(),
          500,
          "InternalError",
          "Internal error occurred: " + e.getMessage(),
          new JsonObject());
      return;
    }
    RbacAuthorizer.Decision decision = authorizer.authorize(a);
    record(line(a, req.method().name(), path), !decision.allowed());
    if (!decision.allowed()) {
      req.resume();
      forbidden(req.response(), a, decision.reason());
      return;
    }
    forward(req);
  }

  private void record(String line, boolean refused) {
    synchronized (requests) {
      requests.add(line);
      if (refused) {
        denied.add(line);
      }
    }
  }

  static String line(RequestAttributes a, String method, String path) {
    String what;
    if (a.isResourceRequest()) {
      what =
          a.resource()
              + (a.apiGroup().isEmpty() ? "" : "." + a.apiGroup())
              + (a.subresource().isEmpty() ? "" : "/" + a.subresource());
    } else {
      what = a.path();
    }
    return a.verb()
        + " "
        + what
        + " namespace="
        + (a.namespace().isEmpty() ? "*" : a.namespace())
        + " "
        + method
        + " "
        + path;
  }

  /**
   * The Status message of a refused request, as apierrors.NewForbidden words it: {@code
   * <resource>[.<group>][ "<name>"] is forbidden: <reason>}, or {@code forbidden: <reason>} for a
   * non-resource path.
   */
  static String forbiddenStatusMessage(RequestAttributes a, String reason) {
    if (!a.isResourceRequest()) {
      return "forbidden: " + reason;
    }
    String qualified = a.apiGroup().isEmpty() ? a.resource() : a.resource() + "." + a.apiGroup();
    return (a.name().isEmpty() ? qualified : qualified + " " + RbacAuthorizer.quote(a.name()))
        + " is forbidden: "
        + reason;
  }

  private static void forbidden(HttpServerResponse resp, RequestAttributes a, String reason) {
    JsonObject details = new JsonObject();
    if (a.isResourceRequest()) {
      if (!a.name().isEmpty()) {
        details.put("name", a.name());
      }
      if (!a.apiGroup().isEmpty()) {
        details.put("group", a.apiGroup());
      }
      details.put("kind", a.resource());
    }
    status(
        resp.putHeader("X-Content-Type-Options", "nosniff"),
        403,
        "Forbidden",
        forbiddenStatusMessage(a, reason),
        details);
  }

  private static void status(
      HttpServerResponse resp, int code, String reason, String message, JsonObject details) {
    JsonObject body =
        new JsonObject()
            .put("kind", "Status")
            .put("apiVersion", "v1")
            .put("metadata", new JsonObject())
            .put("status", "Failure")
            .put("message", message)
            .put("reason", reason)
            .put("details", details)
            .put("code", code);
    if (resp.headWritten()) {
      resp.reset();
      return;
    }
    resp.setStatusCode(code)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(body.encode() + "\n");
  }

  private void forward(HttpServerRequest req) {
    HttpServerResponse resp = req.response();
    RequestOptions options =
        new RequestOptions()
            .setMethod(req.method())
            .setHost(upstream.host())
            .setPort(upstream.port())
            .setSsl(upstream.ssl())
            .setURI(upstream.basePath() + req.uri());
    client
        .request(options)
        .onComplete(
            created -> {
              if (created.failed()) {
                req.resume();
                status(
                    resp,
                    503,
                    "ServiceUnavailable",
                    "the RBAC proxy cannot reach the API server: " + created.cause().getMessage(),
                    new JsonObject());
                return;
              }
              HttpClientRequest upstreamReq = created.result();
              // Failures reach the response future (or the pipe); a reset after the client left is
              // expected.
              upstreamReq.exceptionHandler(t -> {});
              copyHeaders(req.headers(), upstreamReq.headers());
              upstreamReq.headers().remove(HttpHeaders.AUTHORIZATION);
              if (upstream.authorization() != null) {
                upstreamReq.putHeader(HttpHeaders.AUTHORIZATION, upstream.authorization());
              }
              if (isUpgrade(req.headers())) {
                tunnel(req, upstreamReq);
              } else {
                stream(req, upstreamReq);
              }
            });
  }

  /** A plain request: the body streamed up, the response streamed down (a watch chunk by chunk). */
  private void stream(HttpServerRequest req, HttpClientRequest upstreamReq) {
    HttpServerResponse resp = req.response();
    Runnable finish = started();
    // The client went away (a watch closed): stop the upstream request, which closes its
    // connection.
    resp.closeHandler(
        v -> {
          upstreamReq.reset();
          finish.run();
        });
    resp.endHandler(v -> finish.run());
    String contentLength = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    String transferEncoding = req.getHeader(HttpHeaders.TRANSFER_ENCODING);
    boolean hasBody =
        (contentLength != null && !contentLength.equals("0"))
            || (transferEncoding != null
                && transferEncoding.toLowerCase(Locale.ROOT).contains("chunked"))
            || req.version() == HttpVersion.HTTP_2;
    Future<HttpClientResponse> response;
    if (hasBody) {
      response = upstreamReq.send(req);
    } else {
      req.resume();
      response = upstreamReq.send();
    }
    response.onComplete(
        answered -> {
          if (answered.failed()) {
            status(
                resp,
                503,
                "ServiceUnavailable",
                "the RBAC proxy lost the API server: " + answered.cause().getMessage(),
                new JsonObject());
            finish.run();
            return;
          }
          relay(req, upstreamReq, answered.result(), finish);
        });
  }

  private void relay(
      HttpServerRequest req,
      HttpClientRequest upstreamReq,
      HttpClientResponse upstreamResp,
      Runnable finish) {
    HttpServerResponse resp = req.response();
    resp.setStatusCode(upstreamResp.statusCode());
    if (upstreamResp.statusMessage() != null) {
      resp.setStatusMessage(upstreamResp.statusMessage());
    }
    copyHeaders(upstreamResp.headers(), resp.headers());
    boolean bodyless =
        req.method() == HttpMethod.HEAD
            || upstreamResp.statusCode() == 204
            || upstreamResp.statusCode() == 304
            || upstreamResp.statusCode() < 200;
    if (!bodyless && !upstreamResp.headers().contains(HttpHeaders.CONTENT_LENGTH)) {
      resp.setChunked(true); // a watch: streamed chunk by chunk, never buffered
    }
    // Not endOnFailure: an upstream that breaks off must break the client's stream too, not end it
    // cleanly.
    upstreamResp
        .pipe()
        .endOnFailure(false)
        .to(resp)
        .onComplete(
            piped -> {
              if (piped.failed()) {
                resp.reset();
                upstreamReq.reset();
              }
              finish.run();
            });
  }

  /**
   * An HTTP/1.1 upgrade (fabric8 watches over WebSocket): forwarded with its Upgrade headers; once
   * the API server switches protocols, the two connections are spliced byte for byte, and when
   * either closes the other is closed.
   */
  private void tunnel(HttpServerRequest req, HttpClientRequest upstreamReq) {
    upstreamReq.putHeader(HttpHeaders.CONNECTION, "Upgrade");
    upstreamReq.putHeader(HttpHeaders.UPGRADE, req.getHeader(HttpHeaders.UPGRADE));
    req.resume(); // an upgrade request has no body; the client sends nothing more before the 101
    upstreamReq
        .connect()
        .onComplete(
            answered -> {
              if (answered.failed()) {
                status(
                    req.response(),
                    503,
                    "ServiceUnavailable",
                    "the RBAC proxy cannot reach the API server: " + answered.cause().getMessage(),
                    new JsonObject());
                return;
              }
              HttpClientResponse upstreamResp = answered.result();
              if (upstreamResp.statusCode() != 101) {
                relay(req, upstreamReq, upstreamResp, started());
                return;
              }
              NetSocket up = upstreamResp.netSocket();
              up.pause();
              HttpServerResponse resp = req.response();
              upstreamResp
                  .headers()
                  .forEach(
                      e -> {
                        String name = e.getKey().toLowerCase(Locale.ROOT);
                        if (!name.equals("content-length") && !name.equals("transfer-encoding")) {
                          resp.headers().add(e.getKey(), e.getValue());
                        }
                      });
              req.toNetSocket()
                  .onComplete(
                      switched -> {
                        if (switched.failed()) {
                          up.close();
                          return;
                        }
                        NetSocket down = switched.result();
                        Runnable finish = started();
                        up.closeHandler(
                            v -> {
                              down.close();
                              finish.run();
                            });
                        down.closeHandler(
                            v -> {
                              up.close();
                              finish.run();
                            });
                        up.pipeTo(down);
                        down.pipeTo(up);
                      });
            });
  }

  /** Counts a forwarded exchange as in flight until the returned action runs (once). */
  private Runnable started() {
    inFlight.incrementAndGet();
    AtomicBoolean finished = new AtomicBoolean();
    return () -> {
      if (finished.compareAndSet(false, true)) {
        inFlight.decrementAndGet();
      }
    };
  }

  private static boolean isUpgrade(MultiMap headers) {
    if (!headers.contains(HttpHeaders.UPGRADE)) {
      return false;
    }
    for (String connection : headers.getAll(HttpHeaders.CONNECTION)) {
      for (String token : connection.split(",")) {
        if (token.trim().equalsIgnoreCase("upgrade")) {
          return true;
        }
      }
    }
    return false;
  }

  private static void copyHeaders(MultiMap from, MultiMap to) {
    Set<String> skip = new HashSet<>(NOT_FORWARDED);
    for (String connection : from.getAll(HttpHeaders.CONNECTION)) {
      for (String token : connection.split(",")) {
        skip.add(token.trim().toLowerCase(Locale.ROOT));
      }
    }
    from.forEach(
        e -> {
          String name = e.getKey().toLowerCase(Locale.ROOT);
          if (!skip.contains(name) && !name.startsWith(":")) {
            to.add(e.getKey(), e.getValue());
          }
        });
  }
}
