package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.testing.PostgresServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two "clusters" × two replicas (four jar processes) on one PostgreSQL database, webhook load
 * round-robin over each cluster's replicas, a replica SIGKILLed twice (and started again): every
 * acknowledged finding is stored exactly once, in its own cluster, and the read API shows both.
 */
class PostgresChaosIT {
  static final int REQUESTS = 240;
  static final int ALERTS_PER_REQUEST = 5;
  static final List<String> CLUSTERS = List.of("east", "west");

  @TempDir Path dir;

  @Test
  @Timeout(180)
  void fourReplicasOfTwoClustersKeepEveryAcknowledgedFindingExactlyOnce() throws Exception {
    long t0 = System.nanoTime();
    PostgresJars jars = new PostgresJars(dir, PostgresServer.get().createDatabase("chaos"));
    Map<String, List<Running>> replicas = new ConcurrentHashMap<>();
    List<Running> all = new CopyOnWriteArrayList<>();
    try {
      // All four start at once: the schema migration is taken by one, the others wait for its lock.
      for (String cluster : CLUSTERS) {
        List<Running> rs = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 2; i++) {
          Running r = jars.start(cluster, Map.of());
          rs.add(r);
          all.add(r);
        }
        replicas.put(cluster, rs);
      }
      for (Running r : all) {
        jars.jar.awaitReady(r);
      }

      Map<String, Set<String>> acked = new ConcurrentHashMap<>();
      CLUSTERS.forEach(c -> acked.put(c, ConcurrentHashMap.newKeySet()));
      AtomicInteger next = new AtomicInteger();
      AtomicInteger refused = new AtomicInteger();
      AtomicInteger kills = new AtomicInteger();
      ExecutorService clients = Executors.newFixedThreadPool(4);
      List<Future<?>> work = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        work.add(
            clients.submit(
                () -> {
                  int n;
                  while ((n = next.getAndIncrement()) < REQUESTS) {
                    String cluster = CLUSTERS.get(n % 2);
                    String body = PostgresJars.alerts("pod-" + n, 0, ALERTS_PER_REQUEST);
                    // Round-robin over the cluster's replicas; a refused or broken request goes to
                    // the next.
                    for (int attempt = 0; attempt < 60; attempt++) {
                      List<Running> rs = replicas.get(cluster);
                      Running r = rs.get((n / 2 + attempt) % rs.size());
                      try {
                        HttpResponse<String> resp = jars.post(r, body);
                        if (resp.statusCode() == 200) {
                          for (int i = 0; i < ALERTS_PER_REQUEST; i++) {
                            acked.get(cluster).add("pod-" + n + "-" + i);
                          }
                          break;
                        }
                        refused.incrementAndGet();
                      } catch (java.io.IOException e) {
                        refused.incrementAndGet();
                      }
                      Thread.sleep(50);
                    }
                  }
                  return null;
                }));
      }
      // Chaos: at a third and at two thirds of the load, SIGKILL a replica and start a new one.
      for (int k = 0; k < 2; k++) {
        int mark = REQUESTS * (k + 1) / 3;
        while (next.get() < mark) {
          if (work.stream().allMatch(Future::isDone)) {
            for (Future<?> f : work) {
              f.get(); // a client that failed says why
            }
            throw new AssertionError("the clients stopped at request " + next.get());
          }
          Thread.sleep(20);
        }
        String cluster = CLUSTERS.get(k);
        List<Running> rs = replicas.get(cluster);
        Running victim = rs.get(0);
        JarRunner.kill(victim);
        kills.incrementAndGet();
        Running fresh = jars.start(cluster, Map.of());
        all.add(fresh);
        jars.jar.awaitReady(fresh);
        rs.set(0, fresh);
      }
      for (Future<?> f : work) {
        f.get();
      }
      clients.shutdown();
      assertThat(kills.get()).isEqualTo(2);

      // Every acknowledged finding: exactly one row, in its own cluster.
      for (String cluster : CLUSTERS) {
        Map<String, Integer> rows = jars.rowsByPod(cluster);
        assertThat(acked.get(cluster)).as("acknowledged in %s", cluster).isNotEmpty();
        for (String pod : acked.get(cluster)) {
          assertThat(rows.get(pod)).as("rows of %s in %s", pod, cluster).isEqualTo(1);
        }
        assertThat(rows.values()).as("no finding twice in %s", cluster).allMatch(c -> c == 1);
        String other = cluster.equals("east") ? "west" : "east";
        assertThat(rows.keySet())
            .as("nothing of %s in %s", other, cluster)
            .doesNotContainAnyElementsOf(acked.get(other));
      }
      int total = acked.values().stream().mapToInt(Set::size).sum();
      assertThat(total).isEqualTo(REQUESTS * ALERTS_PER_REQUEST);

      // The read API of any replica shows both clusters, and one when asked.
      Running reader = replicas.get("west").get(1);
      Set<String> seenClusters = new HashSet<>();
      int listed = 0;
      String token = null;
      do {
        String q =
            "http://127.0.0.1:"
                + reader.port()
                + "/api/v1/observations?limit=1000"
                + (token == null ? "" : "&continue=" + token);
        JsonNode page = Json.MAPPER.readTree(jars.jar.call("GET", q, null).body());
        for (JsonNode item : page.get("items")) {
          seenClusters.add(item.at("/spec/clusterName").asText());
          listed++;
        }
        token =
            page.at("/metadata/continue").isMissingNode()
                ? null
                : page.at("/metadata/continue").asText();
      } while (token != null);
      assertThat(seenClusters).containsExactlyInAnyOrder("east", "west");
      assertThat(listed).isEqualTo(total);
      JsonNode east =
          Json.MAPPER.readTree(
              jars.jar
                  .call(
                      "GET",
                      "http://127.0.0.1:"
                          + reader.port()
                          + "/api/v1/observations?limit=1000&cluster=east",
                      null)
                  .body());
      assertThat(east.get("items"))
          .hasSize(acked.get("east").size())
          .allSatisfy(item -> assertThat(item.at("/spec/clusterName").asText()).isEqualTo("east"));

      // A central read-only viewer over the same database: every cluster, no webhooks.
      Running viewer = jars.start("", Map.of("MODE", "reader"));
      all.add(viewer);
      jars.jar.awaitReady(viewer);
      String base = "http://127.0.0.1:" + viewer.port();
      JsonNode west =
          Json.MAPPER.readTree(
              jars.jar
                  .call("GET", base + "/api/v1/observations?limit=1000&cluster=west", null)
                  .body());
      assertThat(west.get("items")).hasSize(acked.get("west").size());
      String someName = west.at("/items/0/metadata/name").asText();
      assertThat(
              jars.jar
                  .call(
                      "GET", base + "/api/v1/observations/shop/" + someName + "?cluster=west", null)
                  .statusCode())
          .isEqualTo(200);
      assertThat(
              jars.jar
                  .call(
                      "GET",
                      base + "/api/v1/observations/shop/" + someName + "?cluster=north",
                      null)
                  .statusCode())
          .isEqualTo(404);
      HttpResponse<String> toReader = jars.post(viewer, PostgresJars.alerts("pod-reader", 0, 1));
      assertThat(toReader.statusCode()).isEqualTo(404);
      assertThat(toReader.body()).contains("MODE=reader");
      assertThat(
              Json.MAPPER
                  .readTree(jars.jar.call("GET", base + "/ready", null).body())
                  .get("role")
                  .asText())
          .isEqualTo("reader");
      System.out.printf(
          "postgres chaos: %d findings acknowledged, %d refusals retried, 2 SIGKILLs, %d ms%n",
          total, refused.get(), (System.nanoTime() - t0) / 1_000_000);
    } catch (AssertionError | Exception e) {
      StringBuilder logs = new StringBuilder();
      for (Running r : all) {
        logs.append("\n--- ").append(r.log()).append('\n').append(tail(r.log()));
      }
      throw new AssertionError(e.getMessage() + logs, e);
    } finally {
      for (Running r : all) {
        if (r.process().isAlive()) {
          JarRunner.terminate(r, Duration.ofSeconds(10));
        }
      }
    }
  }

  static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (java.io.IOException e) {
      return "(no log: " + e + ")";
    }
  }
}
