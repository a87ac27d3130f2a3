package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.e2e.JarRunner.Running;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, point 1: memory grows with the number of elements, not bytes. The jar, sized as in the
 * chart's 512 MiB container, gets the reproduction (1 MiB of {@code {}} elements, 349,000 of them)
 * and 8 MiB audit bodies at 16 concurrent requests: it answers every one with a 4xx/503 or a 200,
 * stays alive, and its peak RSS (VmHWM) stays under 450 MiB.
 */
class MemoryBoundIT {
  static final long RSS_LIMIT_KIB = 450L * 1024;
  final JarRunner jar = new JarRunner();

  static long vmHwmKib(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new AssertionError("no VmHWM for pid " + pid);
  }

  static byte[] emptyObjects(int n) {
    StringBuilder b = new StringBuilder(n * 3 + 2).append('[');
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "{}" : ",{}");
    }
    return b.append(']').toString().getBytes(StandardCharsets.UTF_8);
  }

  /** An audit batch of small events, about {@code bytes} long. */
  static byte[] auditBatch(int bytes) {
    StringBuilder b = new StringBuilder(bytes + 1024).append('[');
    int i = 0;
    while (b.length() < bytes) {
      b.append(i == 0 ? "" : ",")
          .append("{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"")
          .append(i++)
          .append("\",\"stage\":\"ResponseComplete\",\"verb\":\"get\"}");
    }
    return b.append(']').toString().getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void theReproductionAt16ConcurrentRequestsStaysUnder450MiB(@TempDir Path dir) throws Exception {
    Running r =
        jar.start(
            dir,
            Map.of("WEBHOOK_MAX_BODY_BYTES", Integer.toString(4 << 20)),
            JarRunner.chartJvm(),
            false);
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      jar.awaitReady(r);
      String base = "http://127.0.0.1:" + r.port();
      byte[] bomb = emptyObjects(349_000); // the reproduction: 1 MiB, 349,000 generic findings
      byte[] fourMib = emptyObjects(1_398_000);
      byte[] audit = auditBatch((8 << 20) - 4096);
      byte[] withinLimits = emptyObjects(9_000); // just under the default WEBHOOK_MAX_FINDINGS
      List<Future<Integer>> answers = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 16; i++) {
          byte[] body =
              switch (i % 4) {
                case 0, 1 -> bomb;
                case 2 -> i % 8 == 2 ? audit : fourMib;
                default -> withinLimits;
              };
          String path = i % 8 == 2 ? "/ingest/k8s-audit" : "/ingest/myscanner";
          answers.add(
              pool.submit(
                  () ->
                      jar.http
                          .send(
                              HttpRequest.newBuilder(URI.create(base + path))
                                  .timeout(Duration.ofSeconds(60))
                                  .header("Content-Type", "application/json")
                                  .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                                  .build(),
                              HttpResponse.BodyHandlers.ofString())
                          .statusCode()));
        }
        Map<Integer, Integer> codes = new TreeMap<>();
        for (Future<Integer> f : answers) {
          codes.merge(f.get(), 1, Integer::sum);
        }
        answers.clear();
        assertThat(r.process().isAlive())
            .as("alive after round " + round + ": " + Files.readString(r.log()))
            .isTrue();
        assertThat(codes.keySet())
            .as("answers " + codes)
            .allMatch(c -> c == 200 || c == 413 || c == 503);
        assertThat(codes).as("the reproduction is refused as too many findings").containsKey(413);
      }
      long hwm = vmHwmKib(r.process().pid());
      System.out.printf(
          "MemoryBoundIT: peak RSS %d MiB in %d ms%n",
          hwm / 1024, (System.nanoTime() - t0) / 1_000_000);
      assertThat(hwm).as("peak RSS (KiB)").isLessThan(RSS_LIMIT_KIB);
      assertThat(jar.call("GET", base + "/ready", null).statusCode()).isEqualTo(200);
    } finally {
      pool.shutdownNow();
      JarRunner.kill(r);
    }
  }
}
