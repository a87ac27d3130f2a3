package io.kubezen.watcher.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.ZenWatcher;
import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real zen-watcher in this JVM on a free loopback port with SQLite in a temporary directory, and
 * an HTTP client for it.
 */
final class TestWatcher implements AutoCloseable {
  final ZenWatcher watcher;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  final MutableClock clock;
  final String base;

  /** A clock tests can move forward. */
  static final class MutableClock extends Clock {
    private final AtomicReference<Instant> now = new AtomicReference<>(Instant.now());

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now.get();
    }

    void advance(Duration d) {
      now.updateAndGet(t -> t.plus(d));
    }
  }

  record Response(int status, String body, java.net.http.HttpHeaders headers) {
    JsonNode json() {
      try {
        return Json.MAPPER.readTree(body);
      } catch (IOException e) {
        throw new AssertionError("not JSON: " + body, e);
      }
    }
  }

  TestWatcher(Path dir, Map<String, String> extraEnv) {
    this(dir, extraEnv, null);
  }

  TestWatcher(
      Path dir,
      Map<String, String> extraEnv,
      java.util.function.Function<Settings, io.kubezen.watcher.store.ObservationStore>
          storeFactory) {
    Map<String, String> env = new HashMap<>();
    env.put("OBSERVATION_STORE", "sqlite");
    env.put("SQLITE_PATH", dir.resolve("zw.db").toString());
    env.put("WATCHER_BIND_ADDRESS", "127.0.0.1");
    env.put("WATCHER_PORT", "0");
    env.put("DEDUP_FLUSH_INTERVAL_MILLIS", "100");
    env.putAll(extraEnv);
    this.clock = new MutableClock();
    this.watcher = new ZenWatcher(Settings.fromEnv(env), clock, storeFactory).start();
    this.base = "http://127.0.0.1:" + watcher.port();
  }

  Response post(String path, String contentType, byte[] body, String... headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b.build());
  }

  Response postJson(String path, String json) {
    return post(path, "application/json", json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  Response get(String path) {
    return send(
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .GET()
            .build());
  }

  Response method(String method, String path) {
    return send(
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build());
  }

  Response send(HttpRequest request) {
    try {
      HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
      return new Response(r.statusCode(), r.body(), r.headers());
    } catch (IOException e) {
      throw new AssertionError("request failed: " + request, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Override
  public void close() {
    watcher.stop(Duration.ofSeconds(10));
  }
}
