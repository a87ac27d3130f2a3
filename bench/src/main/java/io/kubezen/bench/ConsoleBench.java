package io.kubezen.bench;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.http.console.Console;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.postgres.PostgresObservationStore;
import io.kubezen.watcher.store.postgres.PostgresStoreOptions;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Server time of the web console over a SQLite (or PostgreSQL) store of N Observations (default
 * 100k): the overview, the first findings page, filtered pages and a detail, each requested over
 * loopback HTTP after a warm-up, one request at a time; prints p50/p95/max per page.
 *
 * <p>Usage: {@code java -cp bench/target/benchmarks.jar io.kubezen.bench.ConsoleBench [db-path]
 * [n]}, or with {@code jdbc:postgresql://host:port/db [n] [user]} instead of a path for the
 * PostgreSQL store (written as cluster "bench"; filled when that database holds no Observation).
 * The database is filled on the first run (a realistic mix: 7 sources, 40 namespaces, 4000
 * resources, 30 days of first sightings, 10% resolved, a CVE id on every Trivy finding) and reused
 * after.
 */
public final class ConsoleBench {
  static final String[] SOURCES = {
    "trivy", "falco", "kyverno", "k8s-audit", "k8s-events", "checkov", "kube-bench"
  };
  static final int WARMUP = 20;
  static final int RUNS = 60;

  private ConsoleBench() {}

  public static void main(String[] args) throws Exception {
    String target = args.length > 0 ? args[0] : "target/console-bench.db";
    int n = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
    Instant now = Instant.now();
    boolean postgres = target.startsWith("jdbc:postgresql:");
    boolean fill = postgres || !Files.exists(Path.of(target));
    try (ObservationStore store =
        postgres
            ? PostgresObservationStore.open(
                PostgresStoreOptions.of(
                    target,
                    args.length > 2 ? args[2] : System.getProperty("user.name"),
                    null,
                    "bench"),
                Clock.systemUTC())
            : SqliteObservationStore.open(Path.of(target), Clock.systemUTC())) {
      fill = fill && store.summary().total() == 0;
      if (fill) {
        long t0 = System.nanoTime();
        fill(store, n, now);
        System.out.printf("filled %d Observations in %.1f s%n", n, (System.nanoTime() - t0) / 1e9);
      }
      System.out.println("Observations: " + store.summary().total());
      Vertx vertx = Vertx.vertx();
      Router router = Router.router(vertx);
      new Console(store, Clock.systemUTC(), Map::of, postgres ? "postgres" : "sqlite")
          .mount(router);
      HttpServer server =
          vertx
              .createHttpServer()
              .requestHandler(router)
              .listen(0, "127.0.0.1")
              .toCompletionStage()
              .toCompletableFuture()
              .join();
      String base = "http://127.0.0.1:" + server.actualPort();
      String detail = firstDetail(store);
      String repeatNs = detail.split("/")[2];
      String repeatName = detail.split("/")[3];
      Map<String, String> pages = new LinkedHashMap<>();
      pages.put("overview (/), store unchanged", "/");
      pages.put("overview (/), after a write each time", "/?after-write");
      pages.put("first list page (/findings)", "/findings");
      pages.put("list sorted by severity", "/findings?sort=severity");
      pages.put("filtered: namespace", "/findings?namespace=ns-7");
      pages.put("filtered: source+severity", "/findings?source=trivy&severity=critical");
      pages.put("filtered: resource", "/findings?kind=Deployment&namespace=ns-7&resource=app-7-3");
      pages.put("filtered: free text CVE id", "/findings?q=cve-2024-1234");
      pages.put("filtered: last seen 24h, all states", "/findings?since=24h&state=all");
      pages.put("detail", detail);
      pages.put("live check (/console/stamp)", "/console/stamp");
      HttpClient http = HttpClient.newHttpClient();
      System.out.printf("%-40s %8s %8s %8s %8s%n", "page", "p50 ms", "p95 ms", "max ms", "bytes");
      for (Map.Entry<String, String> e : pages.entrySet()) {
        long[] times = new long[RUNS];
        int bytes = 0;
        for (int i = 0; i < WARMUP + RUNS; i++) {
          if (e.getValue().endsWith("?after-write")) {
            // A repeat of one finding moves the store's state: the overview is computed afresh.
            store.addRepeats(
                List.of(new io.kubezen.watcher.store.Repeat(repeatNs, repeatName, 1, null)));
          }
          long t0 = System.nanoTime();
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(URI.create(base + e.getValue())).build(),
                  HttpResponse.BodyHandlers.ofString());
          long t = System.nanoTime() - t0;
          if (r.statusCode() != 200) {
            throw new IllegalStateException(
                e.getValue() + " answered " + r.statusCode() + ": " + r.body());
          }
          bytes = r.body().length();
          if (i >= WARMUP) {
            times[i - WARMUP] = t;
          }
        }
        Arrays.sort(times);
        System.out.printf(
            "%-40s %8.1f %8.1f %8.1f %8d%n",
            e.getKey(),
            times[RUNS / 2] / 1e6,
            times[RUNS * 95 / 100] / 1e6,
            times[RUNS - 1] / 1e6,
            bytes);
      }
      server.close();
      vertx.close();
    }
  }

  static String firstDetail(ObservationStore store) {
    Observation o =
        store
            .findings(
                io.kubezen.watcher.store.FindingsQuery.first(
                    FindingFilter.NONE, io.kubezen.watcher.store.FindingSort.LAST_SEEN, 1))
            .items()
            .get(0);
    return "/findings/" + o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
  }

  static void fill(ObservationStore store, int n, Instant now) {
    Random rnd = new Random(42);
    List<Observation> batch = new ArrayList<>();
    List<ObservationKey> resolve = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String source = SOURCES[pick(rnd, new int[] {40, 20, 15, 10, 8, 4, 3})];
      Severity sev = Severity.values()[pick(rnd, new int[] {5, 15, 35, 30, 15})];
      int ns = rnd.nextInt(40);
      int app = rnd.nextInt(100);
      String namespace = "ns-" + ns;
      ResourceRef res =
          switch (source) {
            case "kube-bench" -> ResourceRef.of("v1", "Node", null, "node-" + rnd.nextInt(20));
            case "falco" ->
                ResourceRef.of(
                    "v1", "Pod", namespace, "app-" + ns + "-" + app + "-" + rnd.nextInt(5));
            default -> ResourceRef.of("apps/v1", "Deployment", namespace, "app-" + ns + "-" + app);
          };
      Map<String, Object> details = new LinkedHashMap<>();
      String title;
      switch (source) {
        case "trivy" -> {
          String cve = "CVE-20" + (18 + rnd.nextInt(7)) + "-" + (1000 + rnd.nextInt(40000));
          details.put("vulnerabilityID", cve);
          details.put("primaryLink", "https://avd.aquasec.com/nvd/" + cve.toLowerCase());
          details.put("installedVersion", "1." + rnd.nextInt(9));
          title = cve + " in libssl3";
        }
        case "falco" -> {
          details.put("rule", "Terminal shell in container " + rnd.nextInt(18));
          title = "A shell was spawned in a container (user=root container=nginx)";
        }
        case "kyverno" -> {
          details.put("policy", "require-labels-" + rnd.nextInt(30));
          details.put("rule", "check-labels");
          title = "validation error: label app.kubernetes.io/name is required";
        }
        default -> {
          details.put("rule", source + "-rule-" + rnd.nextInt(50));
          title = source + " finding " + rnd.nextInt(500);
        }
      }
      Instant first = now.minusSeconds(rnd.nextInt(30 * 86400));
      Instant last =
          first.plusSeconds(
              rnd.nextInt((int) Math.max(1, Duration.between(first, now).getSeconds())));
      String name = source + "-" + String.format("%016x", rnd.nextLong());
      Observation o = new Observation();
      o.setMetadata(
          new ObjectMetaBuilder()
              .withName(name)
              .withNamespace(res.namespace() == null ? "zen-system" : res.namespace())
              .build());
      o.setSpec(
          new ObservationSpec(
              source,
              sev.ordinal() < 2 ? Category.SECURITY : Category.COMPLIANCE,
              sev,
              source.replace('-', '_') + "_finding",
              res,
              title,
              details,
              first.toString(),
              "0".repeat(64),
              null,
              i % 2 == 0 ? "prod" : "staging"));
      o.setStatus(ObservationStatus.seen(1 + rnd.nextInt(50), first.toString(), last.toString()));
      batch.add(o);
      if (rnd.nextInt(10) == 0) {
        resolve.add(new ObservationKey(o.getMetadata().getNamespace(), name));
      }
      if (batch.size() == 1000) {
        store.createOrMerge(batch);
        batch.clear();
      }
    }
    store.createOrMerge(batch);
    for (int i = 0; i < resolve.size(); i += 1000) {
      store.resolve(
          resolve.subList(i, Math.min(resolve.size(), i + 1000)),
          now.minusSeconds(rnd.nextInt(7 * 86400)));
    }
  }

  static int pick(Random rnd, int[] weights) {
    int total = Arrays.stream(weights).sum();
    int r = rnd.nextInt(total);
    for (int i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) {
        return i;
      }
    }
    return weights.length - 1;
  }
}
