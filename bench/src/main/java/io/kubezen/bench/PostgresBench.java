package io.kubezen.bench;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.postgres.PostgresObservationStore;
import io.kubezen.watcher.store.postgres.PostgresStoreOptions;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The PostgreSQL store's benchmarks (bench/README.md, "PostgreSQL store"):
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar io.kubezen.bench.PostgresBench ingest JDBC_URL USER ZEN_WATCHER_JAR
 * java -cp bench/target/benchmarks.jar io.kubezen.bench.PostgresBench read JDBC_URL USER ZEN_WATCHER_JAR
 * </pre>
 *
 * <p>{@code ingest}: unique findings per second, at the same batch size and concurrency, (1) a bare
 * JDBC batch-insert loop of the same rows into a copy of the table (same columns and indexes, no
 * triggers) and into the table itself (its triggers fire), (2) the store's {@code createOrMerge},
 * (3) webhooks into the zen-watcher jar. {@code read}: 1M rows made with {@code generate_series},
 * then the read API's first page, a filtered page and a next page, timed over loopback HTTP. The
 * database must be empty (a fresh one per command).
 */
public final class PostgresBench {
  static final int BATCH = 500;
  static final int CONCURRENCY = Integer.getInteger("concurrency", 4);
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: PostgresBench ingest|read JDBC_URL USER ZEN_WATCHER_JAR [rows]");
      System.exit(2);
    }
    String url = args[1];
    String user = args[2];
    Path jar = Path.of(args[3]);
    switch (args[0]) {
      case "ingest" ->
          ingest(url, user, jar, args.length > 4 ? Integer.parseInt(args[4]) : 100_000);
      case "read" -> read(url, user, jar, args.length > 4 ? Integer.parseInt(args[4]) : 1_000_000);
      default -> throw new IllegalArgumentException(args[0]);
    }
  }

  // ---------------------------------------------------------------- ingest

  static void ingest(String url, String user, Path jar, int rows) throws Exception {
    try (PostgresObservationStore store =
        PostgresObservationStore.open(
            PostgresStoreOptions.of(url, user, null, "bench-store"), Clock.systemUTC())) {
      exec(url, user, "CREATE TABLE bare_observations (LIKE observations INCLUDING ALL)");
      System.out.printf("rows=%d batch=%d concurrency=%d%n", rows, BATCH, CONCURRENCY);
      // Warm-ups, then the measured runs.
      bare(url, user, "bare_observations", "warm", 20_000);
      double bareCopy = bare(url, user, "bare_observations", "run", rows);
      System.out.printf("bare JDBC batch insert, copy without triggers: %8.0f rows/s%n", bareCopy);
      bare(url, user, "observations", "warm-bare", 20_000);
      double bare = bare(url, user, "observations", "run-bare", rows);
      System.out.printf("bare JDBC batch insert, the schema's table:     %8.0f rows/s%n", bare);
      storeLoop(store, "warm", 20_000);
      double viaStore = storeLoop(store, "run", rows);
      System.out.printf(
          "store createOrMerge:                            %8.0f rows/s  (%.2f of the"
              + " table's bare loop, %.2f of the copy's)%n",
          viaStore, viaStore / bare, viaStore / bareCopy);
      double viaHttp = http(url, user, jar, rows);
      System.out.printf(
          "webhooks into the jar (HTTP):                   %8.0f findings/s (%.2f of the"
              + " table's bare loop, %.2f of the copy's)%n",
          viaHttp, viaHttp / bare, viaHttp / bareCopy);
    }
  }

  /**
   * Plain batched {@code INSERT}s of the rows the store would write (search text included), into
   * {@code table}: {@code bare_observations} (a copy with the same columns and indexes but without
   * the console's triggers) or {@code observations} itself (as cluster {@code bench-bare}, so its
   * triggers fire as they do for the store).
   */
  static double bare(String url, String user, String table, String prefix, int rows)
      throws Exception {
    String sql =
        "INSERT INTO "
            + table
            + " (cluster, namespace, name, source, category, severity, event_type,"
            + " fingerprint, resource_kind, resource_namespace, resource_name, ttl_seconds, created_ms, expires_ms,"
            + " first_seen_us, last_seen_us, count, metadata, spec, search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            + " ?, ?, ?::jsonb, ?::jsonb, ?)";
    AtomicInteger next = new AtomicInteger();
    long t0 = System.nanoTime();
    runThreads(
        () -> {
          try (Connection c =
              DriverManager.getConnection(
                  url + (url.contains("?") ? "&" : "?") + "reWriteBatchedInserts=true", user, "")) {
            c.setAutoCommit(false);
            try (PreparedStatement st = c.prepareStatement(sql)) {
              int start;
              while ((start = next.getAndAdd(BATCH)) < rows) {
                for (int i = start; i < Math.min(rows, start + BATCH); i++) {
                  Observation o = observation(prefix, i);
                  ObservationSpec s = o.getSpec();
                  long now = System.currentTimeMillis();
                  st.setString(1, "bench-bare");
                  st.setString(2, o.getMetadata().getNamespace());
                  st.setString(3, o.getMetadata().getName());
                  st.setString(4, s.source());
                  st.setString(5, s.category().wire());
                  st.setString(6, s.severity().wire());
                  st.setString(7, s.eventType());
                  st.setString(8, s.fingerprint());
                  st.setString(9, s.resource().kind());
                  st.setString(10, s.resource().namespace());
                  st.setString(11, s.resource().name());
                  st.setLong(12, s.ttlSecondsAfterCreation());
                  st.setLong(13, now);
                  st.setLong(14, now + s.ttlSecondsAfterCreation() * 1000);
                  st.setLong(15, now * 1000);
                  st.setLong(16, now * 1000);
                  st.setLong(17, 1);
                  st.setString(
                      18, io.kubezen.watcher.model.Json.MAPPER.writeValueAsString(o.getMetadata()));
                  st.setString(19, io.kubezen.watcher.model.Json.MAPPER.writeValueAsString(s));
                  st.setString(20, io.kubezen.watcher.store.SearchText.of(s));
                  st.addBatch();
                }
                st.executeBatch();
                c.commit();
              }
            }
          }
          return null;
        });
    return rows / ((System.nanoTime() - t0) / 1e9);
  }

  static double storeLoop(PostgresObservationStore store, String prefix, int rows)
      throws Exception {
    AtomicInteger next = new AtomicInteger();
    long t0 = System.nanoTime();
    runThreads(
        () -> {
          int start;
          while ((start = next.getAndAdd(BATCH)) < rows) {
            List<Observation> batch = new ArrayList<>(BATCH);
            for (int i = start; i < Math.min(rows, start + BATCH); i++) {
              batch.add(observation(prefix, i));
            }
            store.createOrMerge(batch);
          }
          return null;
        });
    return rows / ((System.nanoTime() - t0) / 1e9);
  }

  static double http(String url, String user, Path jar, int rows) throws Exception {
    Process p =
        startJar(
            url,
            user,
            jar,
            Map.of("CLUSTER_NAME", "bench-http", "WRITE_BATCH_SIZE", Integer.toString(BATCH)));
    try {
      int port = awaitReady(p);
      String base = "http://127.0.0.1:" + port + "/ingest/falco";
      postAll(base, "warm", 20_000);
      long t0 = System.nanoTime();
      postAll(base, "run", rows);
      return rows / ((System.nanoTime() - t0) / 1e9);
    } finally {
      p.destroy();
      p.waitFor();
    }
  }

  static void postAll(String base, String prefix, int rows) throws Exception {
    AtomicInteger next = new AtomicInteger();
    AtomicLong failures = new AtomicLong();
    runThreads(
        () -> {
          int start;
          while ((start = next.getAndAdd(BATCH)) < rows) {
            StringBuilder body = new StringBuilder("[");
            for (int i = start; i < Math.min(rows, start + BATCH); i++) {
              if (i > start) {
                body.append(',');
              }
              body.append(
                      "{\"time\":\"2026-11-22T10:15:30Z\",\"rule\":\"Terminal shell in container\",")
                  .append(
                      "\"priority\":\"Warning\",\"source\":\"syscall\",\"hostname\":\"node-1\",")
                  .append(
                      "\"output\":\"A shell was spawned\",\"output_fields\":{\"k8s.ns.name\":\"shop\",")
                  .append("\"k8s.pod.name\":\"")
                  .append(prefix)
                  .append("-")
                  .append(i)
                  .append("\"},\"tags\":[\"shell\"]}");
            }
            body.append(']');
            HttpResponse<String> r =
                HTTP.send(
                    HttpRequest.newBuilder(URI.create(base))
                        .timeout(Duration.ofSeconds(60))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
              failures.incrementAndGet();
              throw new IllegalStateException("HTTP " + r.statusCode() + ": " + r.body());
            }
          }
          return null;
        });
  }

  // ---------------------------------------------------------------- read

  static void read(String url, String user, Path jar, int rows) throws Exception {
    try (PostgresObservationStore store =
        PostgresObservationStore.open(
            PostgresStoreOptions.of(url, user, null, "east"), Clock.systemUTC())) {
      long t0 = System.nanoTime();
      // 1M rows in two clusters, 50 namespaces, 5 severities, 4 sources, one creation time per 10
      // rows.
      exec(
          url,
          user,
          """
          INSERT INTO observations (cluster, namespace, name, source, category, severity, event_type, fingerprint,
            resource_kind, resource_namespace, resource_name, ttl_seconds, created_ms, expires_ms, first_seen_us,
            last_seen_us, count, metadata, spec)
          SELECT CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END,
                 'ns-' || (g % 50),
                 (ARRAY['falco','trivy','kyverno','k8s-audit'])[1 + g % 4] || '-' || lpad(to_hex(g), 16, '0'),
                 (ARRAY['falco','trivy','kyverno','k8s-audit'])[1 + g % 4],
                 'security',
                 (ARRAY['critical','high','medium','low','info'])[1 + (g / 7) % 5],
                 'runtime_threat', md5(g::text) || md5((g + 1)::text), 'Pod', 'ns-' || (g % 50), 'pod-' || g,
                 604800, 1700000000000 + (g / 10) * 1000, 1700000000000 + (g / 10) * 1000 + 604800000,
                 (1700000000000 + g) * 1000, (1700000000000 + g) * 1000, 1 + g % 3,
                 jsonb_build_object('name', 'x', 'labels', jsonb_build_object('zen.kube-zen.io/source', 'falco')),
                 jsonb_build_object('source', (ARRAY['falco','trivy','kyverno','k8s-audit'])[1 + g % 4],
                   'category', 'security', 'severity', (ARRAY['critical','high','medium','low','info'])[1 + (g / 7) % 5],
                   'eventType', 'runtime_threat', 'title', 'A shell was spawned in pod-' || g,
                   'details', jsonb_build_object('rule', 'Terminal shell', 'pod', 'pod-' || g),
                   'detectedAt', '2023-11-14T22:13:20Z', 'fingerprint', md5(g::text) || md5((g + 1)::text),
                   'ttlSecondsAfterCreation', 604800,
                   'clusterName', CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END)
          FROM generate_series(1, ROWS) AS g"""
              .replace("ROWS", Integer.toString(rows)));
      exec(url, user, "VACUUM ANALYZE observations");
      System.out.printf("generated %d rows in %.1f s%n", rows, (System.nanoTime() - t0) / 1e9);
    }
    Process p = startJar(url, user, jar, Map.of("MODE", "reader"));
    try {
      int port = awaitReady(p);
      String base = "http://127.0.0.1:" + port + "/api/v1/observations";
      for (String q :
          List.of(
              "?limit=100",
              "?limit=100&severity=critical&cluster=west",
              "?limit=100&namespace=ns-7&source=trivy",
              "?limit=100&cluster=east&source=kyverno")) {
        time(base + q, 50);
        long[] ms = time(base + q, 200);
        String cont =
            com.fasterxml.jackson.databind.json.JsonMapper.builder()
                .build()
                .readTree(get(base + q).body())
                .at("/metadata/continue")
                .asText();
        long[] next = time(base + q + "&continue=" + cont, 200);
        System.out.printf(
            "GET %-45s first page: median %3d ms, p95 %3d ms; next page: median %3d ms, p95 %3d ms%n",
            q,
            ms[ms.length / 2],
            ms[(int) (ms.length * 0.95)],
            next[next.length / 2],
            next[(int) (next.length * 0.95)]);
      }
    } finally {
      p.destroy();
      p.waitFor();
    }
  }

  static long[] time(String url, int n) throws Exception {
    long[] ms = new long[n];
    for (int i = 0; i < n; i++) {
      long t0 = System.nanoTime();
      HttpResponse<String> r = get(url);
      if (r.statusCode() != 200) {
        throw new IllegalStateException(url + ": HTTP " + r.statusCode() + " " + r.body());
      }
      ms[i] = (System.nanoTime() - t0) / 1_000_000;
    }
    Arrays.sort(ms);
    return ms;
  }

  static HttpResponse<String> get(String url) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  // ---------------------------------------------------------------- plumbing

  static Observation observation(String prefix, int i) {
    String name = prefix + "-" + i;
    String fp = HexFormat.of().formatHex(sha256(name));
    ObservationSpec spec =
        new ObservationSpec(
            "falco",
            Category.SECURITY,
            Severity.MEDIUM,
            "runtime_threat",
            ResourceRef.of("v1", "Pod", "shop", "pod-" + name),
            "A shell was spawned",
            Map.of("rule", "Terminal shell in container", "pod", "pod-" + name),
            "2026-11-22T10:15:30Z",
            fp,
            604800L,
            "bench");
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("shop")
            .withName("falco-" + fp.substring(0, 16))
            .addToLabels(Observation.LABEL_SOURCE, "falco")
            .build());
    o.setSpec(spec);
    o.setStatus(ObservationStatus.seen(1, "2026-11-22T10:15:30Z", "2026-11-22T10:15:30Z"));
    return o;
  }

  static byte[] sha256(String s) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256")
          .digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void runThreads(java.util.concurrent.Callable<Void> work) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(CONCURRENCY);
    try {
      List<Future<Void>> fs = new ArrayList<>();
      for (int t = 0; t < CONCURRENCY; t++) {
        fs.add(pool.submit(work));
      }
      for (Future<Void> f : fs) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  static void exec(String url, String user, String sql) throws Exception {
    try (Connection c = DriverManager.getConnection(url, user, "");
        Statement st = c.createStatement()) {
      st.execute(sql);
    }
  }

  static Process startJar(String url, String user, Path jar, Map<String, String> env)
      throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path log = Files.createTempFile("zw-bench", ".log");
    ProcessBuilder pb =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m",
                "-jar",
                jar.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment()
        .putAll(
            Map.of(
                "OBSERVATION_STORE",
                "postgres",
                "POSTGRES_URL",
                url,
                "POSTGRES_USER",
                user,
                "WATCHER_PORT",
                Integer.toString(port),
                "WATCHER_BIND_ADDRESS",
                "127.0.0.1",
                "KUBERNETES_MODE",
                "false",
                "LOG_FORMAT",
                "text"));
    pb.environment().putAll(env);
    Process p = pb.start();
    System.out.println("zen-watcher log: " + log);
    portOf.put(p, port);
    return p;
  }

  private static final Map<Process, Integer> portOf =
      new java.util.concurrent.ConcurrentHashMap<>();

  static int awaitReady(Process p) throws Exception {
    int port = portOf.get(p);
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("zen-watcher exited: " + p.exitValue());
      }
      try {
        if (get("http://127.0.0.1:" + port + "/ready").statusCode() == 200) {
          return port;
        }
      } catch (java.io.IOException notYet) {
        // starting
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("zen-watcher not ready in 90 s");
  }
}
