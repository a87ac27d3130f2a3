package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built jar as a process, driven over loopback HTTP, as a user runs it. */
class StandaloneJarIT {

  final JarRunner jar = new JarRunner();
  @TempDir Path dir;

  Running start(Map<String, String> env) throws Exception {
    return jar.start(dir, env);
  }

  long awaitReady(Running r) throws Exception {
    return jar.awaitReady(r);
  }

  HttpResponse<String> call(String method, String url, String body)
      throws IOException, InterruptedException {
    return jar.call(method, url, body);
  }

  static String sample(String name) throws IOException {
    return JarRunner.sample(name);
  }

  @Test
  void tourWorksAndSigtermStopsCleanlyKeepingEverything() throws Exception {
    Running r = start(Map.of());
    long readyMs = awaitReady(r);
    String base = "http://127.0.0.1:" + r.port();
    HttpResponse<String> first = call("POST", base + "/ingest/falco", sample("falco-alert.json"));
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body())
        .isEqualTo("{\"accepted\":1,\"created\":1,\"aggregated\":0,\"filtered\":0}");
    assertThat(call("POST", base + "/ingest/falco", sample("falco-alert.json")).body())
        .isEqualTo("{\"accepted\":1,\"created\":0,\"aggregated\":1,\"filtered\":0}");
    assertThat(call("POST", base + "/ingest/k8s-audit", sample("audit-eventlist.json")).body())
        .contains("\"created\":1");
    // SIGTERM right away: the pending repeat is flushed before exit.
    r.process().destroy();
    assertThat(r.process().waitFor(20, TimeUnit.SECONDS))
        .as("exits within the shutdown timeout")
        .isTrue();
    String log = Files.readString(r.log());
    // Every log line is JSON (LOG_FORMAT=json, set by JarRunner; LogFormatJarIT checks the
    // defaults).
    for (String line : log.lines().filter(l -> !l.isBlank()).toList()) {
      JsonNode json = Json.MAPPER.readTree(line);
      assertThat(json.has("message") && json.has("level") && json.has("@timestamp"))
          .as(line)
          .isTrue();
    }
    assertThat(log).contains("zen-watcher ready").contains("zen-watcher stopped");

    Running again = start(Map.of("LOG_FORMAT", "text"));
    awaitReady(again);
    JsonNode list =
        Json.MAPPER.readTree(
            call(
                    "GET",
                    "http://127.0.0.1:" + again.port() + "/api/v1/observations?source=falco",
                    null)
                .body());
    assertThat(list.get("items")).hasSize(1);
    assertThat(list.at("/items/0/status/count").asLong())
        .as("the repeat was flushed on SIGTERM")
        .isEqualTo(2);
    assertThat(
            Json.MAPPER
                .readTree(
                    call(
                            "GET",
                            "http://127.0.0.1:"
                                + again.port()
                                + "/api/v1/observations?source=k8s-audit",
                            null)
                        .body())
                .get("items"))
        .hasSize(1);
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
}
