package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/** Observations the way the pipeline builds them, and clients that count what they send. */
final class KubeFixtures {
  static final String DETECTED = "2024-05-01T10:00:00Z";
  static final long TTL_LONG = 30L * 24 * 3600;

  private KubeFixtures() {}

  static Observation obs(
      String namespace, String name, Severity severity, String eventType, long ttl) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("rule", "Terminal shell in container");
    details.put("priority", "Warning");
    details.put("tags", List.of("container", "shell", "mitre_execution"));
    ObservationSpec spec =
        new ObservationSpec(
            "falco",
            Category.SECURITY,
            severity,
            eventType,
            ResourceRef.of("v1", "Pod", namespace, "web-7d4b9c"),
            "A shell was spawned in container web",
            details,
            DETECTED,
            io.kubezen.watcher.model.Fingerprint.of(
                "falco", java.util.List.of(namespace, name), -1),
            ttl,
            null);
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(namespace)
            .addToLabels(Observation.LABEL_SOURCE, "falco")
            .addToLabels(Observation.LABEL_CATEGORY, Category.SECURITY.wire())
            .addToLabels(Observation.LABEL_SEVERITY, severity.wire())
            .build());
    o.setSpec(spec);
    o.setStatus(ObservationStatus.seen(1, DETECTED, DETECTED));
    return o;
  }

  static Observation obs(String namespace, String name) {
    return obs(namespace, name, Severity.MEDIUM, "runtime_threat", TTL_LONG);
  }

  static Observation withStatus(Observation o, long count, String first, String last) {
    o.setStatus(ObservationStatus.seen(count, first, last));
    return o;
  }

  static KubernetesObservationStore store(KubernetesClient client, KubernetesStoreOptions options) {
    return new KubernetesObservationStore(client, Clock.systemUTC(), options);
  }

  static KubernetesStoreOptions fast() {
    return KubernetesStoreOptions.defaults().withWriteRate(10_000, 10_000).withMaxInFlight(16);
  }

  /**
   * Counts requests by method ("POST", "PUT", "PATCH", "DELETE", "GET") and runs a hook before
   * each.
   */
  static final class Counting implements Interceptor {
    final Map<String, AtomicLong> byMethod = new ConcurrentHashMap<>();
    volatile BiConsumer<BasicBuilder, HttpRequest> hook = (b, r) -> {};

    @Override
    public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
      byMethod.computeIfAbsent(request.method(), k -> new AtomicLong()).incrementAndGet();
      hook.accept(builder, request);
    }

    long count(String method) {
      AtomicLong n = byMethod.get(method);
      return n == null ? 0 : n.get();
    }

    long writes() {
      return count("POST") + count("PUT") + count("PATCH") + count("DELETE");
    }
  }

  /**
   * Requests by "verb resource" ({@code "create observations"}, {@code "patch
   * observations/status"}), as the program counts them ({@link
   * io.kubezen.watcher.kube.ApiRequestMetrics}, the {@code zen_watcher_kube_requests_total}
   * series).
   */
  static final class Requests implements io.kubezen.watcher.kube.ApiRequestMetrics.Sink {
    final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

    @Override
    public void request(String verb, String resource, String code, long nanos) {
      counts.computeIfAbsent(verb + " " + resource, k -> new AtomicLong()).incrementAndGet();
    }

    long count(String verb, String resource) {
      AtomicLong n = counts.get(verb + " " + resource);
      return n == null ? 0 : n.get();
    }

    /** Creates, status patches and deletes of Observations: the writes. */
    long writes() {
      return count("create", "observations")
          + count("patch", "observations/status")
          + count("delete", "observations");
    }
  }

  /**
   * A client whose every request is counted into {@code requests} by the program's own interceptor.
   */
  static KubernetesClient measuredClient(Requests requests) {
    return new KubernetesClientBuilder()
        .withConfig(KubeApiServer.config())
        .withHttpClientBuilderConsumer(
            b ->
                b.addOrReplaceInterceptor(
                    io.kubezen.watcher.kube.ApiRequestMetrics.NAME,
                    new io.kubezen.watcher.kube.ApiRequestMetrics(requests)))
        .build();
  }

  static KubernetesClient countingClient(Counting counting) {
    Config config = KubeApiServer.config();
    return new KubernetesClientBuilder()
        .withConfig(config)
        .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("counting", counting))
        .build();
  }
}
