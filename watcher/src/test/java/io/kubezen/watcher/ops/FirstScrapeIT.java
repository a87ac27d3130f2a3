package io.kubezen.watcher.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.e2e.JarRunner;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.testing.KubeApiServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fresh replica, scraped once as soon as it is ready and before any webhook, exports every metric
 * the alert rules and the dashboards use, its counters at 0: the built jar as a process, standalone
 * (SQLite) and in Kubernetes mode against the real API server with leader election.
 */
class FirstScrapeIT {
  /**
   * What a standalone replica does not have, so does not export: the Kubernetes store (live count,
   * shedding at MAX_OBSERVATIONS, API writes and their retries) and the watched sources
   * (informers). Exporting them with made-up values would be wrong (a live count of 0, a source
   * "not served").
   */
  static final Set<String> KUBERNETES_ONLY =
      Set.of(
          "zen_watcher_observations_live",
          "zen_watcher_observations_shed_total",
          "zen_watcher_kube_requests_total",
          "zen_watcher_kube_conflict_retries_total",
          "zen_watcher_kube_throttled_retries_total",
          "zen_watcher_source_available",
          "zen_watcher_informer_cache_synced",
          "zenwatcher_source_watch_restarts_total",
          "zenwatcher_source_watch_last_event_timestamp_seconds");

  /**
   * Counters that a fresh replica moves by itself: taking the lead is a transition; starting makes
   * API requests.
   */
  static final Set<String> MOVE_AT_START =
      Set.of(
          "zenwatcher_leader_election_transitions_total",
          // every API request is counted, and a replica makes some before any traffic (Lease,
          // caches)
          "zen_watcher_kube_requests_total");

  final JarRunner jar = new JarRunner();
  @TempDir Path dir;

  @Test
  void standaloneExportsEveryMetricOfItsModeAtZeroBeforeAnyTraffic() throws Exception {
    String text = firstScrape(Map.of("OBSERVATION_STORE", "sqlite"));
    Set<String> missing = missing(text);
    assertThat(missing)
        .as(
            "metrics used by the rules or dashboards missing from a fresh standalone replica's first"
                + " scrape (only the Kubernetes-only ones may be)")
        .isSubsetOf(KUBERNETES_ONLY);
    assertCountersAtZero(text);
    assertThat(text)
        .contains("zen_watcher_events_total{severity=\"critical\",source=\"falco\"} 0.0")
        .contains(
            "zen_watcher_observations_filtered_total{reason=\"min_severity\",source=\"k8s-audit\"} 0.0")
        .contains(
            "zen_watcher_webhook_events_dropped_total{reason=\"unavailable\",source=\"trivy\"} 0.0")
        .contains("zen_watcher_gc_errors_total 0.0")
        .contains("zenwatcher_failover_duration_seconds_count 0");
  }

  @Test
  void kubernetesModeWithLeaderElectionExportsEveryMetricAtZeroBeforeAnyTraffic() throws Exception {
    KubeApiServer.applyZenCrds();
    String ns = KubeApiServer.uniqueNamespace("first-scrape");
    // The test API server serves custom resources only (no core API): the sources that watch
    // ConfigMaps and Events would fail there and count watch restarts, so the report sources run.
    String text =
        firstScrape(
            Map.of(
                "OBSERVATION_STORE",
                "kubernetes",
                "KUBECONFIG",
                KubeApiServer.kubeconfig().toString(),
                "LEADER_ELECTION_MODE",
                "builtin",
                "POD_NAMESPACE",
                ns,
                "WATCH_NAMESPACE",
                ns,
                "INGESTER_NAMESPACE",
                ns,
                "SOURCES",
                "trivy,kyverno"));
    assertThat(missing(text))
        .as("metrics used by the rules or dashboards missing from a fresh replica's first scrape")
        .isEmpty();
    assertCountersAtZero(text);
    assertThat(text)
        .contains(
            "zen_watcher_observations_created_total{category=\"security\",severity=\"high\",source=\"falco\"} 0.0")
        .contains("zen_watcher_observations_create_errors_total{source=\"trivy\"} 0.0")
        .contains("zen_watcher_filter_expression_errors_total{source=\"kyverno\"} 0.0")
        .contains(
            "zenwatcher_source_watch_restarts_total{gvr=\"openreports.io/v1alpha1/reports\",source=\"kyverno\"} 0.0")
        .contains("zen_watcher_informer_cache_synced{source=\"trivy\"}")
        .containsPattern(
            "zenwatcher_source_watch_last_event_timestamp_seconds\\{gvr=\"aquasecurity.github.io/v1alpha1/"
                + "vulnerabilityreports\",source=\"trivy\"} \\S+")
        .contains("zenwatcher_catchup_duration_seconds_count")
        .contains("zenwatcher_catchup_created_total");
  }

  /** Starts the jar, scrapes /metrics once it is ready, stops it; the scrape's text. */
  private String firstScrape(Map<String, String> env) throws Exception {
    Running r = jar.start(dir, env);
    try {
      jar.awaitReady(r);
      HttpResponse<String> metrics =
          jar.call("GET", "http://127.0.0.1:" + r.port() + "/metrics", null);
      assertThat(metrics.statusCode()).isEqualTo(200);
      return metrics.body();
    } finally {
      r.process().destroy();
      if (!r.process().waitFor(30, TimeUnit.SECONDS)) {
        r.process().destroyForcibly();
      }
      System.out.println("--- zen-watcher log\n" + Files.readString(r.log()));
    }
  }

  private static Set<String> missing(String text) {
    Set<String> missing = new TreeSet<>(ExportedMetricsTest.referencedNames());
    missing.removeAll(OpsArtifacts.exposedNames(text));
    return missing;
  }

  /**
   * Every sample of a counter the rules or dashboards use reads 0 (none has counted anything yet).
   */
  private static void assertCountersAtZero(String text) {
    Set<String> referenced = ExportedMetricsTest.referencedNames();
    List<String> notZero = new ArrayList<>();
    int counted = 0;
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int end = line.indexOf('{') >= 0 ? line.indexOf('{') : line.indexOf(' ');
      String name = line.substring(0, end);
      if (name.endsWith("_total") && referenced.contains(name) && !MOVE_AT_START.contains(name)) {
        counted++;
        if (Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)) != 0) {
          notZero.add(line);
        }
      }
    }
    assertThat(counted).as("counter samples checked").isGreaterThan(100);
    assertThat(notZero).as("counters that are not 0 before any traffic").isEmpty();
  }
}
