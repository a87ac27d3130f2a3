package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, point 5: repeat counts in standalone (SQLite) are durable before the 200. Senders
 * repeat the same alerts while the jar is SIGKILLed; after a restart on the same file every
 * acknowledged sighting is counted (19.7% were lost with the 2 s flush before group commit).
 */
class RepeatDurabilityIT {
  final JarRunner jar = new JarRunner();

  static String alert(int n) {
    return "{\"rule\":\"repeat "
        + n
        + "\",\"output\":\"o\",\"priority\":\"Warning\",\"time\":\"2026-11-22T10:00:00Z\","
        + "\"output_fields\":{\"k8s.ns.name\":\"shop\",\"k8s.pod.name\":\"web\"}}";
  }

  @Test
  void everyAcknowledgedRepeatSurvivesSigkill(@TempDir Path dir) throws Exception {
    // A long flush interval: without group commit, counts would wait for it and die with the
    // process.
    Map<String, String> env =
        Map.of("DEDUP_FLUSH_INTERVAL_MILLIS", "5000", "DEDUP_WINDOW_SECONDS", "86400");
    Running r = jar.start(dir, env);
    int senders = 4;
    AtomicLong[] acked = new AtomicLong[senders];
    ExecutorService pool = Executors.newFixedThreadPool(senders);
    AtomicBoolean stop = new AtomicBoolean();
    try {
      jar.awaitReady(r);
      String url = "http://127.0.0.1:" + r.port() + "/ingest/falco";
      List<Future<?>> running = new ArrayList<>();
      for (int s = 0; s < senders; s++) {
        int sender = s;
        acked[s] = new AtomicLong();
        running.add(
            pool.submit(
                () -> {
                  while (!stop.get()) {
                    try {
                      if (jar.call("POST", url, alert(sender)).statusCode() == 200) {
                        acked[sender].incrementAndGet();
                      }
                    } catch (Exception killed) {
                      return null;
                    }
                  }
                  return null;
                }));
      }
      Thread.sleep(5000);
      JarRunner.kill(r);
      stop.set(true);
      for (Future<?> f : running) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
      if (r.process().isAlive()) {
        JarRunner.kill(r);
      }
    }
    Running again = jar.start(dir, env);
    try {
      jar.awaitReady(again);
      HttpResponse<String> list =
          jar.call(
              "GET",
              "http://127.0.0.1:" + again.port() + "/api/v1/observations?source=falco&limit=100",
              null);
      JsonNode items = Json.MAPPER.readTree(list.body()).get("items");
      long total = 0;
      for (int s = 0; s < senders; s++) {
        long count = 0;
        for (JsonNode i : items) {
          if (i.at("/spec/title").asText().contains("repeat " + s)
              || i.at("/spec/details/rule").asText().equals("repeat " + s)) {
            count = i.at("/status/count").asLong();
          }
        }
        System.out.printf(
            "RepeatDurabilityIT: sender %d: %d acknowledged, %d counted%n",
            s, acked[s].get(), count);
        assertThat(count)
            .as("sender " + s + ": every acknowledged sighting counted")
            .isGreaterThanOrEqualTo(acked[s].get());
        total += acked[s].get();
      }
      assertThat(total).as("the senders got answers before the kill").isGreaterThan(20);
    } finally {
      JarRunner.kill(again);
    }
  }
}
