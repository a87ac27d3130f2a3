package io.kubezen.watcher;

import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.Shed;
import io.kubezen.watcher.store.kubernetes.KubernetesObservationStore;
import java.util.Locale;

/**
 * The store's own figures, exported as gauges and counters read at each scrape: the live count and
 * what MAX_OBSERVATIONS shed, for every store; the Kubernetes store's write limiter and retries.
 */
final class StoreMetrics {
  private StoreMetrics() {}

  static void export(Metrics metrics, ObservationStore store) {
    metrics.gauge(
        Metrics.OBSERVATIONS_LIVE,
        store instanceof KubernetesObservationStore
            ? "Observations in the cluster (as this replica counts them; -1 until counted)"
            : "Observations in the store (-1 until counted)",
        store::liveCount);
    for (Severity severity : Severity.values()) {
      for (Shed action : Shed.values()) {
        metrics.functionCounter(
            Metrics.OBSERVATIONS_SHED,
            "Observations refused or evicted to respect MAX_OBSERVATIONS",
            () -> store.shedCount(severity, action),
            "severity",
            severity.wire(),
            "action",
            action.name().toLowerCase(Locale.ROOT));
      }
    }
    if (store instanceof KubernetesObservationStore kube) {
      exportKube(metrics, kube);
    }
  }

  private static void exportKube(Metrics metrics, KubernetesObservationStore kube) {
    metrics.gauge(
        Metrics.KUBE_WRITE_RATE_LIMIT,
        "Writes per second the adaptive limiter allows now (KUBE_WRITE_QPS caps it)",
        kube::writeRateLimit);
    metrics.functionCounter(
        Metrics.KUBE_CONFLICT_RETRIES,
        "Status updates retried after 409 Conflict",
        kube::conflictRetries);
    metrics.functionCounter(
        Metrics.KUBE_THROTTLED_RETRIES,
        "Writes retried after 429 Too Many Requests",
        kube::throttledRetries);
  }
}
