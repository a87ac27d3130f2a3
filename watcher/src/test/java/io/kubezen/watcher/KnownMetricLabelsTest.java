package io.kubezen.watcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.source.catalog.Sources;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The label values registered at start come from where they are defined, and only the watched
 * sources that run.
 */
class KnownMetricLabelsTest {
  @Test
  void standaloneKnowsTheWebhookSourcesAndNoWatchedOnes() {
    Metrics.KnownLabels k =
        KnownMetricLabels.of(Settings.fromEnv(Map.of(), false), Sources.standard().builtInNames());
    assertThat(k.sources())
        .contains("falco", "k8s-audit", "trivy", "kyverno", "kube-bench", "checkov", "k8s-events");
    assertThat(k.watched()).isEmpty();
    assertThat(k.filterReasons())
        .containsExactly(
            "min_severity", "namespace", "kind", "category", "event_type", "rule", "expression");
    assertThat(k.webhookStatuses())
        .containsEntry(200, "")
        .containsEntry(413, "too_large")
        .containsEntry(503, "unavailable")
        .containsEntry(500, "internal_error");
    assertThat(k.webhookStatuses())
        .allSatisfy(
            (code, reason) -> {
              if (code >= 400) {
                assertThat(reason)
                    .as("a specific reason for %s", code)
                    .isNotEqualTo("error")
                    .isNotEmpty();
              }
            });
  }

  @Test
  void kubernetesModeKnowsTheEnabledWatchedSourcesWithEachResource() {
    Metrics.KnownLabels k =
        KnownMetricLabels.of(
            Settings.fromEnv(
                Map.of("OBSERVATION_STORE", "kubernetes", "SOURCES", "trivy,k8s-events"), false),
            Sources.standard().builtInNames());
    assertThat(k.watched()).containsOnlyKeys("trivy", "k8s-events");
    assertThat(k.watched().get("trivy"))
        .containsExactly(
            "aquasecurity.github.io/v1alpha1/vulnerabilityreports",
            "aquasecurity.github.io/v1alpha1/clustervulnerabilityreports");
    assertThat(k.watched().get("k8s-events"))
        .containsExactly("v1/events", "events.k8s.io/v1/events");

    Metrics.KnownLabels all =
        KnownMetricLabels.of(
            Settings.fromEnv(Map.of("OBSERVATION_STORE", "kubernetes"), false),
            Sources.standard().builtInNames());
    assertThat(all.watched())
        .containsOnlyKeys("trivy", "kyverno", "k8s-events", "checkov", "kube-bench");
    assertThat(all.watched().get("kyverno")).hasSize(4);
    assertThat(all.watched().get("checkov")).isEqualTo(List.of("v1/configmaps"));
  }
}
