package io.kubezen.watcher.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MetricsTest {

  @Test
  void documentedNamesAreExportedExactly() {
    Metrics m = Metrics.prometheus(Set.of("falco"));
    m.observationCreated("falco", Category.SECURITY, Severity.HIGH);
    m.filtered("falco", "min_severity");
    m.deduped("falco");
    m.createErrors("falco", 1);
    m.webhookRequest("falco", 200);
    m.webhookEventsDropped("falco", "too_large", 1);
    m.event("falco", Severity.HIGH);
    m.gcDeleted(2);
    m.gcErrors(0);
    m.processing("falco").record(java.time.Duration.ofMillis(3));
    String text = m.scrape();
    assertThat(text)
        .contains(
            "zen_watcher_observations_created_total{category=\"security\",severity=\"high\",source=\"falco\"} 1.0")
        .contains(
            "zen_watcher_observations_filtered_total{reason=\"min_severity\",source=\"falco\"} 1.0")
        .contains("zen_watcher_observations_deduped_total{source=\"falco\"} 1.0")
        .contains("zen_watcher_observations_create_errors_total{source=\"falco\"} 1.0")
        .contains("zen_watcher_webhook_requests_total{code=\"200\",source=\"falco\"} 1.0")
        .contains(
            "zen_watcher_webhook_events_dropped_total{reason=\"too_large\",source=\"falco\"} 1.0")
        .contains("zen_watcher_events_total{severity=\"high\",source=\"falco\"} 1.0")
        .contains("zen_watcher_gc_deleted_total 2.0")
        .contains("zen_watcher_gc_errors_total 0.0")
        .contains("zen_watcher_processing_duration_seconds_count{source=\"falco\"} 1");
  }

  static Metrics.KnownLabels known() {
    return new Metrics.KnownLabels(
        Set.of("falco", "trivy"),
        java.util.List.of("min_severity", "expression"),
        java.util.Map.of(200, "", 413, "too_large", 503, "unavailable"),
        java.util.Map.of(
            "trivy", java.util.List.of("aquasecurity.github.io/v1alpha1/vulnerabilityreports")));
  }

  @Test
  void preregisteredSeriesAreExportedAtZeroBeforeAnyEvent() {
    Metrics m = Metrics.prometheus(Set.of("falco", "trivy"));
    m.preregister(known());
    String text = m.scrape();
    assertThat(text)
        .contains("zen_watcher_gc_deleted_total 0.0")
        .contains("zen_watcher_gc_errors_total 0.0")
        .contains("zen_watcher_filter_reloads_total{result=\"success\"} 0.0")
        .contains("zen_watcher_filter_reloads_total{result=\"error\"} 0.0")
        .contains("zenwatcher_catchup_created_total 0.0")
        .contains("zenwatcher_catchup_duration_seconds_count 0")
        .contains("zenwatcher_failover_duration_seconds_bucket{le=\"30.0\"} 0")
        .contains("zen_watcher_events_total{severity=\"info\",source=\"trivy\"} 0.0")
        .contains(
            "zen_watcher_observations_created_total{category=\"cost\",severity=\"low\",source=\"falco\"} 0.0")
        .contains("zen_watcher_observations_deduped_total{source=\"trivy\"} 0.0")
        .contains("zen_watcher_observations_create_errors_total{source=\"falco\"} 0.0")
        .contains("zen_watcher_filter_expression_errors_total{source=\"falco\"} 0.0")
        .contains(
            "zen_watcher_observations_filtered_total{reason=\"expression\",source=\"falco\"} 0.0")
        .contains("zen_watcher_webhook_requests_total{code=\"413\",source=\"falco\"} 0.0")
        .contains(
            "zen_watcher_webhook_events_dropped_total{reason=\"unavailable\",source=\"trivy\"} 0.0")
        .contains("zen_watcher_processing_duration_seconds_count{source=\"trivy\"} 0")
        .contains("zen_watcher_informer_cache_synced{source=\"trivy\"} 0.0")
        .contains(
            "zenwatcher_source_watch_restarts_total{gvr=\"aquasecurity.github.io/v1alpha1/vulnerabilityreports\","
                + "source=\"trivy\"} 0.0")
        // unknown until the source manager looks: NaN, which no rule comparison matches
        .contains(
            "zen_watcher_source_available{gvr=\"aquasecurity.github.io/v1alpha1/vulnerabilityreports\","
                + "source=\"trivy\"} NaN")
        .contains(
            "zenwatcher_source_watch_last_event_timestamp_seconds{gvr=\"aquasecurity.github.io/v1alpha1/"
                + "vulnerabilityreports\",source=\"trivy\"} NaN");
    assertThat(text).as("no 200 has a drop reason").doesNotContain("reason=\"\"");
    assertThat(text)
        .as("a source not watched has no watch series")
        .doesNotContain("zen_watcher_informer_cache_synced{source=\"falco\"}");

    // the events then count on the same series
    m.event("trivy", Severity.INFO);
    m.filterReload(true);
    m.sourceAvailable("trivy", "aquasecurity.github.io/v1alpha1/vulnerabilityreports", true);
    m.sourceWatchLastEvent(
        "trivy",
        "aquasecurity.github.io/v1alpha1/vulnerabilityreports",
        java.time.Instant.ofEpochSecond(1_700_000_000L));
    m.catchUp(java.time.Duration.ofSeconds(2), 3);
    text = m.scrape();
    assertThat(text)
        .contains("zen_watcher_events_total{severity=\"info\",source=\"trivy\"} 1.0")
        .contains("zen_watcher_filter_reloads_total{result=\"success\"} 1.0")
        .contains(
            "zen_watcher_source_available{gvr=\"aquasecurity.github.io/v1alpha1/vulnerabilityreports\","
                + "source=\"trivy\"} 1.0")
        .contains(
            "zenwatcher_source_watch_last_event_timestamp_seconds{gvr=\"aquasecurity.github.io/v1alpha1/"
                + "vulnerabilityreports\",source=\"trivy\"} 1.7E9")
        .contains("zenwatcher_catchup_created_total 3.0")
        .contains("zenwatcher_catchup_duration_seconds_count 1");
  }

  @Test
  void sourceLabelsAreBounded() {
    Metrics m = Metrics.prometheus(Set.of("falco"));
    for (int i = 0; i < 100; i++) {
      m.event("custom-" + i, Severity.LOW);
    }
    assertThat(m.sourceLabel("falco")).isEqualTo("falco");
    assertThat(m.sourceLabel("custom-0")).isEqualTo("custom-0");
    assertThat(m.sourceLabel("custom-99")).isEqualTo(Metrics.OTHER);
    long series = m.scrape().lines().filter(l -> l.startsWith("zen_watcher_events_total{")).count();
    assertThat(series).isEqualTo(Metrics.MAX_CUSTOM_SOURCE_LABELS + 1);
  }

  @Test
  void functionCountersAndGaugesStillReadAfterGarbageCollection() {
    Metrics m = Metrics.prometheus(Set.of());
    java.util.concurrent.atomic.AtomicLong n = new java.util.concurrent.atomic.AtomicLong(5);
    m.functionCounter("zen_watcher_test_things", "things done", n::get, "verb", "create");
    m.gauge("zen_watcher_test_level", "a level", n::get);
    for (int i = 0; i < 5; i++) {
      System.gc();
    }
    n.set(7);
    assertThat(m.scrape())
        .contains("zen_watcher_test_things_total{verb=\"create\"} 7.0")
        .contains("zen_watcher_test_level 7.0");
  }
}
