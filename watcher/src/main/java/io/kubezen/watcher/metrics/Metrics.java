package io.kubezen.watcher.metrics;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Every metric zen-watcher exports, named in one place. Dashboards and alert rules depend on these
 * names: change one only together with them. Label values are bounded: source names (built-in ones,
 * and at most {@link #MAX_CUSTOM_SOURCE_LABELS} custom ones, the rest as {@code other}),
 * severities, categories, HTTP codes and fixed reason words; never object names or IDs.
 */
public final class Metrics {
  // Prometheus names: Micrometer appends _total to counters and _seconds to timers.
  public static final String OBSERVATIONS_CREATED = "zen_watcher_observations_created";
  public static final String OBSERVATIONS_FILTERED = "zen_watcher_observations_filtered";
  public static final String OBSERVATIONS_DEDUPED = "zen_watcher_observations_deduped";
  public static final String OBSERVATIONS_CREATE_ERRORS = "zen_watcher_observations_create_errors";
  public static final String WEBHOOK_REQUESTS = "zen_watcher_webhook_requests";
  public static final String WEBHOOK_EVENTS_DROPPED = "zen_watcher_webhook_events_dropped";
  public static final String EVENTS = "zen_watcher_events";
  public static final String GC_DELETED = "zen_watcher_gc_deleted";
  public static final String GC_ERRORS = "zen_watcher_gc_errors";
  public static final String PROCESSING_DURATION = "zen_watcher_processing_duration";
  public static final String WRITE_DURATION = "zen_watcher_store_write_duration";
  public static final String OBSERVATIONS_LIVE = "zen_watcher_observations_live";
  public static final String OBSERVATIONS_SHED = "zen_watcher_observations_shed";
  public static final String KUBE_REQUESTS = "zen_watcher_kube_requests";
  public static final String KUBE_REQUEST_DURATION = "zen_watcher_kube_request_duration";
  public static final String KUBE_WRITE_RATE_LIMIT = "zen_watcher_kube_write_rate_limit";
  public static final String KUBE_CONFLICT_RETRIES = "zen_watcher_kube_conflict_retries";
  public static final String KUBE_THROTTLED_RETRIES = "zen_watcher_kube_throttled_retries";
  public static final String WRITE_QUEUE_DEPTH = "zen_watcher_write_queue_depth";

  /**
   * Sightings counted as repeats and not yet written (issue 10: the bound of what a crash can lose
   * in Kubernetes mode).
   */
  public static final String REPEATS_PENDING = "zen_watcher_repeats_pending";

  public static final String DEDUP_CACHE_SIZE = "zen_watcher_dedup_cache_size";
  public static final String FILTER_RELOADS = "zen_watcher_filter_reloads";
  public static final String FILTER_EXPRESSION_ERRORS = "zen_watcher_filter_expression_errors";
  // Watched (informer) sources. The last two keep the names the issue gives them: zenwatcher_, not
  // zen_watcher_.
  public static final String INFORMER_CACHE_SYNCED = "zen_watcher_informer_cache_synced";
  public static final String SOURCE_AVAILABLE = "zen_watcher_source_available";
  public static final String SOURCE_WATCH_RESTARTS = "zenwatcher_source_watch_restarts";
  public static final String SOURCE_WATCH_LAST_EVENT =
      "zenwatcher_source_watch_last_event_timestamp_seconds";

  // High availability (issue 4): the names the issue gives them.
  public static final String IS_LEADER = "zenwatcher_is_leader";
  public static final String LEADER_TRANSITIONS = "zenwatcher_leader_election_transitions";
  public static final String FAILOVER_DURATION = "zenwatcher_failover_duration";
  public static final String CATCHUP_DURATION = "zenwatcher_catchup_duration";
  public static final String CATCHUP_CREATED = "zenwatcher_catchup_created";

  public static final int MAX_CUSTOM_SOURCE_LABELS = 32;
  public static final String OTHER = "other";

  private final MeterRegistry registry;
  private final PrometheusMeterRegistry prometheus;
  private final Set<String> builtInSources;
  private final Set<String> customSourceLabels = ConcurrentHashMap.newKeySet();
  private final Map<Key, Counter> counters = new ConcurrentHashMap<>();
  private final Map<String, Timer> processingTimers = new ConcurrentHashMap<>();
  private final Map<Key, GaugeValue> gaugeValues = new ConcurrentHashMap<>();
  private final Timer writeTimer;

  private record Key(String name, String a, String b, String c) {}

  /**
   * Keeps our names as written. The default convention sanitizes names through the Prometheus
   * client, which strips OpenMetrics' reserved suffixes and would turn the documented {@code
   * zen_watcher_observations_created_total} into {@code zen_watcher_observations_total}. Counters
   * still get {@code _total} and timers {@code _seconds}.
   */
  private static final class ExactNames
      implements io.micrometer.core.instrument.config.NamingConvention {
    private final io.micrometer.prometheusmetrics.PrometheusNamingConvention standard =
        new io.micrometer.prometheusmetrics.PrometheusNamingConvention();

    @Override
    public String name(
        String name, io.micrometer.core.instrument.Meter.Type type, String baseUnit) {
      if (!name.startsWith("zen_watcher_") && !name.startsWith("zenwatcher_")) {
        return standard.name(name, type, baseUnit);
      }
      return switch (type) {
        case TIMER, LONG_TASK_TIMER -> name + "_seconds";
        default -> name;
      };
    }

    @Override
    public String tagKey(String key) {
      return standard.tagKey(key);
    }
  }

  private Metrics(
      MeterRegistry registry, PrometheusMeterRegistry prometheus, Set<String> builtInSources) {
    this.registry = registry;
    this.prometheus = prometheus;
    this.builtInSources = Set.copyOf(builtInSources);
    this.writeTimer =
        Timer.builder(WRITE_DURATION)
            .description("Time to write one batch of Observations to the store")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofMillis(1))
            .maximumExpectedValue(Duration.ofSeconds(30))
            .register(registry);
  }

  /** A Prometheus registry with JVM and process metrics bound. */
  public static Metrics prometheus(Set<String> builtInSources) {
    PrometheusMeterRegistry p = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    p.config().namingConvention(new ExactNames());
    new JvmMemoryMetrics().bindTo(p);
    new JvmGcMetrics().bindTo(p);
    new JvmThreadMetrics().bindTo(p);
    new ClassLoaderMetrics().bindTo(p);
    new ProcessorMetrics().bindTo(p);
    new UptimeMetrics().bindTo(p);
    return new Metrics(p, p, builtInSources);
  }

  /** Over any registry (tests use a SimpleMeterRegistry). */
  public static Metrics over(MeterRegistry registry, Set<String> builtInSources) {
    return new Metrics(
        registry, registry instanceof PrometheusMeterRegistry p ? p : null, builtInSources);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** The Prometheus text exposition; empty when the registry is not a Prometheus one. */
  public String scrape() {
    return prometheus == null ? "" : prometheus.scrape();
  }

  /**
   * The label value for a source: its name when built in or among the first custom ones, else
   * {@code other}.
   */
  public String sourceLabel(String source) {
    if (builtInSources.contains(source) || customSourceLabels.contains(source)) {
      return source;
    }
    if (customSourceLabels.size() < MAX_CUSTOM_SOURCE_LABELS) {
      customSourceLabels.add(source);
      return source;
    }
    return OTHER;
  }

  public void observationCreated(String source, Category category, Severity severity) {
    counter(
            OBSERVATIONS_CREATED,
            "Observations created in the store",
            "source",
            sourceLabel(source),
            "category",
            category.wire(),
            "severity",
            severity.wire())
        .increment();
  }

  public void filtered(String source, String reason) {
    counter(
            OBSERVATIONS_FILTERED,
            "Findings dropped by the filter, by reason",
            "source",
            sourceLabel(source),
            "reason",
            reason,
            null,
            null)
        .increment();
  }

  public void deduped(String source) {
    counter(
            OBSERVATIONS_DEDUPED,
            "Findings merged into an existing Observation",
            "source",
            sourceLabel(source),
            null,
            null,
            null,
            null)
        .increment();
  }

  public void createErrors(String source, int n) {
    counter(
            OBSERVATIONS_CREATE_ERRORS,
            "Observations that could not be stored",
            "source",
            sourceLabel(source),
            null,
            null,
            null,
            null)
        .increment(n);
  }

  public void webhookRequest(String source, int code) {
    counter(
            WEBHOOK_REQUESTS,
            "Webhook requests by source and HTTP status",
            "source",
            source == null ? "unknown" : sourceLabel(source),
            "code",
            Integer.toString(code),
            null,
            null)
        .increment();
  }

  public void webhookEventsDropped(String source, String reason, int n) {
    counter(
            WEBHOOK_EVENTS_DROPPED,
            "Webhook requests or events refused before processing, by reason",
            "source",
            source == null ? "unknown" : sourceLabel(source),
            "reason",
            reason,
            null,
            null)
        .increment(n);
  }

  public void event(String source, Severity severity) {
    counter(
            EVENTS,
            "Findings received, by source and severity",
            "source",
            sourceLabel(source),
            "severity",
            severity.wire(),
            null,
            null)
        .increment();
  }

  public void gcDeleted(int n) {
    counter(
            GC_DELETED,
            "Observations deleted by the TTL garbage collector",
            null,
            null,
            null,
            null,
            null,
            null)
        .increment(n);
  }

  public void gcErrors(int n) {
    counter(
            GC_ERRORS,
            "Garbage-collector deletes or sweeps that failed",
            null,
            null,
            null,
            null,
            null,
            null)
        .increment(n);
  }

  public void filterReload(boolean ok) {
    counter(
            FILTER_RELOADS,
            "Filter configuration loads, by result",
            "result",
            ok ? "success" : "error",
            null,
            null,
            null,
            null)
        .increment();
  }

  public void filterExpressionError(String source) {
    counter(
            FILTER_EXPRESSION_ERRORS,
            "Filter expressions that failed to evaluate (the finding was kept)",
            "source",
            sourceLabel(source),
            null,
            null,
            null,
            null)
        .increment();
  }

  /** Time from receiving a webhook body to answering it, per source. */
  public Timer processing(String source) {
    return processingTimers.computeIfAbsent(
        sourceLabel(source),
        s ->
            Timer.builder(PROCESSING_DURATION)
                .description(
                    "Time from receiving a webhook request to answering it, after every Observation is stored")
                .tag("source", s)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry));
  }

  public Timer writeBatch() {
    return writeTimer;
  }

  /**
   * The value of a gauge this class keeps: a double, NaN while unknown (it is written at once where
   * known).
   */
  private static final class GaugeValue {
    private final java.util.concurrent.atomic.AtomicLong bits =
        new java.util.concurrent.atomic.AtomicLong(Double.doubleToLongBits(Double.NaN));

    void set(double value) {
      bits.set(Double.doubleToLongBits(value));
    }

    double get() {
      return Double.longBitsToDouble(bits.get());
    }
  }

  /** 1 when every informer of a watched source has listed its objects, else 0. */
  public void informerCacheSynced(String source, boolean synced) {
    gaugeValue(
            INFORMER_CACHE_SYNCED,
            "1 when every informer of a watched source has synced its cache, else 0",
            "source",
            sourceLabel(source),
            null,
            null)
        .set(synced ? 1 : 0);
  }

  /** 1 when a watched source's resource is served (its CRD is installed), else 0. */
  public void sourceAvailable(String source, String gvr, boolean available) {
    gaugeValue(
            SOURCE_AVAILABLE,
            "1 when a watched source's resource is served (its CRD is installed), else 0",
            "source",
            sourceLabel(source),
            "gvr",
            gvr)
        .set(available ? 1 : 0);
  }

  /** A watch or list of a watched source failed and is retried. */
  public void sourceWatchRestart(String source, String gvr) {
    counter(
            SOURCE_WATCH_RESTARTS,
            "Watches or lists of a watched source that failed and were restarted",
            "source",
            sourceLabel(source),
            "gvr",
            gvr,
            null,
            null)
        .increment();
  }

  /** When a watched source last delivered an object (added, updated or deleted). */
  public void sourceWatchLastEvent(String source, String gvr, java.time.Instant at) {
    gaugeValue(
            SOURCE_WATCH_LAST_EVENT,
            "Unix time of the last object a watched source delivered",
            "source",
            sourceLabel(source),
            "gvr",
            gvr)
        .set(at.getEpochSecond());
  }

  private static final Duration[] HANDOFF_BUCKETS = {
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofSeconds(2),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(15),
    Duration.ofSeconds(20),
    Duration.ofSeconds(30),
    Duration.ofSeconds(60),
    Duration.ofSeconds(120),
    Duration.ofSeconds(300)
  };

  /**
   * One Kubernetes API request: {@code verb} (get, list, watch, create, update, patch, delete,
   * deletecollection), {@code resource} (plural, with {@code /status} for the subresource), {@code
   * code} (the HTTP status, or {@code error} when no answer came).
   */
  public void kubeRequest(String verb, String resource, String code, long nanos) {
    counter(
            KUBE_REQUESTS,
            "Kubernetes API requests, by verb, resource and answer code",
            "verb",
            verb,
            "resource",
            resource,
            "code",
            code)
        .increment();
    kubeTimers
        .computeIfAbsent(
            verb + " " + resource,
            k ->
                Timer.builder(KUBE_REQUEST_DURATION)
                    .description(
                        "Latency of Kubernetes API requests until the answer's headers (watches: until they open)")
                    .tag("verb", verb)
                    .tag("resource", resource)
                    .serviceLevelObjectives(KUBE_BUCKETS)
                    .register(registry))
        .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  private final Map<String, Timer> kubeTimers = new ConcurrentHashMap<>();
  private static final Duration[] KUBE_BUCKETS = {
    Duration.ofMillis(5),
    Duration.ofMillis(10),
    Duration.ofMillis(25),
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofSeconds(2),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10)
  };

  /**
   * Time from the previous leader's last Lease renew (or its release) to this replica starting the
   * leader work.
   */
  public void failover(Duration d) {
    failoverTimer().record(d);
  }

  private Timer failoverTimer() {
    return Timer.builder(FAILOVER_DURATION)
        .description(
            "Time from the previous leader's last Lease renew or release to this replica starting leader work")
        .serviceLevelObjectives(HANDOFF_BUCKETS)
        .register(registry);
  }

  /**
   * One catch-up of a new leader: from starting the leader work until every watched source has
   * listed and reconciled what it found; {@code created} Observations were missing and created.
   */
  public void catchUp(Duration d, long created) {
    catchUpTimer().record(d);
    catchUpCreated().increment(created);
  }

  private Timer catchUpTimer() {
    return Timer.builder(CATCHUP_DURATION)
        .description(
            "Time from starting leader work until every watched source has listed and reconciled its objects")
        .serviceLevelObjectives(HANDOFF_BUCKETS)
        .register(registry);
  }

  private Counter catchUpCreated() {
    return counter(
        CATCHUP_CREATED,
        "Observations created by the catch-up of a new leader (missing after a failover)",
        null,
        null,
        null,
        null,
        null,
        null);
  }

  // ---- Pre-registration: every series whose labels are known at start exists from the first
  // scrape.

  /**
   * The label values known at start, for {@link #preregister}.
   *
   * @param sources the built-in source names (webhook sources, in every mode)
   * @param filterReasons every {@code reason} of {@link #OBSERVATIONS_FILTERED}
   * @param webhookStatuses every HTTP status a webhook is answered with, with its {@code reason}
   *     label of {@link #WEBHOOK_EVENTS_DROPPED} (200 has none)
   * @param watched the watched sources that run (Kubernetes mode; empty standalone), each with the
   *     {@code gvr} labels of its resources
   */
  public record KnownLabels(
      Set<String> sources,
      List<String> filterReasons,
      Map<Integer, String> webhookStatuses,
      Map<String, List<String>> watched) {
    public KnownLabels {
      sources = Set.copyOf(sources);
      filterReasons = List.copyOf(filterReasons);
      webhookStatuses = Map.copyOf(webhookStatuses);
      watched = Map.copyOf(watched);
    }
  }

  /**
   * Registers every series whose labels are known at start, so that a fresh scrape shows each
   * metric the alert rules and dashboards use before any traffic: counters at 0 (label-free ones,
   * and per built-in source for every bounded label value: severities, categories, filter reasons,
   * HTTP statuses), the histograms with no observation, and for each watched source {@code
   * informer_cache_synced} 0 (not synced yet). Two gauges whose 0 would be a false statement start
   * as NaN until known, which no comparison in the rules matches: {@code source_available} (a 0
   * would fire ZenWatcherSourceUnavailable on a replica that has not looked yet) and {@code
   * source_watch_last_event_timestamp_seconds} (a 0 would read as "last event in 1970"). Custom
   * sources (generic webhooks, Ingesters) are not known at start: their series appear at their
   * first finding, as before.
   */
  public void preregister(KnownLabels known) {
    gcDeleted(0);
    gcErrors(0);
    for (String result : List.of("success", "error")) {
      counter(
          FILTER_RELOADS,
          "Filter configuration loads, by result",
          "result",
          result,
          null,
          null,
          null,
          null);
    }
    catchUpCreated();
    failoverTimer();
    catchUpTimer();
    for (String source : new java.util.TreeSet<>(known.sources())) {
      for (Severity severity : Severity.values()) {
        counter(
            EVENTS,
            "Findings received, by source and severity",
            "source",
            source,
            "severity",
            severity.wire(),
            null,
            null);
        for (Category category : Category.values()) {
          counter(
              OBSERVATIONS_CREATED,
              "Observations created in the store",
              "source",
              source,
              "category",
              category.wire(),
              "severity",
              severity.wire());
        }
      }
      deduped(source, 0);
      createErrors(source, 0);
      counter(
          FILTER_EXPRESSION_ERRORS,
          "Filter expressions that failed to evaluate (the finding was kept)",
          "source",
          source,
          null,
          null,
          null,
          null);
      for (String reason : known.filterReasons()) {
        counter(
            OBSERVATIONS_FILTERED,
            "Findings dropped by the filter, by reason",
            "source",
            source,
            "reason",
            reason,
            null,
            null);
      }
      known
          .webhookStatuses()
          .forEach(
              (code, reason) -> {
                counter(
                    WEBHOOK_REQUESTS,
                    "Webhook requests by source and HTTP status",
                    "source",
                    source,
                    "code",
                    Integer.toString(code),
                    null,
                    null);
                if (reason != null && !reason.isEmpty()) {
                  webhookEventsDropped(source, reason, 0);
                }
              });
      processing(source);
    }
    known
        .watched()
        .forEach(
            (source, gvrs) -> {
              informerCacheSynced(source, false);
              for (String gvr : gvrs) {
                gaugeValue(
                    SOURCE_AVAILABLE,
                    "1 when a watched source's resource is served (its CRD is installed), else 0",
                    "source",
                    sourceLabel(source),
                    "gvr",
                    gvr);
                gaugeValue(
                    SOURCE_WATCH_LAST_EVENT,
                    "Unix time of the last object a watched source delivered",
                    "source",
                    sourceLabel(source),
                    "gvr",
                    gvr);
                counter(
                    SOURCE_WATCH_RESTARTS,
                    "Watches or lists of a watched source that failed and were restarted",
                    "source",
                    sourceLabel(source),
                    "gvr",
                    gvr,
                    null,
                    null);
              }
            });
  }

  private void deduped(String source, int n) {
    counter(
            OBSERVATIONS_DEDUPED,
            "Findings merged into an existing Observation",
            "source",
            sourceLabel(source),
            null,
            null,
            null,
            null)
        .increment(n);
  }

  private GaugeValue gaugeValue(
      String name, String description, String k1, String v1, String k2, String v2) {
    return gaugeValues.computeIfAbsent(
        new Key(name, v1, v2, null),
        k -> {
          GaugeValue v = new GaugeValue();
          Gauge.Builder<GaugeValue> b =
              Gauge.builder(name, v, GaugeValue::get).description(description).tag(k1, v1);
          if (k2 != null) {
            b.tag(k2, v2);
          }
          b.strongReference(true).register(registry);
          return v;
        });
  }

  /** A counter whose value is read from {@code value} (a monotonic count kept elsewhere). */
  public void functionCounter(
      String name, String description, Supplier<Number> value, String... tags) {
    // Micrometer holds a function counter's state object weakly: keep the supplier reachable here,
    // or it is collected and the counter reads 0 (seen in the chaos test).
    suppliers.add(value);
    io.micrometer.core.instrument.FunctionCounter.builder(name, value, v -> v.get().doubleValue())
        .description(description)
        .tags(tags)
        .register(registry);
  }

  public void gauge(String name, String description, Supplier<Number> value) {
    suppliers.add(value);
    Gauge.builder(name, value).description(description).strongReference(true).register(registry);
  }

  /** Suppliers of function counters and gauges, held strongly for the life of the registry. */
  private final List<Supplier<Number>> suppliers =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  private Counter counter(
      String name,
      String description,
      String k1,
      String v1,
      String k2,
      String v2,
      String k3,
      String v3) {
    Key key = new Key(name, v1, v2, v3);
    Counter c = counters.get(key);
    if (c != null) {
      return c;
    }
    return counters.computeIfAbsent(
        key,
        k -> {
          Counter.Builder b = Counter.builder(name).description(description);
          if (k1 != null) {
            b.tag(k1, v1);
          }
          if (k2 != null) {
            b.tag(k2, v2);
          }
          if (k3 != null) {
            b.tag(k3, v3);
          }
          return b.register(registry);
        });
  }
}
