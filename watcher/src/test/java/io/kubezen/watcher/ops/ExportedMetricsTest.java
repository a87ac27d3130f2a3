package io.kubezen.watcher.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.testing.KubeApiServer;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every metric name the alert rules and the dashboards use is exported by the running program: a
 * zen-watcher in Kubernetes mode against the real API server, fed webhooks (created, repeated,
 * filtered, refused, a failing filter expression), a watched Trivy report and one GC sweep, then
 * scraped. The only names allowed to be absent from the scrape are those whose first sample comes
 * with a failover or a catch-up (HA); each of those must be declared by the program's Metrics
 * constants. Two failure counters (create errors, watch restarts) are registered through the
 * program's own Metrics methods, since a healthy test run cannot cause those failures.
 */
class ExportedMetricsTest {
  static final ResourceDefinitionContext VULN =
      new ResourceDefinitionContext.Builder()
          .withGroup("aquasecurity.github.io")
          .withVersion("v1alpha1")
          .withPlural("vulnerabilityreports")
          .withKind("VulnerabilityReport")
          .withNamespaced(true)
          .build();

  /**
   * First sample at a leader failover or catch-up (HA): checked against the constants of Metrics.
   */
  static final Set<String> ONLY_AFTER_FAILOVER =
      Set.of(
          "zenwatcher_failover_duration_seconds",
          "zenwatcher_catchup_duration_seconds",
          "zenwatcher_catchup_created_total");

  @TempDir Path dir;

  static Set<String> referencedNames() {
    Set<String> names = new TreeSet<>();
    OpsArtifacts.ruleExpressions().forEach(e -> names.addAll(OpsArtifacts.metricNames(e)));
    OpsArtifacts.dashboardExpressions().forEach(e -> names.addAll(OpsArtifacts.metricNames(e)));
    return names;
  }

  @Test
  void theNameParserReducesHistogramsAndKeepsCounters() {
    assertThat(
            OpsArtifacts.metricNames(
                "histogram_quantile(0.95, sum by (le) (rate(zen_watcher_store_write_duration_seconds_bucket{job=~\"$job\"}[5m])))"
                    + " / zenwatcher_failover_duration_seconds_count + rate(zen_watcher_events_total[1m])"))
        .containsExactly(
            "zen_watcher_events_total",
            "zen_watcher_store_write_duration_seconds",
            "zenwatcher_failover_duration_seconds");
    assertThat(
            OpsArtifacts.exposedNames(
                "# HELP x\n# TYPE x counter\nzen_watcher_events_total{source=\"a\"} 1.0\n"
                    + "zen_watcher_store_write_duration_seconds_bucket{le=\"0.1\"} 2\nzen_watcher_write_queue_depth 0\n"))
        .containsExactly(
            "zen_watcher_events_total",
            "zen_watcher_store_write_duration_seconds",
            "zen_watcher_write_queue_depth");
  }

  @Test
  void theRulesAndDashboardsUseTheMetricsTheyAreAbout() {
    assertThat(referencedNames())
        .contains(
            "zenwatcher_is_leader",
            "zenwatcher_leader_election_transitions_total",
            "zenwatcher_failover_duration_seconds",
            "zenwatcher_source_watch_last_event_timestamp_seconds",
            "zen_watcher_informer_cache_synced",
            "zen_watcher_observations_created_total",
            "zen_watcher_webhook_events_dropped_total",
            "zen_watcher_store_write_duration_seconds",
            "zen_watcher_write_queue_depth",
            "zen_watcher_gc_errors_total",
            "zen_watcher_observations_create_errors_total");
  }

  @Test
  void everyReferencedMetricIsExportedByARunningWatcher() throws Exception {
    Set<String> referenced = referencedNames();
    KubeApiServer.applyZenCrds();
    String ns = KubeApiServer.uniqueNamespace("ops-metrics");
    Path filter = dir.resolve("filter.yaml");
    Files.writeString(
        filter,
        """
        sources:
          falco:
            minSeverity: high
          checkov:
            expression: "details.noSuchField == 'x'"
        """);
    Map<String, String> env =
        Map.of(
            "OBSERVATION_STORE",
            "kubernetes",
            "POD_NAMESPACE",
            ns,
            "WATCH_NAMESPACE",
            ns,
            "INGESTER_NAMESPACE",
            ns,
            "SOURCES",
            "trivy",
            "FILTER_CONFIG",
            filter.toString(),
            "WEBHOOK_MAX_BODY_BYTES_FALCO",
            "1024");
    try (Watcher w = new Watcher(dir, env, KubeApiServer.kubeconfig())) {
      for (int i = 0; i < 3; i++) {
        for (int n = 0; n < 2; n++) {
          assertThat(
                  w.post("/ingest/falco", Watcher.falcoAlert(ns, "pod-" + i, "Critical")).status())
              .isEqualTo(200);
        }
      }
      assertThat(w.post("/ingest/falco", Watcher.falcoAlert(ns, "quiet", "Notice")).status())
          .isEqualTo(200);
      assertThat(w.post("/ingest/falco", "{not json").status()).isBetween(400, 499);
      assertThat(w.post("/ingest/falco", "{\"pad\":\"" + "x".repeat(4096) + "\"}").status())
          .isEqualTo(413);
      assertThat(
              w.post(
                      "/ingest/checkov",
                      resource("/http/checkov.json").replace("\"shop\"", "\"" + ns + "\""))
                  .status())
          .isEqualTo(200);
      GenericKubernetesResource report =
          Serialization.unmarshal(
              resource("/http/trivy-report.yaml").replace("namespace: shop", "namespace: " + ns),
              GenericKubernetesResource.class);
      KubeApiServer.client()
          .genericKubernetesResources(VULN)
          .inNamespace(ns)
          .resource(report)
          .create();
      w.zw.collectGarbage();
      // Registered on the first failure, which a healthy test cannot cause: registered through the
      // program's own Metrics methods (a count of zero where the method takes one).
      w.zw.metrics().createErrors("falco", 0);
      // A watch that fails and restarts (registered on the first restart).
      w.zw
          .metrics()
          .sourceWatchRestart("trivy", "aquasecurity.github.io/v1alpha1/vulnerabilityreports");

      AtomicReference<Set<String>> exposed = new AtomicReference<>(Set.of());
      try {
        await()
            .atMost(Duration.ofSeconds(40))
            .pollInterval(Duration.ofMillis(500))
            .until(
                () -> {
                  exposed.set(OpsArtifacts.exposedNames(w.scrape()));
                  return exposed.get().containsAll(withoutLazy(referenced))
                      && exposed
                          .get()
                          .contains("zenwatcher_source_watch_last_event_timestamp_seconds");
                });
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        // reported below with the missing names
      }
      Set<String> missing = new TreeSet<>(referenced);
      missing.removeAll(exposed.get());
      Set<String> notLazy = new TreeSet<>(missing);
      notLazy.removeAll(ONLY_AFTER_FAILOVER);
      assertThat(notLazy)
          .as(
              "metrics used by the rules or dashboards but not in /metrics of a running zen-watcher")
          .isEmpty();
      Set<String> declared = declaredPrometheusNames();
      assertThat(declared)
          .as("names registered by io.kubezen.watcher.metrics.Metrics")
          .containsAll(missing);
    }
  }

  private static Set<String> withoutLazy(Set<String> names) {
    Set<String> s = new TreeSet<>(names);
    s.removeAll(ONLY_AFTER_FAILOVER);
    return s;
  }

  /**
   * The Prometheus names of Metrics' constants: as written, and with _total (counters) or _seconds
   * (timers).
   */
  static Set<String> declaredPrometheusNames() throws IllegalAccessException {
    Set<String> names = new TreeSet<>();
    for (Field f : Metrics.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
        String v = (String) f.get(null);
        names.add(v);
        names.add(v + "_total");
        names.add(v + "_seconds");
      }
    }
    return names;
  }

  static String resource(String name) throws IOException {
    try (InputStream in = ExportedMetricsTest.class.getResourceAsStream(name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
