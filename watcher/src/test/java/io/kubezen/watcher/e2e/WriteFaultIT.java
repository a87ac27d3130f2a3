package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, point 6: the jar under a file-size limit ({@code ulimit -f}), which the SQLite WAL
 * reaches long before its automatic checkpoint. Writes that fail are answered 503 and nothing
 * acknowledged is lost; the store checkpoints the WAL and takes writes again by itself (no
 * restart); while writes fail, {@code /ready} says so.
 */
class WriteFaultIT {
  final JarRunner jar = new JarRunner();

  @Test
  void underAFileSizeLimitWritesRecoverAndReadinessFollowsThem(@TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Files.createDirectories(dir.resolve("data"));
    Path log = dir.resolve("zw.log");
    ProcessBuilder pb =
        new ProcessBuilder(
                "bash",
                "-c",
                "ulimit -f 3072 && exec \"$0\" -Xmx256m -jar \"$1\"",
                JarRunner.javaBin(),
                Path.of(JarRunner.JAR).toAbsolutePath().toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().put("WATCHER_PORT", Integer.toString(port));
    pb.environment().put("WATCHER_BIND_ADDRESS", "127.0.0.1");
    pb.environment().put("SQLITE_PATH", dir.resolve("data/zw.db").toString());
    pb.environment().put("LOG_LEVEL", "warn");
    JarRunner.Running r = new JarRunner.Running(pb.start(), port, log);
    try {
      jar.awaitReady(r);
      String base = "http://127.0.0.1:" + port;
      String filler = "f".repeat(900);
      int acknowledged = 0;
      int failures = 0;
      int okAfterFirstFailure = 0;
      int consecutiveFailures = 0;
      boolean notReadyWhileFailing = false;
      for (int i = 0; i < 3000 && consecutiveFailures < 8; i++) {
        StringBuilder batch = new StringBuilder("[");
        for (int j = 0; j < 20; j++) {
          batch
              .append(j == 0 ? "" : ",")
              .append("{\"title\":\"finding ")
              .append(i)
              .append('-')
              .append(j)
              .append("\",\"detail\":\"")
              .append(filler)
              .append("\"}");
        }
        HttpResponse<String> a =
            jar.call("POST", base + "/ingest/filler", batch.append(']').toString());
        assertThat(a.statusCode()).as(a.body()).isIn(200, 503);
        if (a.statusCode() == 200) {
          acknowledged += 20;
          consecutiveFailures = 0;
          if (failures > 0) {
            okAfterFirstFailure++;
          }
        } else {
          failures++;
          consecutiveFailures++;
          if (jar.call("GET", base + "/ready", null).statusCode() == 503) {
            notReadyWhileFailing = true;
          }
        }
      }
      System.out.printf(
          "WriteFaultIT: %d acknowledged, %d failed requests, %d ok after the first failure%n",
          acknowledged, failures, okAfterFirstFailure);
      assertThat(failures).as("the file-size limit was reached").isPositive();
      assertThat(okAfterFirstFailure)
          .as("writes resumed without a restart (WAL checkpointed)")
          .isPositive();
      assertThat(notReadyWhileFailing).as("/ready answered 503 while writes failed").isTrue();
      assertThat(r.process().isAlive()).isTrue();
      // Nothing acknowledged was lost.
      int stored = 0;
      String cont = null;
      do {
        HttpResponse<String> page =
            jar.call(
                "GET",
                base
                    + "/api/v1/observations?source=filler&limit=1000"
                    + (cont == null
                        ? ""
                        : "&continue="
                            + java.net.URLEncoder.encode(
                                cont, java.nio.charset.StandardCharsets.UTF_8)),
                null);
        assertThat(page.statusCode()).isEqualTo(200);
        var json = io.kubezen.watcher.model.Json.MAPPER.readTree(page.body());
        stored += json.get("items").size();
        cont =
            json.at("/metadata/continue").isMissingNode()
                    || json.at("/metadata/continue").isNull()
                    || json.at("/metadata/continue").asText().isEmpty()
                ? null
                : json.at("/metadata/continue").asText();
      } while (cont != null);
      assertThat(stored)
          .as("every acknowledged finding is stored")
          .isGreaterThanOrEqualTo(acknowledged);
    } finally {
      JarRunner.kill(r);
    }
  }
}
