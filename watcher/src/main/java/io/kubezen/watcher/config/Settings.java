package io.kubezen.watcher.config;

import static io.kubezen.watcher.config.SettingCatalog.*;

import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.catalog.Sources;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Every setting of zen-watcher, read from environment variables and validated at start. Each
 * variable is declared once in {@link SettingCatalog} (name, type, default, allowed values,
 * description, docs section); this record holds the validated values, and the tables of
 * docs/configuration.md are generated from the declarations ({@link SettingsDoc}).
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
   * @param maxFindings findings (top-level elements, then normalized findings) one webhook request
   *     may hold
   * @param maxFindingsBySource per-source overrides ({@code WEBHOOK_MAX_FINDINGS_<SOURCE>})
   * @param maxInflightBytes the estimated memory of all webhook requests being processed at once
   * @param maxConnections open HTTP connections at most; more are closed at once
   * @param headerTimeout a connection must send a complete request head within this
   * @param readAuth who may read (the read API, the console): none or token
   * @param readAuthToken the bearer token for reads (from READ_AUTH_TOKEN or READ_AUTH_TOKEN_FILE)
   * @param metricsAuth whether /metrics needs the read token too
   * @param celCostLimit the largest estimated cost of a CEL expression (filters, Ingester mappings)
   */
  public record Guards(
      int maxFindings,
      Map<String, Integer> maxFindingsBySource,
      long maxInflightBytes,
      int maxConnections,
      Duration headerTimeout,
      ReadAuth readAuth,
      Optional<String> readAuthToken,
      boolean metricsAuth,
      long celCostLimit) {

    public int maxFindingsFor(String source) {
      return maxFindingsBySource.getOrDefault(source, maxFindings);
    }
  }

  /** Read access: {@code none} (open) or {@code token} (a bearer token). */
  public enum ReadAuth {
    NONE,
    TOKEN
  }

  // ---------------------------------------------------------------- the PostgreSQL store and
  // reader mode

  /**
   * The PostgreSQL store ({@code OBSERVATION_STORE=postgres}). {@link #toString()} never shows the
   * password.
   *
   * @param url a {@code jdbc:postgresql://host:port/database} URL
   * @param password from {@code POSTGRES_PASSWORD} or the file {@code POSTGRES_PASSWORD_FILE}
   *     names; empty for none
   * @param statementTimeout the server cancels a statement after this long; the client gives up on
   *     a silent server a few seconds later
   * @param connectTimeout how long opening a connection (or waiting for a free one) may take
   */
  public record Postgres(
      String url,
      Optional<String> user,
      Secret password,
      int poolSize,
      Duration statementTimeout,
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
  public enum Mode {
    WATCHER,
    READER
  }

  /**
   * Lease leader election (high availability).
   *
   * @param mode builtin: elect one leader among the replicas; disabled: this replica always leads
   * @param id the Lease's name (in {@link #podNamespace()})
   * @param identity this replica's holder identity ({@code POD_NAME}, else the host name)
   */
  public record LeaderElection(
      LeaderElectionMode mode,
      String id,
      String identity,
      Duration leaseDuration,
      Duration renewDeadline,
      Duration retryPeriod) {}

  public enum LeaderElectionMode {
    BUILTIN,
    DISABLED
  }

  /**
   * Kubernetes mode: the store's limits and the cluster's name.
   *
   * @param clusterName written on every Observation ({@code spec.clusterName}); empty for none
   * @param maxObservations live Observations kept at most, lowest severities shed first; 0 for no
   *     cap
   */
  public record Kube(
      Optional<String> clusterName,
      double writeQps,
      int writeBurst,
      int maxInFlight,
      long maxObservations,
      int maxDetailsBytes) {}

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
  public record Watch(
      Set<String> sources,
      List<String> namespaces,
      String namespaceSelector,
      boolean clusterScoped,
      Duration crdCheckInterval,
      boolean warmStandby) {}

  /**
   * Declared sources and the filter from a ConfigMap.
   *
   * @param dir standalone: a directory of Ingester YAML files (webhook Ingesters)
   * @param namespace Kubernetes mode: watch Ingesters only in this namespace; empty for all
   *     namespaces
   * @param filterConfigMap the global filter from a ConfigMap ({@code name} or {@code
   *     namespace/name}, key filter.yaml)
   */
  public record Ingesters(
      Optional<Path> dir,
      Duration dirPoll,
      Optional<String> namespace,
      Optional<String> filterConfigMap,
      Duration statusInterval,
      Duration resync) {}

  public enum StoreKind {
    SQLITE,
    KUBERNETES,
    POSTGRES
  }

  /**
   * What the service account may touch (Kubernetes mode). CLUSTER: every namespace (a ClusterRole).
   * NAMESPACES: only {@link #accessNamespaces()} (namespaced Roles, as a namespace-sharded install
   * has): every list is made per namespace, CRDs are not read, and findings about other namespaces
   * are stored in {@code POD_NAMESPACE}.
   */
  public enum AccessScope {
    CLUSTER,
    NAMESPACES
  }

  /**
   * The namespaces this install may read and write when {@link #accessScope()} is NAMESPACES:
   * {@code POD_NAMESPACE} first, then the watched namespaces; empty for CLUSTER (every namespace).
   */
  public List<String> accessNamespaces() {
    return accessScope == AccessScope.NAMESPACES
        ? namespacesOf(podNamespace, watch.namespaces())
        : List.of();
  }

  /**
   * The install's namespaces under ACCESS_SCOPE=namespaces: the pod's first, then the watched ones.
   */
  private static List<String> namespacesOf(String podNamespace, List<String> watched) {
    Set<String> out = new LinkedHashSet<>();
    out.add(podNamespace);
    out.addAll(watched);
    return List.copyOf(out);
  }

  public enum LogFormat {
    JSON,
    TEXT
  }

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

  public long maxBodyBytesFor(String source) {
    return maxBodyBytesBySource.getOrDefault(source, maxBodyBytes);
  }

  /**
   * Sources whose default body limit is their own rather than WEBHOOK_MAX_BODY_BYTES (from their
   * descriptors).
   */
  static Map<String, Long> defaultBodyLimits() {
    return Sources.defaultBodyLimits();
  }

  /** The built-in watched (informer) sources that SOURCES may name, in the list's order. */
  static List<String> watchedSourceNames() {
    return List.copyOf(Sources.watchedNames());
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
    return read(new Reader(env), stdoutIsTerminal);
  }

  /**
   * The declared settings that fromEnv reads from this environment (tests: every declaration is
   * read).
   */
  static Set<String> namesRead(Map<String, String> env) {
    Reader r = new Reader(env);
    try {
      read(r, false);
    } catch (SettingsException e) {
      // the names read are what matters here
    }
    return Set.copyOf(r.read);
  }

  private static Settings read(Reader r, boolean stdoutIsTerminal) {
    Map<String, String> env = r.env;
    boolean inPod = env.containsKey("KUBERNETES_SERVICE_HOST");
    StoreKind store =
        r.get(OBSERVATION_STORE, (inPod ? StoreKind.KUBERNETES : StoreKind.SQLITE).name());
    Path sqlitePath = r.get(SQLITE_PATH);
    Mode mode = r.get(MODE);
    Postgres postgres = postgres(r, store);
    boolean kubernetesMode = kubernetesMode(r, store, mode, inPod);
    String podNamespace = r.get(POD_NAMESPACE);
    AccessScope accessScope = r.get(ACCESS_SCOPE);
    r.optional(KUBECONFIG); // read by the Kubernetes client; declared so that it is documented
    r.optional(JAVA_TOOL_OPTIONS); // read by the JVM
    r.optional(MALLOC_ARENA_MAX); // read by glibc
    String bind = r.get(WATCHER_BIND_ADDRESS);
    int port = (int) r.whole(WATCHER_PORT);
    Duration window = Duration.ofSeconds(r.whole(DEDUP_WINDOW_SECONDS));
    int dedupMax = (int) r.whole(DEDUP_MAX_SIZE);
    Duration flush = Duration.ofMillis(r.whole(DEDUP_FLUSH_INTERVAL_MILLIS));
    long ttl = r.whole(OBSERVATION_TTL_SECONDS);
    Duration gc = Duration.ofMinutes(r.whole(GC_INTERVAL_MINUTES));
    Optional<Path> filter = r.optional(FILTER_CONFIG);
    Duration filterReload = Duration.ofSeconds(r.whole(FILTER_RELOAD_INTERVAL_SECONDS));
    long maxBody = r.whole(WEBHOOK_MAX_BODY_BYTES);
    Map<String, Long> bySource = new LinkedHashMap<>(defaultBodyLimits());
    r.family(WEBHOOK_MAX_BODY_BYTES_SOURCE, maxBody, bySource::put);
    Optional<String> token = r.optional(WEBHOOK_AUTH_TOKEN);
    List<Cidr> cidrs = r.get(WEBHOOK_ALLOWED_CIDRS);
    double rate = r.get(WEBHOOK_RATE_LIMIT_PER_SECOND);
    int burst = (int) r.whole(WEBHOOK_RATE_LIMIT_BURST, Math.max(1, (long) Math.ceil(rate * 2)));
    int queue = (int) r.whole(WRITE_QUEUE_SIZE);
    int batch = (int) r.whole(WRITE_BATCH_SIZE);
    LogFormat logFormat = r.get(LOG_FORMAT, defaultLogFormat(env, stdoutIsTerminal).name());
    String logLevel = r.get(LOG_LEVEL);
    Kube kube =
        new Kube(
            r.optional(CLUSTER_NAME),
            r.get(KUBE_WRITE_QPS),
            (int) r.whole(KUBE_WRITE_BURST),
            (int) r.whole(KUBE_MAX_IN_FLIGHT),
            r.whole(MAX_OBSERVATIONS),
            (int) r.whole(OBSERVATION_MAX_DETAILS_BYTES));
    Watch watch = watch(r, accessScope, kubernetesMode, podNamespace);
    Ingesters ingesters = ingesters(r, accessScope, podNamespace, watch, filter.isPresent());
    LeaderElection leaderElection = leaderElection(r, kubernetesMode);
    Duration shutdownTimeout = r.get(SHUTDOWN_TIMEOUT);
    Guards guards = guards(r);
    if (store == StoreKind.POSTGRES && mode == Mode.WATCHER && kube.clusterName().isEmpty()) {
      r.problems.add(
          "CLUSTER_NAME is required with OBSERVATION_STORE=postgres: it is part of every row's key, so that"
              + " several clusters can share one database");
    }
    if (!r.problems.isEmpty()) {
      throw new SettingsException(r.problems);
    }
    return new Settings(
        store,
        sqlitePath,
        podNamespace,
        accessScope,
        bind,
        port,
        window,
        dedupMax,
        flush,
        ttl,
        gc,
        filter,
        filterReload,
        maxBody,
        Map.copyOf(bySource),
        token,
        cidrs,
        rate,
        burst,
        queue,
        batch,
        logFormat,
        logLevel,
        kube,
        watch,
        ingesters,
        leaderElection,
        shutdownTimeout,
        guards,
        postgres,
        mode,
        kubernetesMode);
  }

  /**
   * Kubernetes mode (informer sources, Ingesters, leader election): always with the kubernetes
   * store; with postgres when running in a pod (KUBERNETES_MODE=auto) or when asked (true).
   */
  private static boolean kubernetesMode(Reader r, StoreKind store, Mode mode, boolean inPod) {
    String kubeModeText = r.get(KUBERNETES_MODE);
    boolean kubernetesMode =
        store == StoreKind.KUBERNETES
            || (store == StoreKind.POSTGRES
                && mode == Mode.WATCHER
                && ("true".equals(kubeModeText) || ("auto".equals(kubeModeText) && inPod)));
    if (store == StoreKind.KUBERNETES && "false".equals(kubeModeText)) {
      r.problems.add(
          "KUBERNETES_MODE=false: the kubernetes store is Kubernetes mode (choose OBSERVATION_STORE=postgres "
              + "or sqlite to run without it)");
    }
    if (store == StoreKind.SQLITE && "true".equals(kubeModeText)) {
      r.problems.add("KUBERNETES_MODE=true needs OBSERVATION_STORE=kubernetes or postgres");
    }
    if (mode == Mode.READER && store != StoreKind.POSTGRES) {
      r.problems.add(
          "MODE=reader needs OBSERVATION_STORE=postgres (a viewer of a shared database)");
    }
    if (mode == Mode.READER && "true".equals(kubeModeText)) {
      r.problems.add(
          "KUBERNETES_MODE=true and MODE=reader: a reader watches nothing; leave KUBERNETES_MODE unset");
    }
    return kubernetesMode;
  }

  /** What the informer sources watch, checked against ACCESS_SCOPE. */
  private static Watch watch(
      Reader r, AccessScope accessScope, boolean kubernetesMode, String podNamespace) {
    Set<String> sources = r.get(SOURCES);
    List<String> namespaces = r.get(WATCH_NAMESPACE);
    String selector = r.get(WATCH_NAMESPACE_SELECTOR);
    boolean watchClusterScoped = r.get(WATCH_CLUSTER_SCOPED);
    if (accessScope == AccessScope.NAMESPACES && !kubernetesMode) {
      r.problems.add(
          "ACCESS_SCOPE=namespaces needs OBSERVATION_STORE=kubernetes (or postgres in Kubernetes mode): it is"
              + " about the cluster's RBAC");
    }
    if (accessScope == AccessScope.NAMESPACES) {
      // Namespaced Roles only: nothing that needs a cluster-wide right.
      if (selector != null) {
        r.problems.add(
            "WATCH_NAMESPACE_SELECTOR needs ACCESS_SCOPE=cluster (it lists Namespaces); with "
                + "ACCESS_SCOPE=namespaces name the namespaces in WATCH_NAMESPACE");
      }
      if (watchClusterScoped) {
        r.problems.add(
            "WATCH_CLUSTER_SCOPED=true needs ACCESS_SCOPE=cluster (cluster-scoped reports need a ClusterRole)");
      }
      if (namespaces != null && namespaces.isEmpty() && podNamespace != null) {
        namespaces = List.of(podNamespace); // the install's own namespace
      }
    }
    return new Watch(
        sources == null ? Set.of() : sources,
        namespaces == null ? List.of() : namespaces,
        selector,
        watchClusterScoped,
        Duration.ofSeconds(r.whole(SOURCE_CRD_CHECK_INTERVAL_SECONDS)),
        r.get(WARM_STANDBY));
  }

  /** Declared sources and the global filter's ConfigMap, checked against ACCESS_SCOPE. */
  private static Ingesters ingesters(
      Reader r, AccessScope accessScope, String podNamespace, Watch watch, boolean filterFile) {
    Optional<String> filterConfigMap = r.optional(FILTER_CONFIGMAP);
    if (filterConfigMap.isPresent() && filterFile) {
      r.problems.add("FILTER_CONFIGMAP and FILTER_CONFIG: set one of them, not both");
    }
    Optional<String> ingesterNamespace = r.optional(INGESTER_NAMESPACE);
    if (accessScope == AccessScope.NAMESPACES && podNamespace != null) {
      List<String> scope = namespacesOf(podNamespace, watch.namespaces());
      if (ingesterNamespace.isEmpty()) {
        ingesterNamespace = Optional.of(podNamespace);
      } else if (!scope.contains(ingesterNamespace.get())) {
        r.problems.add(
            "INGESTER_NAMESPACE='"
                + ingesterNamespace.get()
                + "' is outside ACCESS_SCOPE=namespaces ("
                + String.join(", ", scope)
                + ": POD_NAMESPACE and WATCH_NAMESPACE)");
      }
      if (filterConfigMap.isPresent() && filterConfigMap.get().contains("/")) {
        String cmNamespace = filterConfigMap.get().substring(0, filterConfigMap.get().indexOf('/'));
        if (!scope.contains(cmNamespace)) {
          r.problems.add(
              "FILTER_CONFIGMAP='"
                  + filterConfigMap.get()
                  + "' is outside ACCESS_SCOPE=namespaces ("
                  + String.join(", ", scope)
                  + ": POD_NAMESPACE and WATCH_NAMESPACE)");
        }
      }
    }
    return new Ingesters(
        r.optional(INGESTERS_DIR),
        Duration.ofSeconds(r.whole(INGESTERS_POLL_SECONDS)),
        ingesterNamespace,
        filterConfigMap,
        Duration.ofSeconds(r.whole(INGESTER_STATUS_INTERVAL_SECONDS)),
        Duration.ofSeconds(r.whole(INGESTER_RESYNC_SECONDS)));
  }

  /** The Lease settings; the three durations must be in order. */
  private static LeaderElection leaderElection(Reader r, boolean kubernetesMode) {
    LeaderElectionMode leMode =
        r.get(
            LEADER_ELECTION_MODE,
            (kubernetesMode ? LeaderElectionMode.BUILTIN : LeaderElectionMode.DISABLED).name());
    if (leMode == LeaderElectionMode.BUILTIN && !kubernetesMode) {
      r.problems.add(
          "LEADER_ELECTION_MODE=builtin needs Kubernetes mode (OBSERVATION_STORE=kubernetes, or postgres in a"
              + " pod or with KUBERNETES_MODE=true): the Lease is in the cluster");
    }
    String leId = r.get(LEADER_ELECTION_ID);
    String identity = r.get(POD_NAME, defaultIdentity(r.env));
    Duration lease = r.get(LEADER_ELECTION_LEASE_DURATION);
    Duration renew = r.get(LEADER_ELECTION_RENEW_DEADLINE);
    Duration retry = r.get(LEADER_ELECTION_RETRY_PERIOD);
    if (lease != null && renew != null && retry != null) {
      if (lease.compareTo(renew) <= 0) {
        r.problems.add(
            "LEADER_ELECTION_LEASE_DURATION ("
                + human(lease)
                + ") must be longer than "
                + "LEADER_ELECTION_RENEW_DEADLINE ("
                + human(renew)
                + ")");
      }
      if (renew.compareTo(retry) <= 0) {
        r.problems.add(
            "LEADER_ELECTION_RENEW_DEADLINE ("
                + human(renew)
                + ") must be longer than "
                + "LEADER_ELECTION_RETRY_PERIOD ("
                + human(retry)
                + ")");
      }
    }
    return new LeaderElection(leMode, leId, identity, lease, renew, retry);
  }

  /** Limits against hostile input and faults, and read access. */
  private static Guards guards(Reader r) {
    int maxFindings = (int) r.whole(WEBHOOK_MAX_FINDINGS);
    Map<String, Integer> bySource = new LinkedHashMap<>();
    r.family(
        WEBHOOK_MAX_FINDINGS_SOURCE,
        maxFindings,
        (source, v) -> bySource.put(source, v.intValue()));
    long inflight = r.whole(WEBHOOK_MAX_INFLIGHT_MIB) << 20;
    int maxConnections = (int) r.whole(HTTP_MAX_CONNECTIONS);
    Duration headerTimeout = r.get(HTTP_HEADER_TIMEOUT);
    ReadAuth readAuth = r.get(READ_AUTH);
    Optional<String> token = r.optional(READ_AUTH_TOKEN);
    Optional<String> fromFile = r.optional(READ_AUTH_TOKEN_FILE);
    if (token.isPresent() && fromFile.isPresent()) {
      r.problems.add("READ_AUTH_TOKEN and READ_AUTH_TOKEN_FILE: set one of them, not both");
    }
    Optional<String> readToken = token.isPresent() ? token : fromFile;
    if (readAuth == ReadAuth.TOKEN && readToken.isEmpty()) {
      r.problems.add("READ_AUTH=token needs READ_AUTH_TOKEN or READ_AUTH_TOKEN_FILE");
    }
    boolean metricsToken = "token".equals(r.get(METRICS_AUTH));
    if (metricsToken && readToken.isEmpty()) {
      r.problems.add("METRICS_AUTH=token needs READ_AUTH_TOKEN or READ_AUTH_TOKEN_FILE");
    }
    long celCost = r.whole(CEL_COST_LIMIT);
    return new Guards(
        maxFindings,
        Map.copyOf(bySource),
        inflight,
        maxConnections,
        headerTimeout,
        readAuth,
        readToken,
        metricsToken,
        celCost);
  }

  /**
   * The POSTGRES_* settings; null unless the store is postgres. The password is never put in a
   * message.
   */
  private static Postgres postgres(Reader r, StoreKind store) {
    Map<String, String> env = r.env;
    List<Setting<?>> all =
        List.of(POSTGRES_URL, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_PASSWORD_FILE);
    if (store != StoreKind.POSTGRES) {
      for (Setting<?> s : all) {
        r.read.add(s.name());
        String v = env.get(s.name());
        if (v != null && !v.isBlank()) {
          r.problems.add(s.name() + " is set but OBSERVATION_STORE is not postgres");
        }
      }
      return null;
    }
    String rawUrl = env.get(POSTGRES_URL.name());
    String url;
    if (rawUrl != null && rawUrl.matches("(?is).*[?&]password=.*")) {
      // Not even the URL is repeated: it holds the password.
      r.read.add(POSTGRES_URL.name());
      r.problems.add(
          "POSTGRES_URL must not hold the password: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE");
      url = null;
    } else {
      url = r.get(POSTGRES_URL);
    }
    Optional<String> user = r.optional(POSTGRES_USER);
    // The password as it is (not trimmed), read directly: its file is read here to name it in
    // messages.
    r.read.add(POSTGRES_PASSWORD.name());
    r.read.add(POSTGRES_PASSWORD_FILE.name());
    String inline = env.get(POSTGRES_PASSWORD.name());
    String file = env.get(POSTGRES_PASSWORD_FILE.name());
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
        r.problems.add(
            "POSTGRES_PASSWORD_FILE='"
                + file.trim()
                + "': cannot read it ("
                + e.getClass().getSimpleName()
                + ")");
      }
    } else if (inline != null && !inline.isEmpty()) {
      password = inline;
    }
    int pool = (int) r.whole(POSTGRES_POOL_SIZE);
    Duration statement = r.get(POSTGRES_STATEMENT_TIMEOUT);
    Duration connect = r.get(POSTGRES_CONNECT_TIMEOUT);
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
    return Setting.parseDuration(v);
  }

  /**
   * Reads declared settings from the environment and collects every problem instead of stopping at
   * the first. A message names the setting, shows its value (unless it is secret), and says what is
   * allowed.
   */
  private static final class Reader {
    private final Map<String, String> env;
    private final List<String> problems = new ArrayList<>();
    private final Set<String> read = new LinkedHashSet<>();

    Reader(Map<String, String> env) {
      this.env = env;
    }

    /** The value, or the declared default when unset or blank. */
    <T> T get(Setting<T> s) {
      return get(s, s.defaultValue());
    }

    /** The value, or this (computed) default when unset or blank; null when neither parses. */
    <T> T get(Setting<T> s, String defaultValue) {
      return valueOf(s, s.name(), defaultValue);
    }

    private <T> T valueOf(Setting<T> s, String name, String defaultValue) {
      read.add(s.name());
      String raw = env.get(name);
      String value = raw == null || raw.isBlank() ? defaultValue : raw.trim();
      try {
        return s.parse(value);
      } catch (RuntimeException e) {
        problems.add(name + (s.secret() ? "" : "='" + value + "'") + ": " + e.getMessage());
        try {
          return s.parse(defaultValue);
        } catch (RuntimeException again) {
          return null;
        }
      }
    }

    /** Empty when unset or blank (the setting has no default). */
    <T> Optional<T> optional(Setting<T> s) {
      read.add(s.name());
      String raw = env.get(s.name());
      if (raw == null || raw.isBlank()) {
        return Optional.empty();
      }
      try {
        return Optional.of(s.parse(raw.trim()));
      } catch (RuntimeException e) {
        problems.add(s.name() + ": " + e.getMessage());
        return Optional.empty();
      }
    }

    long whole(Setting<Long> s) {
      Long v = get(s);
      return v == null ? Long.parseLong(s.defaultValue()) : v;
    }

    long whole(Setting<Long> s, long defaultValue) {
      Long v = get(s, Long.toString(defaultValue));
      return v == null ? defaultValue : v;
    }

    /**
     * Every set member of a family ({@code PREFIX_<SOURCE>}), by source name ({@code K8S_AUDIT} is
     * {@code k8s-audit}); a member whose value is invalid is reported and left out.
     */
    void family(
        Setting<Long> s, long defaultValue, java.util.function.BiConsumer<String, Long> sink) {
      read.add(s.name());
      env.keySet().stream()
          .filter(s::names)
          .sorted()
          .forEach(
              k -> {
                String source =
                    k.substring(s.prefix().length()).toLowerCase(Locale.ROOT).replace('_', '-');
                if (!Finding.SOURCE_NAME.matcher(source).matches()) {
                  problems.add(k + ": '" + source + "' is not a source name");
                  return;
                }
                Long v = valueOf(s, k, Long.toString(defaultValue));
                sink.accept(source, v == null ? defaultValue : v);
              });
    }
  }
}
