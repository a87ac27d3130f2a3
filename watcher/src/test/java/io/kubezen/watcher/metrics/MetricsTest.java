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
        .contains("zen_watcher_observations_created_total{category=\"security\",severity=\"high\",source=\"falco\"} 1.0")
        .contains("zen_watcher_observations_filtered_total{reason=\"min_severity\",source=\"falco\"} 1.0")
        .contains("zen_watcher_observations_deduped_total{source=\"falco\"} 1.0")
        .contains("zen_watcher_observations_create_errors_total{source=\"falco\"} 1.0")
        .contains("zen_watcher_webhook_requests_total{code=\"200\",source=\"falco\"} 1.0")
        .contains("zen_watcher_webhook_events_dropped_total{reason=\"too_large\",source=\"falco\"} 1.0")
        .contains("zen_watcher_events_total{severity=\"high\",source=\"falco\"} 1.0")
        .contains("zen_watcher_gc_deleted_total 2.0")
        .contains("zen_watcher_gc_errors_total 0.0")
        .contains("zen_watcher_processing_duration_seconds_count{source=\"falco\"} 1");
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
