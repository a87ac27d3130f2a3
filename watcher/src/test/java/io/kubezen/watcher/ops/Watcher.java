package io.kubezen.watcher.ops;

import io.kubezen.watcher.ZenWatcher;
import io.kubezen.watcher.config.Settings;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * A real zen-watcher in this JVM on a free loopback port, and the few HTTP calls the operations
 * tests make.
 */
final class Watcher implements AutoCloseable {
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final ZenWatcher zw;
  final String base;

  /**
   * With {@code kubeconfig} set, the watcher's Kubernetes client reads it (fabric8 reads the {@code
   * kubeconfig} system property before the KUBECONFIG variable); it is set only while the watcher
   * starts.
   */
  Watcher(Path dir, Map<String, String> extraEnv, Path kubeconfig) {
    Map<String, String> env = new HashMap<>();
    env.put("OBSERVATION_STORE", "sqlite");
    env.put("SQLITE_PATH", dir.resolve("zw.db").toString());
    env.put("WATCHER_BIND_ADDRESS", "127.0.0.1");
    env.put("WATCHER_PORT", "0");
    env.put("DEDUP_FLUSH_INTERVAL_MILLIS", "100");
    env.putAll(extraEnv);
    String before = System.getProperty("kubeconfig");
    if (kubeconfig != null) {
      System.setProperty("kubeconfig", kubeconfig.toString());
    }
    try {
      zw = new ZenWatcher(Settings.fromEnv(env), Clock.systemUTC()).start();
    } finally {
      if (kubeconfig != null) {
        if (before == null) {
          System.clearProperty("kubeconfig");
        } else {
          System.setProperty("kubeconfig", before);
        }
      }
    }
    base = "http://127.0.0.1:" + zw.port();
  }

  record Response(int status, String body) {}

  Response post(String path, String body) {
    return send(
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build());
  }

  String scrape() {
    Response r = get(base + "/metrics");
    if (r.status() != 200) {
      throw new AssertionError("/metrics answered " + r.status());
    }
    return r.body();
  }

  static Response get(String url) {
    return send(
        HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build());
  }

  static Response send(HttpRequest request) {
    try {
      HttpResponse<String> r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
      return new Response(r.statusCode(), r.body());
    } catch (IOException e) {
      throw new AssertionError("request failed: " + request, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** A Falco alert for one pod: distinct pods give distinct Observations. */
  static String falcoAlert(String namespace, String pod, String priority) {
    return "{\"time\":\"2026-11-22T10:00:00Z\",\"rule\":\"Terminal shell in container\",\"priority\":\""
        + priority
        + "\",\"output\":\"shell\",\"output_fields\":{\"k8s.ns.name\":\""
        + namespace
        + "\",\"k8s.pod.name\":\""
        + pod
        + "\",\"container.id\":\"c-"
        + pod
        + "\"}}";
  }

  @Override
  public void close() {
    zw.stop(Duration.ofSeconds(10));
  }
}
