package io.kubezen.watcher.config;

import io.kubezen.watcher.model.Finding;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.LinkedHashSet;
import java.util.function.Function;

/**
 * Every setting of zen-watcher, read from environment variables and validated at start. This record
 * and docs/configuration.md are the one list of settings: a setting missing from either is a bug.
 */
public record Settings(
    StoreKind store,
    Path sqlitePath,
    String podNamespace,
    AccessScope accessScope,
    String bindAddress,
    int port,
    Duration dedupWindow,
    int dedupMaxSize,
    Duration flushInterval,
    long observationTtlSeconds,
    Duration gcInterval,
    Optional<Path> filterConfig,
    Duration filterReloadInterval,
    long maxBodyBytes,
    Map<String, Long> maxBodyBytesBySource,
    Optional<String> authToken,
    List<Cidr> allowedCidrs,
    double rateLimitPerSecond,
    int rateLimitBurst,
    int writeQueueSize,
    int writeBatchSize,
    LogFormat logFormat,
    String logLevel,
    Kube kube,
    Watch watch,
    Ingesters ingesters,
    LeaderElection leaderElection,
    Duration shutdownTimeout,
    Guards guards,
    Postgres postgres,
    Mode mode,
    boolean kubernetesMode) {

  // ---- issue 10 (hostile input and faults): the guards block -----------------------------------

  /**
   * Limits against hostile input and faults (issue 10).
   *
   * @param maxFindings findings (top-level elements, then normalized findings) one webhook request may hold
   * @param maxFindingsBySource per-source overrides ({@code WEBHOOK_MAX_FINDINGS_<SOURCE>})
   * @param maxInflightBytes the estimated memory of all webhook requests being processed at once
   * @param maxConnections open HTTP connections at most; more are closed at once
   * @param headerTimeout a connection must send a complete request head within this
   * @param readAuth who may read (the read API, the console): none or token
   * @param readAuthToken the bearer token for reads (from READ_AUTH_TOKEN or READ_AUTH_TOKEN_FILE)
   * @param metricsAuth whether /metrics needs the read token too
   * @param celCostLimit the largest estimated cost of a CEL expression (filters, Ingester mappings)
   */
  public record Guards(int maxFindings, Map<String, Integer> maxFindingsBySource, long maxInflightBytes,
      int maxConnections, Duration headerTimeout, ReadAuth readAuth, Optional<String> readAuthToken,
      boolean metricsAuth, long celCostLimit) {

    public int maxFindingsFor(String source) {
      return maxFindingsBySource.getOrDefault(source, maxFindings);
    }
  }

  /** Read access: {@code none} (open) or {@code token} (a bearer token). */
  public enum ReadAuth { NONE, TOKEN }

  /** The per-source findings limit variables: {@code WEBHOOK_MAX_FINDINGS_<SOURCE>}. */
  public static final String FINDINGS_LIMIT_PREFIX = "WEBHOOK_MAX_FINDINGS_";

  private static Guards guards(Reader r, Map<String, String> env, StoreKind store) {
    int maxFindings = (int) r.longIn("WEBHOOK_MAX_FINDINGS", 10_000, 1, 1_000_000);
    Map<String, Integer> bySource = new LinkedHashMap<>();
    env.keySet().stream().filter(k -> k.startsWith(FINDINGS_LIMIT_PREFIX)).sorted().forEach(k -> {
      String source = k.substring(FINDINGS_LIMIT_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '-');
      if (!Finding.SOURCE_NAME.matcher(source).matches()) {
        r.problems.add(k + ": '" + source + "' is not a source name");
        return;
      }
      bySource.put(source, (int) r.longIn(k, maxFindings, 1, 1_000_000));
    });
    long inflight = r.longIn("WEBHOOK_MAX_INFLIGHT_MIB", 96, 4, 65_536) << 20;
    int maxConnections = (int) r.longIn("HTTP_MAX_CONNECTIONS", 2000, 1, 1_000_000);
    Duration headerTimeout = r.duration("HTTP_HEADER_TIMEOUT", "10s", Duration.ofMillis(100), Duration.ofMinutes(10));
    ReadAuth readAuth = r.enumValue("READ_AUTH", ReadAuth.class, ReadAuth.NONE);
    Optional<String> token = r.optional("READ_AUTH_TOKEN", v -> {
      if (v.length() < 16) {
        throw new IllegalArgumentException("must be at least 16 characters");
      }
      return v;
    });
    Optional<String> fromFile = r.optional("READ_AUTH_TOKEN_FILE", v -> {
      try {
        String t = java.nio.file.Files.readString(Path.of(v)).strip();
        if (t.length() < 16) {
          throw new IllegalArgumentException("the token in " + v + " must be at least 16 characters");
        }
        return t;
      } catch (java.io.IOException e) {
        throw new IllegalArgumentException("cannot read " + v + ": " + e.getMessage());
      }
    });
    if (token.isPresent() && fromFile.isPresent()) {
      r.problems.add("READ_AUTH_TOKEN and READ_AUTH_TOKEN_FILE: set one of them, not both");
    }
    Optional<String> readToken = token.isPresent() ? token : fromFile;
    if (readAuth == ReadAuth.TOKEN && readToken.isEmpty()) {
      r.problems.add("READ_AUTH=token needs READ_AUTH_TOKEN or READ_AUTH_TOKEN_FILE");
    }
    String metricsAuth = r.get("METRICS_AUTH", "none", v -> {
      String m = v.toLowerCase(Locale.ROOT);
      if (!m.equals("none") && !m.equals("token")) {
        throw new IllegalArgumentException("must be one of none, token");
      }
      return m;
    });
    boolean metricsToken = "token".equals(metricsAuth);
    if (metricsToken && readToken.isEmpty()) {
      r.problems.add("METRICS_AUTH=token needs READ_AUTH_TOKEN or READ_AUTH_TOKEN_FILE");
    }
    long celCost = r.longIn("CEL_COST_LIMIT", 100_000, 100, 100_000_000);
    return new Guards(maxFindings, Map.copyOf(bySource), inflight, maxConnections, headerTimeout, readAuth,
        readToken, metricsToken, celCost);
  }

  // ---- end of the guards block ------------------------------------------------------------------


  // ---------------------------------------------------------------- the PostgreSQL store and reader mode

  /**
   * The PostgreSQL store ({@code OBSERVATION_STORE=postgres}). {@link #toString()} never shows the
   * password.
   *
   * @param url a {@code jdbc:postgresql://host:port/database} URL
   * @param password from {@code POSTGRES_PASSWORD} or the file {@code POSTGRES_PASSWORD_FILE} names; empty for none
   * @param statementTimeout the server cancels a statement after this long; the client gives up on a
   *     silent server a few seconds later
   * @param connectTimeout how long opening a connection (or waiting for a free one) may take
   */
  public record Postgres(String url, Optional<String> user, Secret password, int poolSize, Duration statementTimeout,
      Duration connectTimeout) {}

  /** A value that is never printed: its {@link #toString()} is {@code ***}. */
  public static final class Secret {
    private final String value;

    public Secret(String value) {
      this.value = value;
    }

    /** The value itself; null for none. Never log it. */
    public String reveal() {
      return value;
    }

    public boolean isPresent() {
      return value != null && !value.isEmpty();
    }

    @Override
    public String toString() {
      return isPresent() ? "***" : "(none)";
    }
  }

  /**
   * WATCHER: the normal program (webhooks, watched sources, GC). READER: a read-only viewer over a
   * shared PostgreSQL database: the read API and health only; no webhooks, no sources, no leader
   * work, no writes.
   */
  public enum Mode { WATCHER, READER }

  /**
   * Lease leader election (high availability).
   *
   * @param mode builtin: elect one leader among the replicas; disabled: this replica always leads
   * @param id the Lease's name (in {@link #podNamespace()})
   * @param identity this replica's holder identity ({@code POD_NAME}, else the host name)
   */
  public record LeaderElection(LeaderElectionMode mode, String id, String identity, Duration leaseDuration,
      Duration renewDeadline, Duration retryPeriod) {}

  public enum LeaderElectionMode { BUILTIN, DISABLED }

  /**
   * Kubernetes mode: the store's limits and the cluster's name.
   *
   * @param clusterName written on every Observation ({@code spec.clusterName}); empty for none
   * @param maxObservations live Observations kept at most, lowest severities shed first; 0 for no cap
   */
  public record Kube(Optional<String> clusterName, double writeQps, int writeBurst, int maxInFlight,
      long maxObservations, int maxDetailsBytes) {}

  /**
   * What the informer sources watch (Kubernetes mode).
   *
   * @param sources enabled built-in watched sources; empty for all
   * @param namespaces watch only these namespaces; empty for all
   * @param namespaceSelector also watch namespaces with these labels; null for none
   * @param clusterScoped watch cluster-scoped reports even when namespaces are scoped
   */
  /**
   * @param warmStandby followers keep the watched sources' informers running (read-only) and know
   *     what each object's findings are, so that a new leader's catch-up reads only what changed
   */
  public record Watch(Set<String> sources, List<String> namespaces, String namespaceSelector, boolean clusterScoped,
      Duration crdCheckInterval, boolean warmStandby) {}

  /**
   * Declared sources and the filter from a ConfigMap.
   *
   * @param dir standalone: a directory of Ingester YAML files (webhook Ingesters)
   * @param namespace Kubernetes mode: watch Ingesters only in this namespace; empty for all namespaces
   * @param filterConfigMap the global filter from a ConfigMap ({@code name} or {@code namespace/name}, key filter.yaml)
   */
  public record Ingesters(Optional<Path> dir, Duration dirPoll, Optional<String> namespace,
      Optional<String> filterConfigMap, Duration statusInterval, Duration resync) {}

  public enum StoreKind { SQLITE, KUBERNETES, POSTGRES }

  /**
   * What the service account may touch (Kubernetes mode). CLUSTER: every namespace (a ClusterRole).
   * NAMESPACES: only {@link #accessNamespaces()} (namespaced Roles, as a namespace-sharded install
   * has): every list is made per namespace, CRDs are not read, and findings about other namespaces
   * are stored in {@code POD_NAMESPACE}.
   */
  public enum AccessScope { CLUSTER, NAMESPACES }

  /**
   * The namespaces this install may read and write when {@link #accessScope()} is NAMESPACES:
   * {@code POD_NAMESPACE} first, then the watched namespaces; empty for CLUSTER (every namespace).
   */
  public List<String> accessNamespaces() {
    return accessScope == AccessScope.NAMESPACES ? namespacesOf(podNamespace, watch.namespaces()) : List.of();
  }

  /** The install's namespaces under ACCESS_SCOPE=namespaces: the pod's first, then the watched ones. */
  private static List<String> namespacesOf(String podNamespace, List<String> watched) {
    Set<String> out = new LinkedHashSet<>();
    out.add(podNamespace);
    out.addAll(watched);
    return List.copyOf(out);
  }


  public enum LogFormat { JSON, TEXT }

  /**
   * LOG_FORMAT when it is not set: JSON lines for a log pipeline in a pod ({@code
   * KUBERNETES_SERVICE_HOST} set) whose output is not a terminal; text for a person everywhere else
   * (outside a cluster, or {@code kubectl run -it}). A set LOG_FORMAT overrides both.
   */
  static LogFormat defaultLogFormat(Map<String, String> env, boolean stdoutIsTerminal) {
    String host = env.get("KUBERNETES_SERVICE_HOST");
    boolean inPod = host != null && !host.isBlank();
    return inPod && !stdoutIsTerminal ? LogFormat.JSON : LogFormat.TEXT;
  }

  /** The per-source body limit variables: {@code WEBHOOK_MAX_BODY_BYTES_<SOURCE>}. */
  public static final String BODY_LIMIT_PREFIX = "WEBHOOK_MAX_BODY_BYTES_";

  public long maxBodyBytesFor(String source) {
    return maxBodyBytesBySource.getOrDefault(source, maxBodyBytes);
  }

  /**
   * Reads and validates every setting; all problems are reported together. Whether this process's
   * standard output is a terminal (which chooses the default LOG_FORMAT) is asked of the JVM.
   */
  public static Settings fromEnv(Map<String, String> env) {
    return fromEnv(env, Terminal.stdoutIsTerminal());
  }

  /** The same, with whether standard output is a terminal given (tests). */
  public static Settings fromEnv(Map<String, String> env, boolean stdoutIsTerminal) {
    Reader r = new Reader(env);
    StoreKind defaultStore = env.containsKey("KUBERNETES_SERVICE_HOST") ? StoreKind.KUBERNETES : StoreKind.SQLITE;
    StoreKind store = r.enumValue("OBSERVATION_STORE", StoreKind.class, defaultStore);
    Path sqlitePath = r.get("SQLITE_PATH", "./data/zen-watcher.db", Path::of);
    Mode mode = r.enumValue("MODE", Mode.class, Mode.WATCHER);
    Postgres postgres = postgres(r, env, store, mode);
    // Kubernetes mode: informer sources, Ingesters, leader election. Always with the kubernetes store;
    // with postgres when running in a pod (auto) or when asked (true).
    String kubeModeText = r.get("KUBERNETES_MODE", "auto", v -> {
      String l = v.toLowerCase(Locale.ROOT);
      if (!List.of("auto", "true", "false").contains(l)) {
        throw new IllegalArgumentException("must be one of auto, true, false");
      }
      return l;
    });
    boolean kubernetesMode = store == StoreKind.KUBERNETES
        || (store == StoreKind.POSTGRES && mode == Mode.WATCHER && ("true".equals(kubeModeText)
            || ("auto".equals(kubeModeText) && env.containsKey("KUBERNETES_SERVICE_HOST"))));
    if (store == StoreKind.KUBERNETES && "false".equals(kubeModeText)) {
      r.problems.add("KUBERNETES_MODE=false: the kubernetes store is Kubernetes mode (choose OBSERVATION_STORE=postgres "
          + "or sqlite to run without it)");
    }
    if (store == StoreKind.SQLITE && "true".equals(kubeModeText)) {
      r.problems.add("KUBERNETES_MODE=true needs OBSERVATION_STORE=kubernetes or postgres");
    }
    if (mode == Mode.READER && store != StoreKind.POSTGRES) {
      r.problems.add("MODE=reader needs OBSERVATION_STORE=postgres (a viewer of a shared database)");
    }
    if (mode == Mode.READER && "true".equals(kubeModeText)) {
      r.problems.add("KUBERNETES_MODE=true and MODE=reader: a reader watches nothing; leave KUBERNETES_MODE unset");
    }
    String podNamespace = r.get("POD_NAMESPACE", "zen-system", v -> {
      if (!v.matches("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")) {
        throw new IllegalArgumentException("must be a Kubernetes namespace name (DNS-1123 label)");
      }
      return v;
    });
    AccessScope accessScope = r.enumValue("ACCESS_SCOPE", AccessScope.class, AccessScope.CLUSTER);
    String bind = r.get("WATCHER_BIND_ADDRESS", "0.0.0.0", v -> {
      try {
        InetAddress.getByName(v);
        return v;
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException("not an IP address or resolvable host name");
      }
    });
    int port = (int) r.longIn("WATCHER_PORT", 8080, 0, 65535);
    Duration window = Duration.ofSeconds(r.longIn("DEDUP_WINDOW_SECONDS", 60, 1, 86_400));
    int dedupMax = (int) r.longIn("DEDUP_MAX_SIZE", 10_000, 1, 10_000_000);
    Duration flush = Duration.ofMillis(r.longIn("DEDUP_FLUSH_INTERVAL_MILLIS", 2000, 50, 600_000));
    long ttl = r.longIn("OBSERVATION_TTL_SECONDS", 604_800, 60, 10L * 365 * 86_400);
    Duration gc = Duration.ofMinutes(r.longIn("GC_INTERVAL_MINUTES", 60, 1, 7 * 24 * 60));
    Optional<Path> filter = r.optional("FILTER_CONFIG", Path::of);
    Duration filterReload = Duration.ofSeconds(r.longIn("FILTER_RELOAD_INTERVAL_SECONDS", 5, 1, 3600));
    long maxBody = r.longIn("WEBHOOK_MAX_BODY_BYTES", 1L << 20, 1024, 256L << 20);
    Map<String, Long> bySource = new LinkedHashMap<>();
    bySource.putAll(io.kubezen.watcher.source.catalog.Sources.defaultBodyLimits());
    env.keySet().stream().filter(k -> k.startsWith(BODY_LIMIT_PREFIX)).sorted().forEach(k -> {
      String source = k.substring(BODY_LIMIT_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '-');
      if (!Finding.SOURCE_NAME.matcher(source).matches()) {
        r.problems.add(k + ": '" + source + "' is not a source name");
        return;
      }
      bySource.put(source, r.longIn(k, maxBody, 1024, 256L << 20));
    });
    Optional<String> token = r.optional("WEBHOOK_AUTH_TOKEN", v -> {
      if (v.length() < 16) {
        throw new IllegalArgumentException("must be at least 16 characters");
      }
      return v;
    });
    List<Cidr> cidrs = r.get("WEBHOOK_ALLOWED_CIDRS", "", v -> {
      List<Cidr> out = new ArrayList<>();
      for (String part : v.split(",")) {
        if (!part.isBlank()) {
          out.add(Cidr.parse(part.trim()));
        }
      }
      return List.copyOf(out);
    });
    double rate = r.get("WEBHOOK_RATE_LIMIT_PER_SECOND", "0", v -> {
      double d = Double.parseDouble(v);
      if (d < 0 || d > 1_000_000 || Double.isNaN(d)) {
        throw new IllegalArgumentException("must be between 0 (off) and 1000000");
      }
      return d;
    });
    int burst = (int) r.longIn("WEBHOOK_RATE_LIMIT_BURST", Math.max(1, (long) Math.ceil(rate * 2)), 1, 10_000_000);
    int queue = (int) r.longIn("WRITE_QUEUE_SIZE", 10_000, 1, 1_000_000);
    int batch = (int) r.longIn("WRITE_BATCH_SIZE", 500, 1, 10_000);
    LogFormat logFormat = r.enumValue("LOG_FORMAT", LogFormat.class, defaultLogFormat(env, stdoutIsTerminal));
    String logLevel = r.get("LOG_LEVEL", "info", v -> {
      String l = v.toLowerCase(Locale.ROOT);
      if (!List.of("trace", "debug", "info", "warn", "error").contains(l)) {
        throw new IllegalArgumentException("must be one of trace, debug, info, warn, error");
      }
      return l;
    });
    Kube kube = new Kube(
        r.optional("CLUSTER_NAME", v -> {
          if (v.length() > 253) {
            throw new IllegalArgumentException("must be at most 253 characters");
          }
          return v;
        }),
        r.get("KUBE_WRITE_QPS", "0", v -> {
          double d = Double.parseDouble(v);
          if (!(d >= 0) || d > 100_000) {
            throw new IllegalArgumentException("must be 0 (no ceiling: adaptive) or a number above 0 and at most 100000");
          }
          return d;
        }),
        (int) r.longIn("KUBE_WRITE_BURST", 40, 1, 100_000),
        (int) r.longIn("KUBE_MAX_IN_FLIGHT", 32, 1, 256),
        r.longIn("MAX_OBSERVATIONS", 0, 0, 100_000_000),
        (int) r.longIn("OBSERVATION_MAX_DETAILS_BYTES", 8192, 64, 1 << 20));
    Set<String> known = io.kubezen.watcher.source.catalog.Sources.watchedNames();
    Set<String> sources = r.get("SOURCES", "", v -> {
      Set<String> out = new LinkedHashSet<>();
      for (String part : v.split(",")) {
        String name = part.trim().toLowerCase(Locale.ROOT);
        if (name.isEmpty()) {
          continue;
        }
        if (!known.contains(name)) {
          throw new IllegalArgumentException("'" + name + "' is not a watched source (one of "
              + String.join(", ", new java.util.TreeSet<>(known)) + ")");
        }
        out.add(name);
      }
      return Set.copyOf(out);
    });
    List<String> namespaces = r.get("WATCH_NAMESPACE", "", v -> {
      List<String> out = new ArrayList<>();
      for (String part : v.split(",")) {
        String ns = part.trim();
        if (ns.isEmpty()) {
          continue;
        }
        if (!ns.matches("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")) {
          throw new IllegalArgumentException("'" + ns + "' is not a namespace name");
        }
        out.add(ns);
      }
      return List.copyOf(out);
    });
    String selector = r.get("WATCH_NAMESPACE_SELECTOR", "", v -> {
      if (!v.isBlank()) {
        io.kubezen.watcher.kube.LabelSelector.parse(v);
      }
      return v.isBlank() ? null : v;
    });
    boolean watchClusterScoped = r.bool("WATCH_CLUSTER_SCOPED", false);
    if (accessScope == AccessScope.NAMESPACES && !kubernetesMode) {
      r.problems.add("ACCESS_SCOPE=namespaces needs OBSERVATION_STORE=kubernetes (or postgres in Kubernetes mode): it is"
          + " about the cluster's RBAC");
    }
    if (accessScope == AccessScope.NAMESPACES) {
      // Namespaced Roles only: nothing that needs a cluster-wide right.
      if (selector != null) {
        r.problems.add("WATCH_NAMESPACE_SELECTOR needs ACCESS_SCOPE=cluster (it lists Namespaces); with "
            + "ACCESS_SCOPE=namespaces name the namespaces in WATCH_NAMESPACE");
      }
      if (watchClusterScoped) {
        r.problems.add("WATCH_CLUSTER_SCOPED=true needs ACCESS_SCOPE=cluster (cluster-scoped reports need a ClusterRole)");
      }
      if (namespaces != null && namespaces.isEmpty() && podNamespace != null) {
        namespaces = List.of(podNamespace); // the install's own namespace
      }
    }
    Watch watch = new Watch(sources == null ? Set.of() : sources, namespaces == null ? List.of() : namespaces,
        selector, watchClusterScoped,
        Duration.ofSeconds(r.longIn("SOURCE_CRD_CHECK_INTERVAL_SECONDS", 30, 1, 3600)), r.bool("WARM_STANDBY", true));
    Optional<String> filterConfigMap = r.optional("FILTER_CONFIGMAP", v -> {
      if (!v.matches("^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")) {
        throw new IllegalArgumentException("must be a ConfigMap name or namespace/name");
      }
      return v;
    });
    if (filterConfigMap.isPresent() && filter.isPresent()) {
      r.problems.add("FILTER_CONFIGMAP and FILTER_CONFIG: set one of them, not both");
    }
    Optional<String> ingesterNamespace = r.optional("INGESTER_NAMESPACE", v -> {
      if (!v.matches("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")) {
        throw new IllegalArgumentException("must be a namespace name");
      }
      return v;
    });
    if (accessScope == AccessScope.NAMESPACES && podNamespace != null) {
      List<String> scope = namespacesOf(podNamespace, watch.namespaces());
      if (ingesterNamespace.isEmpty()) {
        ingesterNamespace = Optional.of(podNamespace);
      } else if (!scope.contains(ingesterNamespace.get())) {
        r.problems.add("INGESTER_NAMESPACE='" + ingesterNamespace.get() + "' is outside ACCESS_SCOPE=namespaces ("
            + String.join(", ", scope) + ": POD_NAMESPACE and WATCH_NAMESPACE)");
      }
      if (filterConfigMap.isPresent() && filterConfigMap.get().contains("/")) {
        String cmNamespace = filterConfigMap.get().substring(0, filterConfigMap.get().indexOf('/'));
        if (!scope.contains(cmNamespace)) {
          r.problems.add("FILTER_CONFIGMAP='" + filterConfigMap.get() + "' is outside ACCESS_SCOPE=namespaces ("
              + String.join(", ", scope) + ": POD_NAMESPACE and WATCH_NAMESPACE)");
        }
      }
    }
    Ingesters ingesters = new Ingesters(
        r.optional("INGESTERS_DIR", Path::of),
        Duration.ofSeconds(r.longIn("INGESTERS_POLL_SECONDS", 5, 1, 3600)),
        ingesterNamespace,
        filterConfigMap,
        Duration.ofSeconds(r.longIn("INGESTER_STATUS_INTERVAL_SECONDS", 5, 1, 300)),
        Duration.ofSeconds(r.longIn("INGESTER_RESYNC_SECONDS", 300, 10, 3600)));
    LeaderElectionMode leMode = r.enumValue("LEADER_ELECTION_MODE", LeaderElectionMode.class,
        kubernetesMode ? LeaderElectionMode.BUILTIN : LeaderElectionMode.DISABLED);
    if (leMode == LeaderElectionMode.BUILTIN && !kubernetesMode) {
      r.problems.add("LEADER_ELECTION_MODE=builtin needs Kubernetes mode (OBSERVATION_STORE=kubernetes, or postgres in a"
          + " pod or with KUBERNETES_MODE=true): the Lease is in the cluster");
    }
    String leId = r.get("LEADER_ELECTION_ID", "zen-watcher-leader-election", v -> {
      if (!v.matches("^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")) {
        throw new IllegalArgumentException("must be a Kubernetes object name (DNS-1123 subdomain)");
      }
      return v;
    });
    String identity = r.get("POD_NAME", defaultIdentity(env), v -> {
      if (v.length() > 253) {
        throw new IllegalArgumentException("must be at most 253 characters");
      }
      return v;
    });
    Duration lease = r.duration("LEADER_ELECTION_LEASE_DURATION", "15s", Duration.ofMillis(100), Duration.ofHours(1));
    Duration renew = r.duration("LEADER_ELECTION_RENEW_DEADLINE", "10s", Duration.ofMillis(50), Duration.ofHours(1));
    Duration retry = r.duration("LEADER_ELECTION_RETRY_PERIOD", "2s", Duration.ofMillis(10), Duration.ofHours(1));
    if (lease != null && renew != null && retry != null) {
      if (lease.compareTo(renew) <= 0) {
        r.problems.add("LEADER_ELECTION_LEASE_DURATION (" + human(lease) + ") must be longer than "
            + "LEADER_ELECTION_RENEW_DEADLINE (" + human(renew) + ")");
      }
      if (renew.compareTo(retry) <= 0) {
        r.problems.add("LEADER_ELECTION_RENEW_DEADLINE (" + human(renew) + ") must be longer than "
            + "LEADER_ELECTION_RETRY_PERIOD (" + human(retry) + ")");
      }
    }
    LeaderElection leaderElection = new LeaderElection(leMode, leId, identity, lease, renew, retry);
    Duration shutdownTimeout = r.duration("SHUTDOWN_TIMEOUT", "20s", Duration.ofSeconds(1), Duration.ofMinutes(10));
    Guards guards = guards(r, env, store);
    if (store == StoreKind.POSTGRES && mode == Mode.WATCHER && kube.clusterName().isEmpty()) {
      r.problems.add("CLUSTER_NAME is required with OBSERVATION_STORE=postgres: it is part of every row's key, so that"
          + " several clusters can share one database");
    }
    if (!r.problems.isEmpty()) {
      throw new SettingsException(r.problems);
    }
    return new Settings(store, sqlitePath, podNamespace, accessScope, bind, port, window, dedupMax, flush, ttl, gc, filter,
        filterReload, maxBody, Map.copyOf(bySource), token, cidrs, rate, burst, queue, batch, logFormat, logLevel,
        kube, watch, ingesters, leaderElection, shutdownTimeout, guards, postgres, mode, kubernetesMode);
  }

  /** The POSTGRES_* settings; null unless the store is postgres. The password is never put in a message. */
  private static Postgres postgres(Reader r, Map<String, String> env, StoreKind store, Mode mode) {
    if (store != StoreKind.POSTGRES) {
      for (String name : List.of("POSTGRES_URL", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE")) {
        String v = env.get(name);
        if (v != null && !v.isBlank()) {
          r.problems.add(name + " is set but OBSERVATION_STORE is not postgres");
        }
      }
      return null;
    }
    String rawUrl = env.get("POSTGRES_URL");
    String url;
    if (rawUrl != null && rawUrl.matches("(?is).*[?&]password=.*")) {
      // Not even the URL is repeated: it holds the password.
      r.problems.add("POSTGRES_URL must not hold the password: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE");
      url = null;
    } else {
      url = r.get("POSTGRES_URL", "", v -> {
        if (v.isEmpty()) {
          throw new IllegalArgumentException("is required with OBSERVATION_STORE=postgres "
              + "(jdbc:postgresql://host:5432/database)");
        }
        if (!v.startsWith("jdbc:postgresql:")) {
          throw new IllegalArgumentException("must start with jdbc:postgresql: (jdbc:postgresql://host:5432/database)");
        }
        return v;
      });
    }
    Optional<String> user = r.optional("POSTGRES_USER", v -> {
      if (v.length() > 63) {
        throw new IllegalArgumentException("must be at most 63 characters");
      }
      return v;
    });
    String inline = env.get("POSTGRES_PASSWORD");
    String file = env.get("POSTGRES_PASSWORD_FILE");
    String password = null;
    if (inline != null && !inline.isEmpty() && file != null && !file.isBlank()) {
      r.problems.add("POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE: set one of them, not both");
    } else if (file != null && !file.isBlank()) {
      try {
        password = java.nio.file.Files.readString(Path.of(file.trim())).strip();
        if (password.isEmpty()) {
          r.problems.add("POSTGRES_PASSWORD_FILE='" + file.trim() + "': the file is empty");
        }
      } catch (java.io.IOException | RuntimeException e) {
        r.problems.add("POSTGRES_PASSWORD_FILE='" + file.trim() + "': cannot read it (" + e.getClass().getSimpleName()
            + ")");
      }
    } else if (inline != null && !inline.isEmpty()) {
      password = inline;
    }
    int pool = (int) r.longIn("POSTGRES_POOL_SIZE", 8, 1, 200);
    Duration statement = r.duration("POSTGRES_STATEMENT_TIMEOUT", "10s", Duration.ofMillis(100), Duration.ofMinutes(10));
    Duration connect = r.duration("POSTGRES_CONNECT_TIMEOUT", "5s", Duration.ofMillis(250), Duration.ofMinutes(5));
    return new Postgres(url, user, new Secret(password), pool, statement, connect);
  }

  private static String defaultIdentity(Map<String, String> env) {
    String h = env.get("HOSTNAME");
    if (h != null && !h.isBlank()) {
      return h.trim();
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "zen-watcher-" + ProcessHandle.current().pid();
    }
  }

  private static String human(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }

  /**
   * A duration: a whole number with a unit ({@code 500ms}, {@code 15s}, {@code 1m}, {@code 1h}), or
   * a plain number of seconds.
   */
  public static Duration parseDuration(String v) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(\\d{1,9})(ms|s|m|h)?$")
        .matcher(v.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException("must be a duration like 500ms, 15s, 1m or a number of seconds");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofSeconds(n);
    };
  }

  /** Collects every problem instead of stopping at the first. */
  private static final class Reader {
    private final Map<String, String> env;
    private final List<String> problems = new ArrayList<>();

    Reader(Map<String, String> env) {
      this.env = env;
    }

    <T> T get(String name, String defaultValue, Function<String, T> parse) {
      String raw = env.get(name);
      String value = raw == null || raw.isBlank() ? defaultValue : raw.trim();
      try {
        return parse.apply(value);
      } catch (RuntimeException e) {
        problems.add(name + "='" + value + "': " + e.getMessage());
        try {
          return parse.apply(defaultValue);
        } catch (RuntimeException again) {
          return null;
        }
      }
    }

    <T> Optional<T> optional(String name, Function<String, T> parse) {
      String raw = env.get(name);
      if (raw == null || raw.isBlank()) {
        return Optional.empty();
      }
      try {
        return Optional.of(parse.apply(raw.trim()));
      } catch (RuntimeException e) {
        problems.add(name + ": " + e.getMessage());
        return Optional.empty();
      }
    }

    Duration duration(String name, String defaultValue, Duration min, Duration max) {
      return get(name, defaultValue, v -> {
        Duration d = parseDuration(v);
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
          throw new IllegalArgumentException("must be between " + human(min) + " and " + human(max));
        }
        return d;
      });
    }

    boolean bool(String name, boolean defaultValue) {
      Boolean v = get(name, Boolean.toString(defaultValue), s -> switch (s.toLowerCase(Locale.ROOT)) {
        case "true", "1", "yes" -> true;
        case "false", "0", "no" -> false;
        default -> throw new IllegalArgumentException("must be true or false");
      });
      return v == null ? defaultValue : v;
    }

    long longIn(String name, long defaultValue, long min, long max) {
      Long v = get(name, Long.toString(defaultValue), s -> {
        long l;
        try {
          l = Long.parseLong(s);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("must be a whole number");
        }
        if (l < min || l > max) {
          throw new IllegalArgumentException("must be between " + min + " and " + max);
        }
        return l;
      });
      return v == null ? defaultValue : v;
    }

    <E extends Enum<E>> E enumValue(String name, Class<E> type, E defaultValue) {
      return get(name, defaultValue.name(), v -> {
        try {
          return Enum.valueOf(type, v.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          List<String> allowed = new ArrayList<>();
          for (E c : type.getEnumConstants()) {
            allowed.add(c.name().toLowerCase(Locale.ROOT));
          }
          throw new IllegalArgumentException("must be one of " + String.join(", ", allowed));
        }
      });
    }
  }
}
