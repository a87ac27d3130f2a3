package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.kube.BuiltInSources;
import io.kubezen.watcher.kube.WatchedSource;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.SourceKind;
import io.kubezen.watcher.source.falco.FalcoNormalizer;
import io.kubezen.watcher.testing.KubeApiServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The high-availability chaos test (issue 4): three zen-watcher jar processes in Kubernetes mode
 * with builtin leader election and short leases against the real API server, under webhook load and
 * changing watched objects, while the leader is SIGKILLed twice and SIGTERMed once (each killed
 * replica restarts under the same POD_NAME). At the end: every acknowledged alert, every finding of
 * the final reports and every Warning Event has exactly one Observation, nothing is duplicated, and
 * no two replicas ever held leader work at once (from the replicas' JSON logs: {@code leader work
 * started/stopped}, and independently the informers' own {@code watched sources starting/stopped};
 * a SIGKILLed replica's work ends when it is dead). Prints the measured takeover times. The chaos
 * happens on top of thousands of findings already stored ({@link #BACKGROUND_REPORTS} static Trivy
 * reports of {@link #BACKGROUND_VULNS} vulnerabilities: 2,000 by default, 10,000 with {@code
 * -Dchaos.backgroundReports=100}), which the same checks cover: each has exactly one Observation,
 * open, through every takeover.
 *
 * <p>Bounded: every wait has a deadline, the whole test a 9 minute timeout, and every process it
 * started is killed in {@link #tearDown} whatever happens. All on 127.0.0.1; the replicas' logs
 * stay in {@code target/chaos-it/} for diagnosis.
 */
class ChaosIT {
  static final int REPLICAS = 3;
  static final int ALERTS = 300;
  static final int CLIENT_THREADS = 3;
  static final Duration LOAD = Duration.ofSeconds(50);
  static final int MUTATION_STEPS = 60;
  static final int TRIVY_REPORTS = 5;
  static final int KYVERNO_REPORTS = 4;
  static final int KYVERNO_POLICIES = 4;
  static final int VULN_POOL = 6;

  /**
   * Findings already present when the chaos starts: static Trivy reports of this many
   * vulnerabilities each ({@code -Dchaos.backgroundReports=100 -Dchaos.backgroundVulns=100} for
   * 10k). The CI default, 20 x 100 = 2,000, keeps the test within a few minutes.
   */
  static final int BACKGROUND_REPORTS = Integer.getInteger("chaos.backgroundReports", 20);

  static final int BACKGROUND_VULNS = Integer.getInteger("chaos.backgroundVulns", 100);

  /**
   * How long the first leader may take to store the background findings (bounded: not a benchmark).
   */
  static final Duration BACKGROUND_BOUND =
      Duration.ofSeconds(Long.getLong("chaos.backgroundSeconds", 240));

  static final long DEDUP_WINDOW_SECONDS = 60;
  static final Duration LEASE = Duration.ofSeconds(4);
  static final Duration RETRY = Duration.ofSeconds(1);

  /**
   * A crashed leader's Lease expires within LEASE of the kill; one RETRY later a follower holds it.
   * Slack for 2 loaded cores.
   */
  static final Duration CRASH_TAKEOVER_BOUND = LEASE.plus(RETRY).plusSeconds(3);

  /** A graceful leader releases the Lease: a follower must not have to wait for it to expire. */
  static final Duration GRACEFUL_TAKEOVER_BOUND = LEASE;

  static final Duration SHUTDOWN = Duration.ofSeconds(20);

  static final String STARTED = "leader work started";
  static final String STOPPED = "leader work stopped";
  static final String INFORMERS_STARTED = "watched sources starting";
  static final String INFORMERS_STOPPED = "watched sources stopped";

  static final ResourceDefinitionContext VULN =
      WatchedSource.context(
          "aquasecurity.github.io",
          "v1alpha1",
          "vulnerabilityreports",
          "VulnerabilityReport",
          true);
  static final ResourceDefinitionContext POLICY =
      WatchedSource.context("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport", true);
  static final ResourceDefinitionContext EVENTS =
      WatchedSource.context("events.k8s.io", "v1", "events", "Event", true);

  final JarRunner jar = new JarRunner();
  final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(2))
          .build();
  final List<Replica> replicas = new ArrayList<>();
  final List<Kill> kills = new CopyOnWriteArrayList<>();
  final List<String> problems = new CopyOnWriteArrayList<>();
  ExecutorService workers;
  Path dir;
  String ns;
  KubernetesClient k;
  Map<String, String> env;

  /** One run of a replica's process. */
  static final class Life {
    final String pod;
    final int number;
    final Running run;
    volatile Instant endedAt;
    volatile String end;

    Life(String pod, int number, Running run) {
      this.pod = pod;
      this.number = number;
      this.run = run;
    }

    boolean alive() {
      return endedAt == null && run.process().isAlive();
    }

    String base() {
      return "http://127.0.0.1:" + run.port();
    }

    @Override
    public String toString() {
      return pod + "#" + number;
    }
  }

  /** A POD_NAME and its successive processes. */
  static final class Replica {
    final String pod;
    final List<Life> lives = new CopyOnWriteArrayList<>();
    volatile Life current;

    Replica(String pod) {
      this.pod = pod;
    }
  }

  record Kill(Life victim, String signal, Instant at, Instant dead) {}

  record Line(Instant at, Life life, String message, JsonNode json) {}

  record Interval(Life life, Instant from, Instant to, boolean closed) {}

  @AfterEach
  void tearDown() throws Exception {
    if (workers != null) {
      workers.shutdownNow();
    }
    for (Replica r : replicas) {
      for (Life l : r.lives) {
        if (l.run.process().isAlive()) {
          JarRunner.kill(l.run);
          if (l.endedAt == null) {
            l.endedAt = Instant.now();
            l.end = "teardown";
          }
        }
      }
    }
  }

  @Test
  @Timeout(value = 9, unit = TimeUnit.MINUTES)
  void leaderKillsUnderLoadLoseNothingDuplicateNothingAndNeverOverlap() throws Exception {
    long t0 = System.nanoTime();
    KubeApiServer.applyZenCrds();
    k = KubeApiServer.client();
    ns = KubeApiServer.uniqueNamespace("chaos");
    dir = Files.createDirectories(Path.of("target", "chaos-it", ns)).toAbsolutePath();
    env = new LinkedHashMap<>();
    env.put("OBSERVATION_STORE", "kubernetes");
    env.put("KUBECONFIG", KubeApiServer.kubeconfig().toString());
    env.put("POD_NAMESPACE", ns);
    env.put("WATCH_NAMESPACE", ns);
    env.put("INGESTER_NAMESPACE", ns);
    env.put("SOURCES", "trivy,kyverno,k8s-events");
    env.put("LOG_FORMAT", "json");
    env.put("LEADER_ELECTION_MODE", "builtin");
    env.put("LEADER_ELECTION_LEASE_DURATION", LEASE.toSeconds() + "s");
    env.put("LEADER_ELECTION_RENEW_DEADLINE", "3s");
    env.put("LEADER_ELECTION_RETRY_PERIOD", RETRY.toSeconds() + "s");
    env.put("SHUTDOWN_TIMEOUT", SHUTDOWN.toSeconds() + "s");
    env.put("DEDUP_WINDOW_SECONDS", Long.toString(DEDUP_WINDOW_SECONDS));
    // -Dchaos.logLevel=debug for the replicas' debug logs when looking into a failure.
    env.put("LOG_LEVEL", System.getProperty("chaos.logLevel", "info"));
    System.out.printf("chaos: namespace %s, logs in %s%n", ns, dir);

    // Thousands of findings already there: every takeover below happens on top of them.
    for (int r = 0; r < BACKGROUND_REPORTS; r++) {
      k.genericKubernetesResources(VULN)
          .inNamespace(ns)
          .resource(backgroundReport(r, BACKGROUND_VULNS))
          .create();
    }
    int background = BACKGROUND_REPORTS * BACKGROUND_VULNS;

    for (int i = 0; i < REPLICAS; i++) {
      replicas.add(new Replica("zw-" + i));
    }
    for (Replica r : replicas) {
      start(r);
    }
    for (Replica r : replicas) {
      jar.awaitReady(r.current.run);
    }
    Life first = awaitLeader(null, Instant.EPOCH, Duration.ofSeconds(30));
    System.out.printf(
        "chaos: replicas ready after %d ms, first leader %s%n", millisSince(t0), first);
    long bgStart = System.nanoTime();
    await(
        background + " background findings stored",
        BACKGROUND_BOUND,
        () -> observations().size() >= background);
    System.out.printf(
        "chaos: %d background findings stored %d ms after the first leader (%d ms after start)%n",
        background, millisSince(bgStart), millisSince(t0));

    // Load: alerts round-robin over the replicas, and watched objects created and changed.
    Instant alertTime = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    AlertLoad alerts = new AlertLoad(alertTime);
    Mutations mutations = new Mutations();
    workers = Executors.newFixedThreadPool(CLIENT_THREADS + 1);
    long loadStart = System.nanoTime();
    List<Future<?>> load = new ArrayList<>();
    for (int t = 0; t < CLIENT_THREADS; t++) {
      load.add(workers.submit(() -> alerts.run(loadStart)));
    }
    load.add(workers.submit(() -> mutations.run(loadStart)));
    BooleanSupplier loadDone = () -> load.stream().allMatch(Future::isDone);

    // Chaos: SIGKILL, SIGKILL, SIGTERM, each on the leader of the moment, each after the previous
    // takeover and some load on the new leader.
    Life leader = first;
    for (String signal : List.of("SIGKILL", "SIGKILL", "SIGTERM")) {
      int acked = alerts.acked.size();
      int steps = mutations.done.get();
      await(
          "load progress before " + signal,
          Duration.ofSeconds(30),
          () ->
              loadDone.getAsBoolean()
                  || (alerts.acked.size() >= acked + 40 && mutations.done.get() >= steps + 4));
      leader = currentLeader().orElse(leader);
      Kill kill = kill(leader, signal);
      System.out.printf("chaos: %s %s at +%d ms%n", signal, leader, millisSince(loadStart));
      Replica r = replica(leader.pod);
      start(r);
      leader = awaitLeader(leader, kill.at(), Duration.ofSeconds(30));
      System.out.printf("chaos: new leader %s at +%d ms%n", leader, millisSince(loadStart));
      jar.awaitReady(r.current.run);
    }

    for (Future<?> f : load) {
      f.get(LOAD.toSeconds() + 90, TimeUnit.SECONDS);
    }
    System.out.printf(
        "chaos: load done at +%d ms: %d of %d alerts acknowledged (%s), %d mutation steps%n",
        millisSince(loadStart), alerts.acked.size(), ALERTS, alerts.retries, mutations.done.get());

    // Settle: the final leader has synced, and every expected Observation is there.
    Life last = leader;
    await("the last leader's sources synced", Duration.ofSeconds(30), () -> synced(last));
    Expected expected = expected(alerts);
    long settleStart = System.nanoTime();
    await(
        "every expected Observation, and the report findings no longer reported resolved",
        Duration.ofSeconds(60),
        () -> {
          List<Observation> now = observations();
          Set<String> names =
              now.stream().map(o -> o.getMetadata().getName()).collect(Collectors.toSet());
          return names.containsAll(expected.all())
              && openReportFindings(now).equals(expected.reports());
        });
    System.out.printf(
        "chaos: settled at +%d ms (%d ms after the load)%n",
        millisSince(loadStart), millisSince(settleStart));
    List<Observation> all = observations();
    saveMetrics();

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(problems).as("errors of the load and mutation threads").isEmpty();
    soft.assertThat(alerts.acked).as("alerts acknowledged").hasSize(ALERTS);
    checkObservations(soft, all, expected, alerts);
    checkLeaderWork(soft);
    reportTakeovers(soft);
    soft.assertThat(lease()).as("the Lease").isPresent();
    System.out.printf("chaos: whole test %d ms%n", millisSince(t0));
    soft.assertAll();
  }

  // --- processes ---

  void start(Replica r) throws Exception {
    Map<String, String> e = new HashMap<>(env);
    e.put("POD_NAME", r.pod);
    Running run =
        jar.start(dir, e, List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"));
    Life l = new Life(r.pod, r.lives.size(), run);
    r.lives.add(l);
    r.current = l;
  }

  Replica replica(String pod) {
    return replicas.stream().filter(r -> r.pod.equals(pod)).findFirst().orElseThrow();
  }

  Kill kill(Life victim, String signal) throws Exception {
    Instant at = Instant.now();
    if (signal.equals("SIGKILL")) {
      JarRunner.kill(victim.run);
    } else {
      boolean exited = JarRunner.terminate(victim.run, SHUTDOWN.plusSeconds(5));
      if (!exited) {
        problems.add(
            victim
                + " did not exit within "
                + SHUTDOWN.plusSeconds(5).toSeconds()
                + " s of SIGTERM");
      } else if (victim.run.process().exitValue() != 143 && victim.run.process().exitValue() != 0) {
        problems.add(
            victim + " exited with " + victim.run.process().exitValue() + " after SIGTERM");
      }
    }
    Instant dead = Instant.now();
    // A SIGKILLed replica's work ends when it is dead; a SIGTERMed one must say so in its log.
    victim.endedAt = dead;
    victim.end = signal;
    Kill k = new Kill(victim, signal, at, dead);
    kills.add(k);
    return k;
  }

  // --- leadership, from the logs ---

  /**
   * Whether the contract's lines appear at all; before leader election exists only the informers'
   * lines do.
   */
  boolean contractLines() {
    return allLives().stream()
        .anyMatch(l -> lines(l).stream().anyMatch(x -> x.message().startsWith(STARTED)));
  }

  /**
   * The live replica whose last leader-work line is a start (the first such, when there are
   * several).
   */
  Optional<Life> currentLeader() {
    boolean contract = contractLines();
    String start = contract ? STARTED : INFORMERS_STARTED;
    String stop = contract ? STOPPED : INFORMERS_STOPPED;
    for (Replica r : replicas) {
      Life l = r.current;
      if (l == null || !l.alive()) {
        continue;
      }
      String lastLine = null;
      for (Line x : lines(l)) {
        if (x.message().startsWith(start) || x.message().startsWith(stop)) {
          lastLine = x.message();
        }
      }
      if (lastLine != null && lastLine.startsWith(start)) {
        return Optional.of(l);
      }
    }
    return Optional.empty();
  }

  /**
   * Awaits a live leader other than {@code previous} that started its leader work after {@code
   * since}.
   */
  Life awaitLeader(Life previous, Instant since, Duration within) throws Exception {
    Life[] found = new Life[1];
    await(
        "a leader other than " + previous,
        within,
        () -> {
          Optional<Life> l = currentLeader();
          if (l.isEmpty() || l.get() == previous) {
            return false;
          }
          boolean contract = contractLines();
          String start = contract ? STARTED : INFORMERS_STARTED;
          boolean startedSince =
              lines(l.get()).stream()
                  .anyMatch(
                      x ->
                          x.message().startsWith(start)
                              && !x.at().isBefore(since.truncatedTo(ChronoUnit.MILLIS)));
          if (startedSince) {
            found[0] = l.get();
          }
          return startedSince;
        });
    return found[0];
  }

  List<Life> allLives() {
    return replicas.stream().flatMap(r -> r.lives.stream()).toList();
  }

  /** The JSON log lines of one process, in order (a line being written is skipped). */
  static List<Line> lines(Life life) {
    List<Line> out = new ArrayList<>();
    String text;
    try {
      text = Files.readString(life.run.log(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    for (String s : text.split("\n")) {
      if (!s.startsWith("{") || !s.endsWith("}")) {
        continue;
      }
      try {
        JsonNode n = Json.MAPPER.readTree(s);
        JsonNode ts = n.get("@timestamp");
        if (ts == null) {
          continue;
        }
        out.add(
            new Line(
                OffsetDateTime.parse(ts.asText()).toInstant(),
                life,
                n.path("message").asText(""),
                n));
      } catch (IOException | RuntimeException notJson) {
        // not a log line of ours
      }
    }
    return out;
  }

  /**
   * [start, stop] of every life; an open one ends when its process was found dead (or now, if
   * alive).
   */
  List<Interval> intervals(String start, String stop, List<String> anomalies) {
    List<Interval> out = new ArrayList<>();
    for (Life l : allLives()) {
      Instant open = null;
      for (Line x : lines(l)) {
        if (x.message().startsWith(start)) {
          if (open != null) {
            anomalies.add(
                l
                    + ": '"
                    + start
                    + "' twice without '"
                    + stop
                    + "' ("
                    + open
                    + ", "
                    + x.at()
                    + ")");
          } else {
            open = x.at();
          }
        } else if (x.message().startsWith(stop)) {
          if (open != null) {
            out.add(new Interval(l, open, x.at(), true));
            open = null;
          }
        }
      }
      if (open != null) {
        Instant end = l.endedAt != null ? l.endedAt : Instant.now();
        if ("SIGTERM".equals(l.end)) {
          anomalies.add(
              l + ": SIGTERMed while holding '" + start + "' and never logged '" + stop + "'");
        }
        out.add(new Interval(l, open, end, false));
      }
    }
    out.sort(Comparator.comparing(Interval::from));
    return out;
  }

  void checkLeaderWork(SoftAssertions soft) {
    for (String[] pair :
        List.of(
            new String[] {STARTED, STOPPED}, new String[] {INFORMERS_STARTED, INFORMERS_STOPPED})) {
      List<String> anomalies = new ArrayList<>();
      List<Interval> iv = intervals(pair[0], pair[1], anomalies);
      List<String> overlaps = new ArrayList<>();
      for (int i = 0; i < iv.size(); i++) {
        for (int j = i + 1; j < iv.size(); j++) {
          Interval a = iv.get(i);
          Interval b = iv.get(j);
          if (a.life() != b.life() && a.from().isBefore(b.to()) && b.from().isBefore(a.to())) {
            overlaps.add(
                a.life() + " [" + a.from() + ", " + a.to() + "] and " + b.life() + " [" + b.from()
                    + ", " + b.to() + "]");
          }
        }
      }
      System.out.printf(
          "chaos: '%s' intervals: %s%n",
          pair[0],
          iv.stream()
              .map(
                  x ->
                      x.life()
                          + " "
                          + x.from()
                          + " .. "
                          + x.to()
                          + (x.closed() ? "" : " (" + x.life().end + ")"))
              .toList());
      // One leader at the start and one after each of the three kills, at least.
      soft.assertThat(iv)
          .as("'%s' intervals", pair[0])
          .hasSizeGreaterThanOrEqualTo(1 + kills.size());
      soft.assertThat(overlaps)
          .as("replicas holding leader work ('%s' .. '%s') at the same time", pair[0], pair[1])
          .isEmpty();
      soft.assertThat(anomalies).as("leader-work log anomalies ('%s')", pair[0]).isEmpty();
    }
  }

  void reportTakeovers(SoftAssertions soft) {
    List<Line> starts =
        allLives().stream()
            .flatMap(l -> lines(l).stream())
            .filter(x -> x.message().startsWith(STARTED))
            .sorted(Comparator.comparing(Line::at))
            .toList();
    for (Kill kill : kills) {
      Optional<Line> next =
          starts.stream()
              .filter(
                  x ->
                      x.life() != kill.victim()
                          && !x.at().isBefore(kill.at().truncatedTo(ChronoUnit.MILLIS)))
              .findFirst();
      if (next.isEmpty()) {
        soft.fail(
            "no replica started leader work after the %s of %s", kill.signal(), kill.victim());
        continue;
      }
      Duration takeover = Duration.between(kill.at(), next.get().at());
      Optional<String> failover =
          allLives().stream()
              .flatMap(l -> lines(l).stream())
              .filter(
                  x ->
                      x.life() == next.get().life()
                          && x.message().startsWith("leadership acquired")
                          && !x.at().isAfter(next.get().at()))
              .reduce((a, b) -> b)
              .map(x -> x.json().path("failoverMillis").asText("?"));
      System.out.printf(
          "chaos: takeover after %s of %s: %d ms (by %s; its failoverMillis %s)%n",
          kill.signal(),
          kill.victim(),
          takeover.toMillis(),
          next.get().life(),
          failover.orElse("n/a"));
      Duration bound =
          kill.signal().equals("SIGKILL") ? CRASH_TAKEOVER_BOUND : GRACEFUL_TAKEOVER_BOUND;
      soft.assertThat(takeover).as("takeover after %s", kill.signal()).isLessThanOrEqualTo(bound);
    }
  }

  HttpResponse<String> get(String url) throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Each live replica's /metrics beside its logs, for diagnosis. */
  void saveMetrics() {
    for (Replica r : replicas) {
      Life l = r.current;
      try {
        if (l.alive()) {
          Files.writeString(
              dir.resolve("metrics-" + l + ".txt"), get(l.base() + "/metrics").body());
        }
      } catch (IOException e) {
        System.out.printf("chaos: no metrics from %s: %s%n", l, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  Optional<Lease> lease() {
    return Optional.ofNullable(
        k.leases().inNamespace(ns).withName("zen-watcher-leader-election").get());
  }

  boolean synced(Life l) {
    try {
      HttpResponse<String> r = get(l.base() + "/ready");
      if (r.statusCode() != 200) {
        return false;
      }
      JsonNode sources = Json.MAPPER.readTree(r.body()).path("sources");
      // The core v1 events informer cannot sync on kube-apiext (no built-in types): the others
      // must.
      boolean ok = sources.size() > 0;
      for (var e : (Iterable<Map.Entry<String, JsonNode>>) sources::fields) {
        String status = e.getValue().asText();
        if (!e.getKey().equals("k8s-events:v1/events")
            && !status.startsWith("synced")
            && !status.startsWith("cluster-scoped")) {
          ok = false;
        }
      }
      return ok;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  // --- webhook load ---

  /**
   * N distinct Falco alerts, each acknowledged by one replica or given up after bounded retries.
   */
  final class AlertLoad {
    static final int MAX_ATTEMPTS = 30;
    final Instant time;
    final AtomicInteger next = new AtomicInteger();
    final Set<Integer> acked = ConcurrentHashMap.newKeySet();
    final Map<String, AtomicInteger> retries = new ConcurrentHashMap<>();

    AlertLoad(Instant time) {
      this.time = time;
    }

    String alert(int i) {
      ObjectNode a = Json.MAPPER.createObjectNode();
      a.put("time", time.toString());
      a.put("rule", "Terminal shell in container");
      a.put("priority", "Warning");
      a.put("source", "syscall");
      a.put("hostname", "node-" + (i % 3));
      a.put(
          "output",
          "A shell was spawned in a container with an attached terminal (user=root pod=chaos-"
              + i
              + ")");
      ObjectNode f = a.putObject("output_fields");
      f.put("k8s.ns.name", ns);
      f.put("k8s.pod.name", "chaos-" + i);
      f.put("container.id", containerId(i));
      f.put("container.name", "app");
      f.put("proc.cmdline", "sh -i");
      f.put("user.name", "root");
      a.putArray("tags").add("container").add("shell");
      return a.toString();
    }

    static String containerId(int i) {
      return String.format(Locale.ROOT, "c%011x", 0xA00000L + i);
    }

    void run(long loadStart) {
      long deadline = loadStart + LOAD.plusSeconds(60).toNanos();
      for (int i = next.getAndIncrement(); i < ALERTS; i = next.getAndIncrement()) {
        pace(loadStart + LOAD.toNanos() * i / ALERTS);
        send(i, deadline);
      }
    }

    void send(int i, long deadline) {
      String body = alert(i);
      for (int attempt = 0; attempt < MAX_ATTEMPTS && System.nanoTime() < deadline; attempt++) {
        Life l = replicas.get((i + attempt) % REPLICAS).current;
        String outcome;
        try {
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(URI.create(l.base() + "/ingest/falco"))
                      .timeout(Duration.ofSeconds(5))
                      .header("Content-Type", "application/json")
                      .POST(HttpRequest.BodyPublishers.ofString(body))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() == 200) {
            acked.add(i);
            return;
          }
          if (r.statusCode() != 503 && r.statusCode() != 429 && r.statusCode() < 500) {
            problems.add(
                "alert " + i + ": HTTP " + r.statusCode() + " from " + l + ": " + r.body());
            return;
          }
          outcome = "http " + r.statusCode();
        } catch (java.net.http.HttpTimeoutException e) {
          outcome = "timeout";
        } catch (IOException e) {
          outcome = "connection";
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        retries.computeIfAbsent(outcome, x -> new AtomicInteger()).incrementAndGet();
        sleepMillis(Math.min(500, 25L << Math.min(attempt, 5)));
      }
      problems.add("alert " + i + " never acknowledged");
    }
  }

  // --- watched objects ---

  /**
   * Creates and changes VulnerabilityReports, PolicyReports and Warning Events on a fixed schedule.
   */
  final class Mutations {
    final AtomicInteger done = new AtomicInteger();
    final int[] trivyVersion = new int[TRIVY_REPORTS];
    final int[] kyvernoVersion = new int[KYVERNO_REPORTS];
    final List<String> events = new CopyOnWriteArrayList<>();

    Mutations() {
      java.util.Arrays.fill(trivyVersion, -1);
      java.util.Arrays.fill(kyvernoVersion, -1);
    }

    void run(long loadStart) {
      try {
        for (int s = 0; s < MUTATION_STEPS; s++) {
          pace(loadStart + LOAD.toNanos() * s / MUTATION_STEPS);
          step(s);
          done.incrementAndGet();
        }
      } catch (RuntimeException e) {
        problems.add("mutation step " + done.get() + " failed: " + e);
      }
    }

    void step(int s) {
      switch (s % 3) {
        case 0 -> {
          int r = (s / 3) % TRIVY_REPORTS;
          trivyVersion[r]++;
          k.genericKubernetesResources(VULN)
              .inNamespace(ns)
              .resource(trivyReport(r, trivyVersion[r]))
              .forceConflicts()
              .serverSideApply();
        }
        case 1 -> {
          int r = (s / 3) % KYVERNO_REPORTS;
          kyvernoVersion[r]++;
          k.genericKubernetesResources(POLICY)
              .inNamespace(ns)
              .resource(policyReport(r, kyvernoVersion[r]))
              .forceConflicts()
              .serverSideApply();
        }
        default -> {
          for (int n = 0; n < 2; n++) {
            int e = events.size();
            GenericKubernetesResource ev = event(e, Instant.now(), null);
            k.genericKubernetesResources(EVENTS).inNamespace(ns).resource(ev).create();
            events.add(ev.getMetadata().getName());
          }
          // Kubernetes counts a repeat into the same Event: series.count and lastObservedTime.
          int e = (s / 3) % events.size();
          k.genericKubernetesResources(EVENTS)
              .inNamespace(ns)
              .withName(events.get(e))
              .edit(
                  ev -> {
                    Instant at =
                        OffsetDateTime.parse((String) ev.getAdditionalProperties().get("eventTime"))
                            .toInstant();
                    long bucketEnd =
                        Math.floorDiv(at.getEpochSecond(), DEDUP_WINDOW_SECONDS)
                                * DEDUP_WINDOW_SECONDS
                            + DEDUP_WINDOW_SECONDS
                            - 1;
                    @SuppressWarnings("unchecked")
                    Map<String, Object> series =
                        (Map<String, Object>) ev.getAdditionalProperties().get("series");
                    int count = series == null ? 2 : ((Number) series.get("count")).intValue() + 1;
                    // Stays in the dedup window's bucket of the first sighting, so it stays one
                    // Observation.
                    Instant last =
                        Instant.ofEpochSecond(Math.min(at.getEpochSecond() + count, bucketEnd));
                    ev.getAdditionalProperties()
                        .put("series", Map.of("count", count, "lastObservedTime", micro(last)));
                    return ev;
                  });
        }
      }
    }
  }

  static void pace(long dueNanos) {
    long wait = dueNanos - System.nanoTime();
    if (wait > 0) {
      sleepMillis(TimeUnit.NANOSECONDS.toMillis(wait));
    }
  }

  static String micro(Instant t) {
    return t.truncatedTo(ChronoUnit.MICROS).toString();
  }

  GenericKubernetesResource trivyReport(int r, int version) {
    String[] severities = {"CRITICAL", "HIGH", "MEDIUM", "LOW"};
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("apiVersion", "aquasecurity.github.io/v1alpha1");
    o.put("kind", "VulnerabilityReport");
    ObjectNode md = o.putObject("metadata");
    md.put("name", "replicaset-app" + r + "-5d8f7-main");
    md.put("namespace", ns);
    ObjectNode labels = md.putObject("labels");
    labels.put("trivy-operator.resource.kind", "ReplicaSet");
    labels.put("trivy-operator.resource.name", "app" + r + "-5d8f7");
    labels.put("trivy-operator.resource.namespace", ns);
    labels.put("trivy-operator.container.name", "main");
    ObjectNode rep = o.putObject("report");
    rep.put("updateTimestamp", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    rep.putObject("artifact").put("repository", "library/app" + r).put("tag", "1." + r);
    rep.putObject("registry").put("server", "index.docker.io");
    rep.putObject("os").put("family", "debian").put("name", "12.5");
    rep.putObject("scanner")
        .put("name", "Trivy")
        .put("vendor", "Aqua Security")
        .put("version", "0.50.0");
    int[] counts = new int[4];
    ArrayNode vulns = rep.putArray("vulnerabilities");
    // A window of 3 over a pool of 6: each new version drops one vulnerability and adds another.
    for (int v = version; v < version + 3; v++) {
      int idx = v % VULN_POOL;
      int sev = (idx + r) % 4;
      counts[sev]++;
      vulns
          .addObject()
          .put("vulnerabilityID", "CVE-2024-" + (10000 + r * 100 + idx))
          .put("resource", "libpkg" + idx)
          .put("installedVersion", "1." + idx + ".0")
          .put("fixedVersion", "1." + idx + ".1")
          .put("severity", severities[sev])
          .put("score", 9.8 - sev * 2)
          .put("title", "example vulnerability " + idx)
          .put("primaryLink", "https://avd.aquasec.com/nvd/cve-2024-" + (10000 + r * 100 + idx))
          .put("publishedDate", "2024-01-09T10:00:00Z")
          .put("lastModifiedDate", "2024-02-01T10:00:00Z");
    }
    rep.putObject("summary")
        .put("criticalCount", counts[0])
        .put("highCount", counts[1])
        .put("mediumCount", counts[2])
        .put("lowCount", counts[3])
        .put("unknownCount", 0);
    return Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
  }

  /**
   * A static report of {@code vulns} vulnerabilities: findings present before and throughout the
   * chaos.
   */
  GenericKubernetesResource backgroundReport(int r, int vulns) {
    String[] severities = {"CRITICAL", "HIGH", "MEDIUM", "LOW"};
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("apiVersion", "aquasecurity.github.io/v1alpha1");
    o.put("kind", "VulnerabilityReport");
    ObjectNode md = o.putObject("metadata");
    md.put("name", "replicaset-bg" + r + "-5d8f7-main");
    md.put("namespace", ns);
    ObjectNode labels = md.putObject("labels");
    labels.put("trivy-operator.resource.kind", "ReplicaSet");
    labels.put("trivy-operator.resource.name", "bg" + r + "-5d8f7");
    labels.put("trivy-operator.resource.namespace", ns);
    labels.put("trivy-operator.container.name", "main");
    ObjectNode rep = o.putObject("report");
    rep.put("updateTimestamp", "2024-05-01T10:00:00Z");
    rep.putObject("artifact").put("repository", "library/bg" + r).put("tag", "1.0");
    rep.putObject("registry").put("server", "index.docker.io");
    rep.putObject("os").put("family", "debian").put("name", "12.5");
    rep.putObject("scanner")
        .put("name", "Trivy")
        .put("vendor", "Aqua Security")
        .put("version", "0.50.0");
    ArrayNode list = rep.putArray("vulnerabilities");
    for (int v = 0; v < vulns; v++) {
      list.addObject()
          .put("vulnerabilityID", "CVE-2023-" + (100000 + v))
          .put("resource", "bgpkg" + v)
          .put("installedVersion", "1." + v + ".0")
          .put("fixedVersion", "1." + v + ".1")
          .put("severity", severities[(v + r) % 4])
          .put("score", 7.5)
          .put("title", "background vulnerability " + v)
          .put("primaryLink", "https://avd.aquasec.com/nvd/cve-2023-" + (100000 + v))
          .put("publishedDate", "2023-01-09T10:00:00Z")
          .put("lastModifiedDate", "2023-02-01T10:00:00Z");
    }
    rep.putObject("summary")
        .put("criticalCount", 0)
        .put("highCount", 0)
        .put("mediumCount", 0)
        .put("lowCount", 0)
        .put("unknownCount", 0);
    return Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
  }

  static String uid(String kind, int n) {
    return UUID.nameUUIDFromBytes((kind + "-" + n).getBytes(StandardCharsets.UTF_8)).toString();
  }

  GenericKubernetesResource policyReport(int r, int version) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("apiVersion", "wgpolicyk8s.io/v1alpha2");
    o.put("kind", "PolicyReport");
    o.putObject("metadata").put("name", "pol-app" + r).put("namespace", ns);
    String uid = uid("deployment", r);
    o.putObject("scope")
        .put("apiVersion", "apps/v1")
        .put("kind", "Deployment")
        .put("name", "app" + r)
        .put("namespace", ns)
        .put("uid", uid);
    int pass = 0;
    int fail = 0;
    ArrayNode results = o.putArray("results");
    for (int p = 0; p < KYVERNO_POLICIES; p++) {
      // Results flip between fail and pass from one version to the next.
      boolean failed = (p + r + version) % 2 == 0;
      if (failed) {
        fail++;
      } else {
        pass++;
      }
      ObjectNode res = results.addObject();
      res.put("policy", "policy-" + p)
          .put("rule", "rule-" + p)
          .put("result", failed ? "fail" : "pass")
          .put("severity", p % 2 == 0 ? "high" : "medium")
          .put(
              "message",
              failed
                  ? "validation error: rule " + p + " failed"
                  : "validation rule " + p + " passed")
          .put("category", "Pod Security Standards (Baseline)")
          .put("source", "kyverno")
          .put("scored", true);
      res.putObject("timestamp").put("seconds", Instant.now().getEpochSecond()).put("nanos", 0);
      res.putArray("resources")
          .addObject()
          .put("apiVersion", "apps/v1")
          .put("kind", "Deployment")
          .put("name", "app" + r)
          .put("namespace", ns)
          .put("uid", uid);
    }
    o.putObject("summary")
        .put("pass", pass)
        .put("fail", fail)
        .put("warn", 0)
        .put("error", 0)
        .put("skip", 0);
    return Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
  }

  GenericKubernetesResource event(int e, Instant at, Map<String, Object> series) {
    boolean mount = e % 2 == 0;
    String pod = "app-pod-" + e;
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("apiVersion", "events.k8s.io/v1");
    o.put("kind", "Event");
    o.putObject("metadata")
        .put("name", pod + "." + Long.toHexString(0x17f1a2b3c4d5e600L + e))
        .put("namespace", ns);
    o.put("eventTime", micro(at));
    o.put("reportingController", "kubelet");
    o.put("reportingInstance", "node-1");
    o.put("action", mount ? "Mounting" : "Restarting");
    o.put("reason", mount ? "FailedMount" : "BackOff");
    ObjectNode regarding = o.putObject("regarding");
    regarding
        .put("kind", "Pod")
        .put("namespace", ns)
        .put("name", pod)
        .put("uid", uid("pod", e))
        .put("apiVersion", "v1");
    if (!mount) {
      regarding.put("fieldPath", "spec.containers{app}");
    }
    o.put(
        "note",
        mount
            ? "MountVolume.SetUp failed for volume \"secret-"
                + e
                + "\" : secret \"secret-"
                + e
                + "\" not found"
            : "Back-off restarting failed container app in pod " + pod + "_" + ns);
    o.put("type", "Warning");
    return Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
  }

  // --- the end state ---

  /**
   * The Observation names the pipeline gives each acknowledged alert, final report finding and
   * Event.
   */
  record Expected(Map<Integer, String> alerts, Set<String> reports, Map<String, String> events) {
    Set<String> all() {
      Set<String> s = new TreeSet<>(alerts.values());
      s.addAll(reports);
      s.addAll(events.values());
      return s;
    }
  }

  Expected expected(AlertLoad load) {
    ObservationFactory factory =
        new ObservationFactory(ns, 604_800, Duration.ofSeconds(DEDUP_WINDOW_SECONDS), null);
    FalcoNormalizer falco = new FalcoNormalizer();
    Map<Integer, String> alerts = new TreeMap<>();
    for (int i : load.acked) {
      List<Finding> f =
          falco.normalize(parse(load.alert(i)), new IngestContext(Instant.now(), Map.of()));
      assertThat(f).hasSize(1);
      alerts.put(i, factory.place(f.get(0), SourceKind.EVENT).name());
    }
    Set<String> reports = new TreeSet<>();
    for (ResourceDefinitionContext ctx : List.of(VULN, POLICY)) {
      for (GenericKubernetesResource o :
          k.genericKubernetesResources(ctx).inNamespace(ns).list().getItems()) {
        reports.addAll(placements(ctx, o, factory));
      }
    }
    Map<String, String> events = new TreeMap<>();
    for (GenericKubernetesResource o :
        k.genericKubernetesResources(EVENTS).inNamespace(ns).list().getItems()) {
      List<String> names = placements(EVENTS, o, factory);
      assertThat(names).as("findings of Event %s", o.getMetadata().getName()).hasSize(1);
      events.put(o.getMetadata().getName(), names.get(0));
    }
    return new Expected(alerts, reports, events);
  }

  static JsonNode parse(String json) {
    try {
      return Json.MAPPER.readTree(json);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static List<String> placements(
      ResourceDefinitionContext ctx, GenericKubernetesResource o, ObservationFactory factory) {
    WatchedSource w =
        BuiltInSources.all().stream()
            .filter(
                x ->
                    x.resource().getGroup().equals(ctx.getGroup())
                        && x.resource().getPlural().equals(ctx.getPlural()))
            .findFirst()
            .orElseThrow();
    io.kubezen.watcher.source.ObjectReader.Input in = w.read(o);
    if (in == null) {
      return List.of();
    }
    return w
        .normalizer()
        .normalize(in.json(), new IngestContext(Instant.now(), in.params()))
        .stream()
        .map(f -> factory.place(f, w.normalizer().kind()).name())
        .toList();
  }

  /**
   * The trivy and kyverno Observations not resolved (no status is the implicit, unresolved one).
   */
  static Set<String> openReportFindings(List<Observation> all) {
    return all.stream()
        .filter(o -> o.getSpec().source().equals("trivy") || o.getSpec().source().equals("kyverno"))
        .filter(o -> o.getStatus() == null || !Boolean.TRUE.equals(o.getStatus().resolved()))
        .map(o -> o.getMetadata().getName())
        .collect(Collectors.toCollection(TreeSet::new));
  }

  List<Observation> observations() {
    return k.resources(Observation.class).inNamespace(ns).list().getItems();
  }

  void checkObservations(
      SoftAssertions soft, List<Observation> all, Expected expected, AlertLoad load) {
    Map<String, Observation> byName =
        all.stream().collect(Collectors.toMap(o -> o.getMetadata().getName(), o -> o));
    Map<String, List<Observation>> bySource =
        all.stream().collect(Collectors.groupingBy(o -> o.getSpec().source()));
    System.out.printf(
        "chaos: %d Observations: %s; expected %d alerts, %d report findings, %d events%n",
        all.size(),
        bySource.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue().size()).toList(),
        expected.alerts().size(),
        expected.reports().size(),
        expected.events().size());

    // No two Observations of one finding.
    Map<String, List<String>> byFingerprint =
        all.stream()
            .collect(
                Collectors.groupingBy(
                    o -> o.getSpec().fingerprint(),
                    TreeMap::new,
                    Collectors.mapping(o -> o.getMetadata().getName(), Collectors.toList())));
    soft.assertThat(byFingerprint.values().stream().filter(v -> v.size() > 1).toList())
        .as("Observations sharing a fingerprint")
        .isEmpty();

    // Falco: each acknowledged alert has its Observation, and no alert (pod + container) has two.
    soft.assertThat(byName.keySet())
        .as("Observations of the acknowledged alerts")
        .containsAll(expected.alerts().values());
    Map<String, Long> perAlert =
        bySource.getOrDefault("falco", List.of()).stream()
            .collect(
                Collectors.groupingBy(
                    o ->
                        o.getSpec().resource().name()
                            + "/"
                            + o.getSpec().details().get("containerId"),
                    Collectors.counting()));
    soft.assertThat(
            perAlert.entrySet().stream()
                .filter(e -> e.getValue() > 1)
                .map(Map.Entry::getKey)
                .toList())
        .as("alerts with more than one Observation")
        .isEmpty();
    Set<String> sent = new TreeSet<>();
    for (int i = 0; i < ALERTS; i++) {
      sent.add("chaos-" + i + "/" + AlertLoad.containerId(i));
    }
    soft.assertThat(sent)
        .as("falco Observations are of sent alerts")
        .containsAll(perAlert.keySet());

    // Reports: exactly the findings of the final reports are open, once each.
    soft.assertThat(openReportFindings(all))
        .as("unresolved trivy and kyverno Observations vs the final reports' findings")
        .containsExactlyInAnyOrderElementsOf(expected.reports());
    Map<String, Long> perVuln =
        bySource.getOrDefault("trivy", List.of()).stream()
            .collect(
                Collectors.groupingBy(
                    o ->
                        o.getSpec().details().get("report")
                            + "/"
                            + o.getSpec().details().get("vulnerabilityID")
                            + "/"
                            + o.getSpec().details().get("resource"),
                    Collectors.counting()));
    soft.assertThat(
            perVuln.entrySet().stream()
                .filter(e -> e.getValue() > 1)
                .map(Map.Entry::getKey)
                .toList())
        .as("vulnerabilities with more than one Observation")
        .isEmpty();
    Map<String, Long> perResult =
        bySource.getOrDefault("kyverno", List.of()).stream()
            .collect(
                Collectors.groupingBy(
                    o ->
                        o.getSpec().details().get("report")
                            + "/"
                            + o.getSpec().details().get("policy")
                            + "/"
                            + o.getSpec().resource().name(),
                    Collectors.counting()));
    soft.assertThat(
            perResult.entrySet().stream()
                .filter(e -> e.getValue() > 1)
                .map(Map.Entry::getKey)
                .toList())
        .as("policy results with more than one Observation")
        .isEmpty();

    // Events: every Warning Event created has exactly one Observation.
    soft.assertThat(byName.keySet())
        .as("Observations of the Events")
        .containsAll(expected.events().values());
    Collection<Observation> eventObs = bySource.getOrDefault("k8s-events", List.of());
    Map<Object, Long> perEvent =
        eventObs.stream()
            .collect(
                Collectors.groupingBy(
                    o ->
                        o.getSpec().details().get("involvedObjectUid")
                            + "/"
                            + o.getSpec().details().get("reason"),
                    Collectors.counting()));
    soft.assertThat(
            perEvent.entrySet().stream()
                .filter(e -> e.getValue() > 1)
                .map(Map.Entry::getKey)
                .toList())
        .as("Events with more than one Observation")
        .isEmpty();
    soft.assertThat(eventObs).as("k8s-events Observations").hasSize(expected.events().size());
  }

  // --- waiting ---

  static void await(String what, Duration within, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "timed out after " + within.toSeconds() + " s waiting for " + what);
      }
      Thread.sleep(100);
    }
  }

  static void sleepMillis(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static long millisSince(long nanos) {
    return (System.nanoTime() - nanos) / 1_000_000;
  }
}
