package io.kubezen.watcher.config;

import static io.kubezen.watcher.config.Setting.Section.GENERAL;
import static io.kubezen.watcher.config.Setting.Section.HIGH_AVAILABILITY;
import static io.kubezen.watcher.config.Setting.Section.KUBERNETES;
import static io.kubezen.watcher.config.Setting.Section.POSTGRES;
import static io.kubezen.watcher.config.Setting.Section.STANDALONE_INGESTERS;

import io.kubezen.watcher.config.Settings.AccessScope;
import io.kubezen.watcher.config.Settings.LeaderElectionMode;
import io.kubezen.watcher.config.Settings.LogFormat;
import io.kubezen.watcher.config.Settings.Mode;
import io.kubezen.watcher.config.Settings.ReadAuth;
import io.kubezen.watcher.config.Settings.StoreKind;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.SourceKind;
import io.kubezen.watcher.source.catalog.Sources;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Every setting of zen-watcher, declared once, in the order docs/configuration.md lists them.
 * {@link Settings#fromEnv} reads only these; {@link SettingsDoc} writes the docs' tables from them.
 * To add a setting: declare it here, read it in {@link Settings}, run the command {@link
 * SettingsDoc} names.
 */
public final class SettingCatalog {
  private SettingCatalog() {}

  private static final String DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

  // ---------------------------------------------------------------------------------- general

  public static final Setting<StoreKind> OBSERVATION_STORE =
      Setting.choice(
              "OBSERVATION_STORE",
              GENERAL,
              StoreKind.class,
              null,
              "Where Observations are stored: an embedded SQLite file, `Observation` custom resources in "
                  + "the cluster (in a pod through its service account; outside through `KUBECONFIG` or "
                  + "`~/.kube/config`), or a PostgreSQL database that several clusters can share (see [PostgreSQL "
                  + "store](#postgresql-store) and [choosing the store](installation.md#choosing-the-store)). A "
                  + "cluster or database that cannot be reached stops the start.")
          .shownDefault("`kubernetes` when `KUBERNETES_SERVICE_HOST` is set, else `sqlite`");

  public static final Setting<Path> SQLITE_PATH =
      Setting.text(
          "SQLITE_PATH",
          GENERAL,
          "./data/zen-watcher.db",
          "a file path",
          "The SQLite database (standalone). Its directory is created. WAL journal, `synchronous=FULL`: "
              + "an acknowledged finding survives a crash.",
          Path::of);

  public static final Setting<String> POD_NAMESPACE =
      Setting.text(
          "POD_NAMESPACE",
          GENERAL,
          "zen-system",
          "a namespace name",
          "The namespace of Observations whose finding has no namespace (host alerts, cluster-scoped "
              + "objects).",
          v -> {
            if (!v.matches(DNS_LABEL)) {
              throw new IllegalArgumentException(
                  "must be a Kubernetes namespace name (DNS-1123 label)");
            }
            return v;
          });

  public static final Setting<String> WATCHER_BIND_ADDRESS =
      Setting.text(
          "WATCHER_BIND_ADDRESS",
          GENERAL,
          "0.0.0.0",
          "an IP address",
          "The address the HTTP port listens on.",
          v -> {
            try {
              InetAddress.getByName(v);
              return v;
            } catch (UnknownHostException e) {
              throw new IllegalArgumentException("not an IP address or resolvable host name");
            }
          });

  public static final Setting<Long> WATCHER_PORT =
      Setting.whole(
          "WATCHER_PORT",
          GENERAL,
          8080,
          0,
          65535,
          "The one HTTP port: webhooks, read API, health, readiness, metrics. 0 picks a free port (the "
              + "log line \"zen-watcher ready on …\" names it).");

  public static final Setting<Long> DEDUP_WINDOW_SECONDS =
      Setting.whole(
          "DEDUP_WINDOW_SECONDS",
          GENERAL,
          60,
          1,
          86_400,
          "Findings with the same identity inside this window are one Observation. For event-like "
              + "sources ("
              + sourceNames(SourceKind.EVENT)
              + ", generic) the window's time bucket is part of the "
              + "identity; state-like sources ("
              + sourceNames(SourceKind.STATE)
              + ") have no time in their "
              + "identity.");

  /** The built-in sources of one kind, from their descriptors, for the docs. */
  private static String sourceNames(SourceKind kind) {
    return Sources.BUILT_IN.stream()
        .filter(d -> d.kind() == kind)
        .map(SourceDescriptor::name)
        .collect(java.util.stream.Collectors.joining(", "));
  }

  public static final Setting<Long> DEDUP_MAX_SIZE =
      Setting.whole(
          "DEDUP_MAX_SIZE",
          GENERAL,
          10_000,
          1,
          10_000_000,
          "Fingerprints kept in memory for dedup (least recently used go first). An evicted fingerprint "
              + "loses nothing: its next sighting is merged by the store.");

  public static final Setting<Long> DEDUP_FLUSH_INTERVAL_MILLIS =
      Setting.whole(
          "DEDUP_FLUSH_INTERVAL_MILLIS",
          GENERAL,
          2000,
          50,
          600_000,
          "Repeats are written as one update per Observation per this interval.");

  public static final Setting<Long> OBSERVATION_TTL_SECONDS =
      Setting.whole(
              "OBSERVATION_TTL_SECONDS",
              GENERAL,
              604_800,
              60,
              10L * 365 * 86_400,
              "Written as `spec.ttlSecondsAfterCreation`; the garbage collector deletes Observations older "
                  + "than that.")
          .shownDefault("`604800` (7 days)");

  public static final Setting<Long> GC_INTERVAL_MINUTES =
      Setting.whole(
          "GC_INTERVAL_MINUTES",
          GENERAL,
          60,
          1,
          7 * 24 * 60,
          "How often expired Observations are deleted (the first sweep runs after at most one minute).");

  public static final Setting<Path> FILTER_CONFIG =
      Setting.text(
          "FILTER_CONFIG",
          GENERAL,
          null,
          "a file path",
          "The filter file (YAML or JSON, see [filter.md](filter.md)). Re-read when it changes; an "
              + "invalid file at start stops the start, an invalid change is logged and counted and the last "
              + "good filter stays in force.",
          Path::of);

  public static final Setting<Long> FILTER_RELOAD_INTERVAL_SECONDS =
      Setting.whole(
          "FILTER_RELOAD_INTERVAL_SECONDS",
          GENERAL,
          5,
          1,
          3600,
          "How often the filter file is checked for changes.");

  public static final Setting<Long> WEBHOOK_MAX_BODY_BYTES =
      Setting.whole(
              "WEBHOOK_MAX_BODY_BYTES",
              GENERAL,
              1L << 20,
              1024,
              256L << 20,
              "The largest webhook body accepted (413 beyond).")
          .shownDefault("`1048576` (1 MiB)");

  /**
   * Its default is WEBHOOK_MAX_BODY_BYTES, or the source's own ({@link
   * Settings#defaultBodyLimits()}).
   */
  public static final Setting<Long> WEBHOOK_MAX_BODY_BYTES_SOURCE =
      Setting.text(
              "WEBHOOK_MAX_BODY_BYTES_<SOURCE>",
              GENERAL,
              null,
              "1024–268435456",
              "Per-source override; `<SOURCE>` is the source name in upper case with `_` for `-`, e.g. "
                  + "`WEBHOOK_MAX_BODY_BYTES_K8S_AUDIT`, `WEBHOOK_MAX_BODY_BYTES_TRIVY`.",
              v -> Setting.wholeIn(v, 1024, 256L << 20))
          .shownDefault(sourceBodyLimitsDoc());

  public static final Setting<String> WEBHOOK_AUTH_TOKEN =
      Setting.text(
              "WEBHOOK_AUTH_TOKEN",
              GENERAL,
              null,
              "at least 16 characters",
              "When set, every webhook must send `Authorization: Bearer <token>` (compared in constant "
                  + "time); else 401.",
              SettingCatalog::token)
          .shownDefault("none (no auth)")
          .secretValue();

  public static final Setting<List<Cidr>> WEBHOOK_ALLOWED_CIDRS =
      Setting.text(
              "WEBHOOK_ALLOWED_CIDRS",
              GENERAL,
              "",
              "comma-separated CIDRs or addresses, IPv4 or IPv6",
              "When set, webhooks from other peer addresses get 403.",
              v -> {
                List<Cidr> out = new ArrayList<>();
                for (String part : v.split(",")) {
                  if (!part.isBlank()) {
                    out.add(Cidr.parse(part.trim()));
                  }
                }
                return List.copyOf(out);
              })
          .shownDefault("none (any address)");

  public static final Setting<Double> WEBHOOK_RATE_LIMIT_PER_SECOND =
      Setting.text(
              "WEBHOOK_RATE_LIMIT_PER_SECOND",
              GENERAL,
              "0",
              "0–1000000",
              "Per-client (peer address) token-bucket rate; beyond it 429 with `Retry-After`. Off by "
                  + "default so that no finding is refused unless you ask for it.",
              v -> {
                double d = Double.parseDouble(v);
                if (d < 0 || d > 1_000_000 || Double.isNaN(d)) {
                  throw new IllegalArgumentException("must be between 0 (off) and 1000000");
                }
                return d;
              })
          .shownDefault("`0` (off)");

  /** Its default is computed from the rate. */
  public static final Setting<Long> WEBHOOK_RATE_LIMIT_BURST =
      Setting.text(
              "WEBHOOK_RATE_LIMIT_BURST",
              GENERAL,
              null,
              "1–10000000",
              "The bucket size of the per-client rate limit.",
              v -> Setting.wholeIn(v, 1, 10_000_000))
          .shownDefault("twice the rate (at least 1)");

  public static final Setting<Long> WRITE_QUEUE_SIZE =
      Setting.whole(
          "WRITE_QUEUE_SIZE",
          GENERAL,
          10_000,
          1,
          1_000_000,
          "New Observations waiting to be written. A request that does not fit gets 503 with "
              + "`Retry-After` and nothing of it is acknowledged.");

  public static final Setting<Long> WRITE_BATCH_SIZE =
      Setting.whole(
          "WRITE_BATCH_SIZE",
          GENERAL,
          500,
          1,
          10_000,
          "New Observations written per store transaction (per write unit: the writer keeps as many units in flight "
              + "as the store takes at once: 1 for SQLite, `POSTGRES_POOL_SIZE` − 1 (at most 4) for PostgreSQL, "
              + "`KUBE_MAX_IN_FLIGHT`/8 (at least 2) for the Kubernetes store).");

  public static final Setting<Long> WEBHOOK_MAX_FINDINGS =
      Setting.whole(
          "WEBHOOK_MAX_FINDINGS",
          GENERAL,
          10_000,
          1,
          1_000_000,
          "The most findings one webhook request may hold: counted on the body's tokens before anything "
              + "is built (the elements of a top-level array, of the arrays of a top-level object such as "
              + "`items`, or the values of an NDJSON/YAML stream), and again on the normalized findings. "
              + "Beyond it: 413 `the request holds more than N findings`. Memory grows with the number of "
              + "elements, not bytes: 1 MiB of `{}` is 349,000 findings.");

  /** Its default is WEBHOOK_MAX_FINDINGS. */
  public static final Setting<Long> WEBHOOK_MAX_FINDINGS_SOURCE =
      Setting.text(
              "WEBHOOK_MAX_FINDINGS_<SOURCE>",
              GENERAL,
              null,
              "1–1000000",
              "Per-source override, named like `WEBHOOK_MAX_BODY_BYTES_<SOURCE>`.",
              v -> Setting.wholeIn(v, 1, 1_000_000))
          .shownDefault("the global value");

  public static final Setting<Long> WEBHOOK_MAX_INFLIGHT_MIB =
      Setting.whole(
          "WEBHOOK_MAX_INFLIGHT_MIB",
          GENERAL,
          96,
          4,
          65_536,
          "Admission by estimated cost: the estimated heap of all webhook requests being read or "
              + "processed at once (body bytes, ~128 bytes per JSON token, ~4 KiB per finding). A request "
              + "that would go over it gets 503 with `Retry-After: 1`; one larger than the whole budget is "
              + "admitted when nothing else is in flight. With the chart's 512 MiB container (the image's JVM "
              + "flags: heap 50 %) the default keeps peak RSS under 450 MiB at any concurrency.");

  public static final Setting<Long> HTTP_MAX_CONNECTIONS =
      Setting.whole(
          "HTTP_MAX_CONNECTIONS",
          GENERAL,
          2000,
          1,
          1_000_000,
          "Open HTTP connections at most (all endpoints share the port). Over it, a new connection is "
              + "closed at accept, before anything is read.");

  public static final Setting<Duration> HTTP_HEADER_TIMEOUT =
      Setting.duration(
          "HTTP_HEADER_TIMEOUT",
          GENERAL,
          "10s",
          Duration.ofMillis(100),
          Duration.ofMinutes(10),
          "A new connection must send a complete request head within this, else it is closed "
              + "(slowloris). Later requests on a kept-alive connection are bounded by the idle timeout (120 "
              + "s without a byte).");

  public static final Setting<ReadAuth> READ_AUTH =
      Setting.choice(
          "READ_AUTH",
          GENERAL,
          ReadAuth.class,
          ReadAuth.NONE,
          "Who may read. `token`: every GET route except `/health`, `/ready` and `/metrics` (the read "
              + "API `/api/v1/...` and the web console under `/`, including routes added later) needs "
              + "`Authorization: Bearer <READ_AUTH_TOKEN>`, else 401; a browser signs in once at `/login` with "
              + "the token and then carries a signed session cookie (see "
              + "[console.md](console.md#signing-in-read_authtoken)). `none`: reads are open to whoever "
              + "reaches the port. The chart's default is `none` too (a ClusterIP Service); set "
              + "`readAuth.mode=token` in any cluster where the port is reachable by workloads that may not "
              + "read findings (see [installation.md](installation.md)).");

  public static final Setting<String> READ_AUTH_TOKEN =
      Setting.text(
              "READ_AUTH_TOKEN",
              GENERAL,
              null,
              "at least 16 characters",
              "The read token (compared in constant time).",
              SettingCatalog::token)
          .secretValue();

  /** The token read from the file (never shown). */
  public static final Setting<String> READ_AUTH_TOKEN_FILE =
      Setting.text(
          "READ_AUTH_TOKEN_FILE",
          GENERAL,
          null,
          "a readable file",
          "The same, read from a file (a mounted Secret); set one of the two.",
          v -> {
            try {
              String t = java.nio.file.Files.readString(Path.of(v)).strip();
              if (t.length() < 16) {
                throw new IllegalArgumentException(
                    "the token in " + v + " must be at least 16 characters");
              }
              return t;
            } catch (java.io.IOException e) {
              throw new IllegalArgumentException("cannot read " + v + ": " + e.getMessage());
            }
          });

  public static final Setting<String> METRICS_AUTH =
      Setting.oneOf(
          "METRICS_AUTH",
          GENERAL,
          "none",
          List.of("none", "token"),
          "`token`: `/metrics` needs the read token too (give Prometheus "
              + "`authorization.credentials_file`). By default `/metrics` stays open so scraping keeps "
              + "working.");

  public static final Setting<Long> CEL_COST_LIMIT =
      Setting.whole(
          "CEL_COST_LIMIT",
          GENERAL,
          100_000,
          100,
          100_000_000,
          "The CEL budget of one evaluation (filters and Ingester mappings): characters, elements and "
              + "values built in all. `replace` is checked before it builds its result. An expression over "
              + "the budget on a worst-case input (fields of the largest size) is refused at load (the last "
              + "good filter stays; the Ingester is not Ready); one that goes over at run time fails that "
              + "evaluation only (the filter keeps the finding and counts an expression error; a mapping "
              + "answers 422).");

  /** Its default is computed: {@link Settings#defaultLogFormat}. */
  public static final Setting<LogFormat> LOG_FORMAT =
      Setting.choice(
              "LOG_FORMAT",
              GENERAL,
              LogFormat.class,
              null,
              "JSON lines (logstash encoder: `@timestamp`, `level`, `logger_name`, `thread_name`, "
                  + "`message`, and the structured fields) for a log pipeline; text (`10:15:30.123 INFO  [thread] "
                  + "logger message`) for a person: outside a cluster, or on a terminal (`kubectl run -it`, "
                  + "`docker run -it`). Setting it overrides both.")
          .shownDefault(
              "`json` in a pod (`KUBERNETES_SERVICE_HOST` set) whose standard output is not a terminal; else `text`");

  public static final Setting<String> LOG_LEVEL =
      Setting.oneOf(
          "LOG_LEVEL",
          GENERAL,
          "info",
          List.of("trace", "debug", "info", "warn", "error"),
          "The root log level.");

  // ---------------------------------------------------------------------------------- Kubernetes
  // mode

  /**
   * Read by the Kubernetes client, not by Settings; declared so that it is documented and checked.
   */
  public static final Setting<String> KUBECONFIG =
      Setting.text(
              "KUBECONFIG",
              KUBERNETES,
              null,
              "a kubeconfig path",
              "The standard client variable: which cluster to use when not running in a pod.",
              v -> v)
          .shownDefault("in-cluster service account");

  /**
   * Read by the JVM, not by Settings; declared so that the chart's value is documented and checked.
   */
  public static final Setting<String> JAVA_TOOL_OPTIONS =
      Setting.text(
              "JAVA_TOOL_OPTIONS",
              KUBERNETES,
              null,
              "JVM flags",
              "The standard JVM variable. The image (and the chart's `jvm.options`, identical) sizes the JVM "
                  + "for a 512 MiB container: heap 40 %, serial GC, Netty arenas and chunk size bounded, glibc's freed memory "
                  + "given back every 5 s; why each: "
                  + "[high-availability.md](high-availability.md#memory).",
              v -> v)
          .shownDefault("the image's memory flags (see the Dockerfile)");

  /**
   * Read by glibc, not by Settings; declared so that the chart's value is documented and checked.
   */
  public static final Setting<String> MALLOC_ARENA_MAX =
      Setting.text(
              "MALLOC_ARENA_MAX",
              KUBERNETES,
              null,
              "a number",
              "The standard glibc variable: how many malloc arenas the process keeps (otherwise up to 8 per "
                  + "core, whose fragments count in the RSS).",
              v -> v)
          .shownDefault("`2` in the image and the chart");

  public static final Setting<AccessScope> ACCESS_SCOPE =
      Setting.choice(
          "ACCESS_SCOPE",
          KUBERNETES,
          AccessScope.class,
          AccessScope.CLUSTER,
          "What the service account may touch. `cluster`: a ClusterRole. `namespaces`: namespaced Roles "
              + "only (a namespace-sharded install; the chart sets it with `rbac.clusterScoped=false`). Then "
              + "the install's namespaces are `POD_NAMESPACE` plus `WATCH_NAMESPACE` (which defaults to "
              + "`POD_NAMESPACE`); every list is made in each of them, never across all namespaces; a source "
              + "counts as installed when its resource can be listed there (CRDs are not read); findings "
              + "about any other namespace are stored in `POD_NAMESPACE` (their `spec.resource.namespace` "
              + "still names their own); `INGESTER_NAMESPACE` defaults to `POD_NAMESPACE`. Not with "
              + "`WATCH_NAMESPACE_SELECTOR` or `WATCH_CLUSTER_SCOPED=true`, which need cluster-wide rights; "
              + "`INGESTER_NAMESPACE` and a `FILTER_CONFIGMAP` namespace must be among the install's "
              + "namespaces.");

  public static final Setting<String> CLUSTER_NAME =
      Setting.text(
              "CLUSTER_NAME",
              KUBERNETES,
              null,
              "at most 253 characters",
              "Written on every Observation as `spec.clusterName`. With the postgres store it is part of "
                  + "every row's key: give each cluster sharing a database its own name.",
              v -> atMost(v, 253))
          .shownDefault("none (required with `OBSERVATION_STORE=postgres`, except `MODE=reader`)");

  public static final Setting<Double> KUBE_WRITE_QPS =
      Setting.text(
          "KUBE_WRITE_QPS",
          KUBERNETES,
          "0",
          "0, or above 0 and at most 100000",
          "The highest API write rate (creates, status updates, deletes), per second; `0`: no ceiling. "
              + "Writes are paced by an adaptive limiter that starts at 100/s, adds 50/s each second while "
              + "answers come fast, halves on 429 or 5xx (waiting out `Retry-After`) and slows down by 30 % "
              + "when latency rises to 4× the lowest seen (and above 250 ms); this setting only caps it.",
          v -> {
            double d = Double.parseDouble(v);
            if (!(d >= 0) || d > 100_000) {
              throw new IllegalArgumentException(
                  "must be 0 (no ceiling: adaptive) or a number above 0 and at most 100000");
            }
            return d;
          });

  public static final Setting<Long> KUBE_WRITE_BURST =
      Setting.whole(
          "KUBE_WRITE_BURST",
          KUBERNETES,
          40,
          1,
          100_000,
          "Writes allowed at once after a quiet period (the limiter's burst).");

  public static final Setting<Long> KUBE_MAX_IN_FLIGHT =
      Setting.whole(
          "KUBE_MAX_IN_FLIGHT",
          KUBERNETES,
          32,
          1,
          256,
          "API write requests running at once, over all the write batches in flight (the writer keeps this/8 "
              + "batches, at least 2, in flight; the rate is the adaptive limiter's; this bounds the concurrency).");

  public static final Setting<Long> MAX_OBSERVATIONS =
      Setting.whole(
              "MAX_OBSERVATIONS",
              KUBERNETES,
              0,
              0,
              100_000_000,
              "Live Observations kept at most. At the cap a new Observation evicts one of a lower severity, "
                  + "or is refused when there is none (both counted in `zen_watcher_observations_shed_total`). "
                  + "Kubernetes store: counted per replica between GC sweeps, so approximate with several "
                  + "replicas. SQLite and Postgres stores: at write time, exact "
                  + "(Postgres: per cluster, the writes of one cluster's replicas take turns under an advisory lock "
                  + "while a cap is set; each GC sweep also deletes any excess left by a lowered cap, lowest "
                  + "severities first and the oldest first among them).")
          .shownDefault("`0` (no cap)");

  public static final Setting<Long> OBSERVATION_MAX_DETAILS_BYTES =
      Setting.whole(
          "OBSERVATION_MAX_DETAILS_BYTES",
          KUBERNETES,
          8192,
          64,
          1 << 20,
          "`spec.details` larger than this (as JSON) is cut, largest values first, and marked "
              + "`truncated: true`.");

  public static final Setting<Set<String>> SOURCES =
      Setting.text(
              "SOURCES",
              KUBERNETES,
              "",
              "comma list of " + Setting.codes(Settings.watchedSourceNames()),
              "The watched (informer) sources to run.",
              v -> {
                List<String> known = Settings.watchedSourceNames();
                Set<String> out = new LinkedHashSet<>();
                for (String part : v.split(",")) {
                  String name = part.trim().toLowerCase(Locale.ROOT);
                  if (name.isEmpty()) {
                    continue;
                  }
                  if (!known.contains(name)) {
                    throw new IllegalArgumentException(
                        "'"
                            + name
                            + "' is not a watched source (one of "
                            + String.join(", ", new TreeSet<>(known))
                            + ")");
                  }
                  out.add(name);
                }
                return Set.copyOf(out);
              })
          .shownDefault("all");

  public static final Setting<List<String>> WATCH_NAMESPACE =
      Setting.text(
              "WATCH_NAMESPACE",
              KUBERNETES,
              "",
              "comma list of namespace names",
              "Watch namespaced sources only in these namespaces (one informer per namespace and source).",
              v -> {
                List<String> out = new ArrayList<>();
                for (String part : v.split(",")) {
                  String ns = part.trim();
                  if (ns.isEmpty()) {
                    continue;
                  }
                  if (!ns.matches(DNS_LABEL)) {
                    throw new IllegalArgumentException("'" + ns + "' is not a namespace name");
                  }
                  out.add(ns);
                }
                return List.copyOf(out);
              })
          .shownDefault("all namespaces");

  /** null when unset. */
  public static final Setting<String> WATCH_NAMESPACE_SELECTOR =
      Setting.text(
              "WATCH_NAMESPACE_SELECTOR",
              KUBERNETES,
              "",
              "a label selector",
              "Also watch the namespaces with these labels, following them as they come and go.",
              v -> {
                if (v.isBlank()) {
                  return null;
                }
                io.kubezen.watcher.kube.LabelSelector.parse(v);
                return v;
              })
          .shownDefault("none");

  public static final Setting<Boolean> WATCH_CLUSTER_SCOPED =
      Setting.flag(
          "WATCH_CLUSTER_SCOPED",
          KUBERNETES,
          false,
          "With `WATCH_NAMESPACE` or `WATCH_NAMESPACE_SELECTOR` set, still watch cluster-scoped reports "
              + "(ClusterVulnerabilityReport, ClusterPolicyReport, ClusterReport). Without scoping they are "
              + "always watched.");

  public static final Setting<Long> SOURCE_CRD_CHECK_INTERVAL_SECONDS =
      Setting.whole(
          "SOURCE_CRD_CHECK_INTERVAL_SECONDS",
          KUBERNETES,
          30,
          1,
          3600,
          "How often a source whose CRD is not installed looks for it again (it starts without a "
              + "restart once the CRD appears).");

  public static final Setting<Boolean> WARM_STANDBY =
      Setting.flag(
          "WARM_STANDBY",
          KUBERNETES,
          true,
          "Followers keep the watched sources' informers running (read-only: only the leader writes) "
              + "and remember which Observations each watched object's findings map to, so that a new "
              + "leader's catch-up reads only the objects that changed, instead of listing every report "
              + "again. Costs each follower the watches and the CPU of normalizing each report change, and a "
              + "few bytes per finding. See docs/high-availability.md for the measured trade-off.");

  public static final Setting<String> INGESTER_NAMESPACE =
      Setting.text(
              "INGESTER_NAMESPACE",
              KUBERNETES,
              null,
              "a namespace name",
              "Watch `Ingester` resources only in this namespace.",
              v -> {
                if (!v.matches(DNS_LABEL)) {
                  throw new IllegalArgumentException("must be a namespace name");
                }
                return v;
              })
          .shownDefault("all namespaces (`POD_NAMESPACE` with `ACCESS_SCOPE=namespaces`)");

  public static final Setting<Long> INGESTER_STATUS_INTERVAL_SECONDS =
      Setting.whole(
          "INGESTER_STATUS_INTERVAL_SECONDS",
          KUBERNETES,
          5,
          1,
          300,
          "How often Ingester status counts are written.");

  public static final Setting<Long> INGESTER_RESYNC_SECONDS =
      Setting.whole(
          "INGESTER_RESYNC_SECONDS",
          KUBERNETES,
          300,
          10,
          3600,
          "How often Ingesters re-read their Secrets and retry a missing CRD.");

  public static final Setting<String> FILTER_CONFIGMAP =
      Setting.text(
          "FILTER_CONFIGMAP",
          KUBERNETES,
          null,
          "`name` or `namespace/name` (default namespace `POD_NAMESPACE`)",
          "The global filter from a ConfigMap's key `filter.yaml`, hot-reloaded; an invalid change "
              + "keeps the last good filter. Not together with `FILTER_CONFIG`.",
          v -> {
            if (!v.matches("^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")) {
              throw new IllegalArgumentException("must be a ConfigMap name or namespace/name");
            }
            return v;
          });

  // ---------------------------------------------------------------------------------- high
  // availability

  /** Its default is computed: builtin in Kubernetes mode, else disabled. */
  public static final Setting<LeaderElectionMode> LEADER_ELECTION_MODE =
      Setting.choice(
              "LEADER_ELECTION_MODE",
              HIGH_AVAILABILITY,
              LeaderElectionMode.class,
              null,
              "`builtin`: Lease election among the replicas (needs Kubernetes mode: the Lease is in the "
                  + "cluster). `disabled`: this replica always runs the leader work (one replica, or standalone).")
          .shownDefault(
              "`builtin` in Kubernetes mode (`OBSERVATION_STORE=kubernetes`, or `postgres` in a pod), else `disabled`");

  public static final Setting<String> LEADER_ELECTION_ID =
      Setting.text(
          "LEADER_ELECTION_ID",
          HIGH_AVAILABILITY,
          "zen-watcher-leader-election",
          "a Kubernetes object name",
          "The Lease's name, in `POD_NAMESPACE`.",
          v -> {
            if (!v.matches("^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")) {
              throw new IllegalArgumentException(
                  "must be a Kubernetes object name (DNS-1123 subdomain)");
            }
            return v;
          });

  /** Its default is computed: HOSTNAME, else the host name. */
  public static final Setting<String> POD_NAME =
      Setting.text(
              "POD_NAME",
              HIGH_AVAILABILITY,
              null,
              "at most 253 characters",
              "This replica's holder identity in the Lease (set it from the downward API).",
              v -> atMost(v, 253))
          .shownDefault("`HOSTNAME`, else the host name");

  public static final Setting<Duration> LEADER_ELECTION_LEASE_DURATION =
      Setting.duration(
              "LEADER_ELECTION_LEASE_DURATION",
              HIGH_AVAILABILITY,
              "15s",
              Duration.ofMillis(100),
              Duration.ofHours(1),
              "How long followers wait, from when they last saw the Lease renewed, before taking it (crash "
                  + "takeover time).")
          .shownAllowed("100ms–1h; longer than the renew deadline");

  public static final Setting<Duration> LEADER_ELECTION_RENEW_DEADLINE =
      Setting.duration(
              "LEADER_ELECTION_RENEW_DEADLINE",
              HIGH_AVAILABILITY,
              "10s",
              Duration.ofMillis(50),
              Duration.ofHours(1),
              "The leader gives up (stops the leader work) when it could not renew for this long.")
          .shownAllowed("50ms–1h; longer than the retry period");

  public static final Setting<Duration> LEADER_ELECTION_RETRY_PERIOD =
      Setting.duration(
          "LEADER_ELECTION_RETRY_PERIOD",
          HIGH_AVAILABILITY,
          "2s",
          Duration.ofMillis(10),
          Duration.ofHours(1),
          "How often the leader renews and a follower retries. Followers also watch the Lease: a "
              + "released Lease is taken at once, an expired one when it expires.");

  public static final Setting<Duration> SHUTDOWN_TIMEOUT =
      Setting.duration(
          "SHUTDOWN_TIMEOUT",
          HIGH_AVAILABILITY,
          "20s",
          Duration.ofSeconds(1),
          Duration.ofMinutes(10),
          "On SIGTERM, within this time: `/ready` turns 503, new webhooks get 503, in-flight ones "
              + "finish and are stored, the leader work stops, the Lease is released (empty holder, so a "
              + "follower takes it at once), exit.");

  // ---------------------------------------------------------------------------------- PostgreSQL
  // store

  public static final Setting<String> POSTGRES_URL =
      Setting.text(
              "POSTGRES_URL",
              POSTGRES,
              "",
              "`jdbc:postgresql://host:port/database[?options]`, without a password",
              "The database. Driver options (e.g. `sslmode=verify-full`) go in the query string.",
              v -> {
                if (v.isEmpty()) {
                  throw new IllegalArgumentException(
                      "is required with OBSERVATION_STORE=postgres "
                          + "(jdbc:postgresql://host:5432/database)");
                }
                if (!v.startsWith("jdbc:postgresql:")) {
                  throw new IllegalArgumentException(
                      "must start with jdbc:postgresql: (jdbc:postgresql://host:5432/database)");
                }
                return v;
              })
          .shownDefault("none (required)");

  public static final Setting<String> POSTGRES_USER =
      Setting.text(
              "POSTGRES_USER",
              POSTGRES,
              null,
              "at most 63 characters",
              "The database user. It needs to create tables in the database on the first start (or run a "
                  + "watcher once with such a user); a `MODE=reader` user needs only `SELECT`.",
              v -> atMost(v, 63))
          .shownDefault("the driver's default");

  /**
   * Taken as it is (not trimmed); read in {@link Settings} together with POSTGRES_PASSWORD_FILE.
   */
  public static final Setting<String> POSTGRES_PASSWORD =
      Setting.text(
              "POSTGRES_PASSWORD",
              POSTGRES,
              null,
              "any text",
              "The password. Never logged. Prefer `POSTGRES_PASSWORD_FILE` (the chart mounts a Secret).",
              v -> v)
          .secretValue();

  public static final Setting<String> POSTGRES_PASSWORD_FILE =
      Setting.text(
          "POSTGRES_PASSWORD_FILE",
          POSTGRES,
          null,
          "a file path",
          "A file holding the password (trailing newline ignored). Not together with "
              + "`POSTGRES_PASSWORD`.",
          v -> v);

  public static final Setting<Long> POSTGRES_POOL_SIZE =
      Setting.whole(
          "POSTGRES_POOL_SIZE",
          POSTGRES,
          8,
          1,
          200,
          "Connections kept at most (HikariCP). The writer uses one at a time; reads and readiness "
              + "probes use the rest.");

  public static final Setting<Duration> POSTGRES_STATEMENT_TIMEOUT =
      Setting.duration(
          "POSTGRES_STATEMENT_TIMEOUT",
          POSTGRES,
          "10s",
          Duration.ofMillis(100),
          Duration.ofMinutes(10),
          "The server cancels a statement after this long (`statement_timeout`); a server that does not "
              + "answer at all (paused, cut off) is given up by the client 2 s later. The webhook then gets "
              + "503 with `Retry-After`: nothing is acknowledged that is not committed.");

  public static final Setting<Duration> POSTGRES_CONNECT_TIMEOUT =
      Setting.duration(
          "POSTGRES_CONNECT_TIMEOUT",
          POSTGRES,
          "5s",
          Duration.ofMillis(250),
          Duration.ofMinutes(5),
          "How long opening a connection, or waiting for a free one, may take before the call fails "
              + "(503). At start, an unreachable database stops the start after this long.");

  public static final Setting<Mode> MODE =
      Setting.choice(
          "MODE",
          POSTGRES,
          Mode.class,
          Mode.WATCHER,
          "`reader`: a read-only viewer over a shared PostgreSQL database (needs "
              + "`OBSERVATION_STORE=postgres`; `CLUSTER_NAME` optional): serves the read API, health, "
              + "readiness and metrics for every cluster; webhooks answer 404; no sources, no leader "
              + "election, no garbage collection, no writes, no migration (it refuses a database that no "
              + "watcher of its version has migrated).");

  public static final Setting<String> KUBERNETES_MODE =
      Setting.oneOf(
          "KUBERNETES_MODE",
          POSTGRES,
          "auto",
          List.of("auto", "true", "false"),
          "With the postgres store: `auto` runs Kubernetes mode (leader election, informer sources, "
              + "Ingesters, catch-up, as with the kubernetes store) when in a pod (`KUBERNETES_SERVICE_HOST` "
              + "set); `true` also outside a pod (through `KUBECONFIG`); `false` never (webhooks only, like "
              + "standalone). The kubernetes store is always Kubernetes mode; the sqlite store never.");

  // ---------------------------------------------------------------------------------- standalone
  // Ingesters

  public static final Setting<Path> INGESTERS_DIR =
      Setting.text(
          "INGESTERS_DIR",
          STANDALONE_INGESTERS,
          null,
          "a directory",
          "Ingester YAML files declaring webhook sources (see [ingesters.md](ingesters.md)); re-read "
              + "when they change; an invalid one is logged and skipped.",
          Path::of);

  public static final Setting<Long> INGESTERS_POLL_SECONDS =
      Setting.whole(
          "INGESTERS_POLL_SECONDS",
          STANDALONE_INGESTERS,
          5,
          1,
          3600,
          "How often `INGESTERS_DIR` is checked for changes.");

  // ---------------------------------------------------------------------------------- the list

  /** Every declaration above, in declaration (and docs) order. */
  public static final List<Setting<?>> ALL = declared();

  /** The declaration of an environment variable (a family's member too), or null. */
  public static Setting<?> find(String env) {
    for (Setting<?> s : ALL) {
      if (s.names(env)) {
        return s;
      }
    }
    return null;
  }

  private static List<Setting<?>> declared() {
    List<Setting<?>> out = new ArrayList<>();
    for (Field f : SettingCatalog.class.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == Setting.class) {
        try {
          out.add((Setting<?>) f.get(null));
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return List.copyOf(out);
  }

  private static String token(String v) {
    if (v.length() < 16) {
      throw new IllegalArgumentException("must be at least 16 characters");
    }
    return v;
  }

  private static String atMost(String v, int max) {
    if (v.length() > max) {
      throw new IllegalArgumentException("must be at most " + max + " characters");
    }
    return v;
  }

  /** {@code `k8s-audit`: `8388608` (8 MiB)}: the sources whose default body limit is their own. */
  private static String sourceBodyLimitsDoc() {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Long> e :
        new java.util.TreeMap<>(Settings.defaultBodyLimits()).entrySet()) {
      long v = e.getValue();
      String mib = v % (1 << 20) == 0 ? " (" + (v >> 20) + " MiB)" : "";
      out.add("`" + e.getKey() + "`: `" + v + "`" + mib);
    }
    return out.isEmpty() ? "`WEBHOOK_MAX_BODY_BYTES`" : String.join("; ", out);
  }
}
