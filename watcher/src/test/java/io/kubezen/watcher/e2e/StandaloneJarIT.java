package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built jar as a process, driven over loopback HTTP, as a user runs it. */
class StandaloneJarIT {
  static final String JAR = System.getProperty("zenwatcher.jar", "target/zen-watcher.jar");
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  @TempDir Path dir;

  record Running(Process process, int port, Path log) {}

  Running start(Map<String, String> env) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path log = Files.createTempFile(dir, "zw", ".log");
    ProcessBuilder pb = new ProcessBuilder(List.of(javaBin(), "-Xmx256m", "-jar", JAR))
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("WATCHER_PORT", Integer.toString(port));
    pb.environment().put("WATCHER_BIND_ADDRESS", "127.0.0.1");
    pb.environment().put("SQLITE_PATH", dir.resolve("data/zw.db").toString());
    pb.environment().put("DEDUP_FLUSH_INTERVAL_MILLIS", "200");
    pb.environment().putAll(env);
    return new Running(pb.start(), port, log);
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  HttpResponse<String> call(String method, String url, String body) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
    b = body == null ? b.method(method, HttpRequest.BodyPublishers.noBody())
        : b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  long awaitReady(Running r) throws Exception {
    long t0 = System.nanoTime();
    while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30)) {
      assertThat(r.process().isAlive()).as("process died: " + Files.readString(r.log())).isTrue();
      try {
        if (call("GET", "http://127.0.0.1:" + r.port() + "/ready", null).statusCode() == 200) {
          return (System.nanoTime() - t0) / 1_000_000;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      Thread.sleep(50);
    }
    throw new AssertionError("not ready within 30 s: " + Files.readString(r.log()));
  }

  static String sample(String name) throws IOException {
    try (var in = StandaloneJarIT.class.getResourceAsStream("/http/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void tourWorksAndSigtermStopsCleanlyKeepingEverything() throws Exception {
    Running r = start(Map.of());
    long readyMs = awaitReady(r);
    String base = "http://127.0.0.1:" + r.port();
    HttpResponse<String> first = call("POST", base + "/ingest/falco", sample("falco-alert.json"));
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body()).isEqualTo("{\"accepted\":1,\"created\":1,\"aggregated\":0,\"filtered\":0}");
    assertThat(call("POST", base + "/ingest/falco", sample("falco-alert.json")).body())
        .isEqualTo("{\"accepted\":1,\"created\":0,\"aggregated\":1,\"filtered\":0}");
    assertThat(call("POST", base + "/ingest/k8s-audit", sample("audit-eventlist.json")).body())
        .contains("\"created\":1");
    // SIGTERM right away: the pending repeat is flushed before exit.
    r.process().destroy();
    assertThat(r.process().waitFor(20, TimeUnit.SECONDS)).as("exits within the shutdown timeout").isTrue();
    String log = Files.readString(r.log());
    // Every log line is JSON (the default format).
    for (String line : log.lines().filter(l -> !l.isBlank()).toList()) {
      JsonNode json = Json.MAPPER.readTree(line);
      assertThat(json.has("message") && json.has("level") && json.has("@timestamp")).as(line).isTrue();
    }
    assertThat(log).contains("zen-watcher ready").contains("zen-watcher stopped");

    Running again = start(Map.of("LOG_FORMAT", "text"));
    awaitReady(again);
    JsonNode list = Json.MAPPER.readTree(call("GET", "http://127.0.0.1:" + again.port()
        + "/api/v1/observations?source=falco", null).body());
    assertThat(list.get("items")).hasSize(1);
    assertThat(list.at("/items/0/status/count").asLong()).as("the repeat was flushed on SIGTERM").isEqualTo(2);
    assertThat(Json.MAPPER.readTree(call("GET", "http://127.0.0.1:" + again.port()
        + "/api/v1/observations?source=k8s-audit", null).body()).get("items")).hasSize(1);
    again.process().destroy();
    assertThat(again.process().waitFor(20, TimeUnit.SECONDS)).isTrue();
    System.out.println("start to ready: " + readyMs + " ms");
  }

  @Test
  void invalidSettingsStopTheStartWithTheSettingNamed() throws Exception {
    Running r = start(Map.of("DEDUP_WINDOW_SECONDS", "soon", "LOG_FORMAT", "xml"));
    assertThat(r.process().waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(r.process().exitValue()).isEqualTo(2);
    assertThat(Files.readString(r.log()))
        .contains("DEDUP_WINDOW_SECONDS='soon': must be a whole number")
        .contains("LOG_FORMAT='xml': must be one of json, text");
  }

  @Test
  void kubernetesStoreIsRefusedClearlyUntilItExists() throws Exception {
    Running r = start(Map.of("OBSERVATION_STORE", "kubernetes", "LOG_FORMAT", "text"));
    assertThat(r.process().waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(r.process().exitValue()).isEqualTo(1);
    assertThat(Files.readString(r.log())).contains("OBSERVATION_STORE=kubernetes is not available");
  }
}
