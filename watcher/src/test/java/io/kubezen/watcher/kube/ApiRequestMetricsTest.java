package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every request of a client counted by verb, resource and code, against the real API server. */
class ApiRequestMetricsTest {
  static final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();
  static final Map<String, AtomicLong> latencies = new ConcurrentHashMap<>();

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
  }

  static long count(String verb, String resource, String code) {
    AtomicLong n = counts.get(verb + " " + resource + " " + code);
    return n == null ? 0 : n.get();
  }

  @Test
  void countsEachVerbWithItsResourceAndCode() {
    ApiRequestMetrics metrics =
        new ApiRequestMetrics(
            (verb, resource, code, nanos) -> {
              counts
                  .computeIfAbsent(verb + " " + resource + " " + code, k -> new AtomicLong())
                  .incrementAndGet();
              latencies.computeIfAbsent(verb, k -> new AtomicLong()).addAndGet(nanos);
            });
    String ns = KubeApiServer.uniqueNamespace("metrics");
    try (KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(KubeApiServer.config())
            .withHttpClientBuilderConsumer(
                b -> b.addOrReplaceInterceptor(ApiRequestMetrics.NAME, metrics))
            .build()) {
      var api = client.resources(Observation.class);
      Observation o = new Observation();
      o.setMetadata(
          new ObjectMetaBuilder().withNamespace(ns).withName("falco-0123456789abcdef").build());
      o.setSpec(
          new ObservationSpec(
              "falco",
              Category.SECURITY,
              Severity.LOW,
              "runtime_threat",
              null,
              "t",
              null,
              "2024-05-01T10:00:00Z",
              "a".repeat(64),
              60L,
              null));
      api.inNamespace(ns).resource(o).create();
      try {
        api.inNamespace(ns).resource(o).create();
      } catch (KubernetesClientException expected) {
        assertThat(expected.getCode()).isEqualTo(409);
      }
      api.inNamespace(ns).withName("falco-0123456789abcdef").get();
      api.inNamespace(ns).withName("falco-nope").get();
      api.inNamespace(ns).list();
      long getsBeforePatch = count("get", "observations", "200");
      // with the object given (not withName): fabric8 reads the object first otherwise
      api.inNamespace(ns)
          .resource(o)
          .subresource("status")
          .patch(
              io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                  io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
              "{\"status\":{\"count\":2}}");
      assertThat(count("get", "observations", "200"))
          .as("a status patch is one request")
          .isEqualTo(getsBeforePatch);
      try (SharedIndexInformer<Observation> informer = api.inNamespace(ns).inform()) {
        await().atMost(Duration.ofSeconds(10)).until(informer::hasSynced);
      }
      long getsBeforeDelete = count("get", "observations", "200");
      api.inNamespace(ns).withName("falco-0123456789abcdef").delete();
      assertThat(count("get", "observations", "200"))
          .as("a delete is one request")
          .isEqualTo(getsBeforeDelete);

      assertThat(count("create", "observations", "201")).as(counts.toString()).isEqualTo(1);
      assertThat(count("create", "observations", "409")).isEqualTo(1);
      assertThat(count("get", "observations", "200")).as(counts.toString()).isEqualTo(1);
      assertThat(count("get", "observations", "404")).isEqualTo(1);
      assertThat(count("list", "observations", "200"))
          .isGreaterThanOrEqualTo(2); // ours and the informer's
      assertThat(count("patch", "observations/status", "200")).isEqualTo(1);
      assertThat(count("delete", "observations", "200")).isEqualTo(1);
      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () -> assertThat(counts.keySet()).anyMatch(k -> k.startsWith("watch observations ")));
      assertThat(latencies.get("create").get()).isPositive();
    }
  }

  @Test
  void verbsAndResourcesFromPaths() {
    assertThat(
            ApiRequestMetrics.verb(
                "GET", "/apis/zen.kube-zen.io/v1alpha1/namespaces/a/observations", null))
        .isEqualTo("list");
    assertThat(
            ApiRequestMetrics.verb(
                "GET",
                "/apis/zen.kube-zen.io/v1alpha1/observations",
                "watch=true&resourceVersion=5"))
        .isEqualTo("watch");
    assertThat(
            ApiRequestMetrics.verb(
                "GET", "/apis/zen.kube-zen.io/v1alpha1/namespaces/a/observations/x", null))
        .isEqualTo("get");
    assertThat(
            ApiRequestMetrics.verb(
                "DELETE", "/apis/zen.kube-zen.io/v1alpha1/namespaces/a/observations", null))
        .isEqualTo("deletecollection");
    assertThat(
            ApiRequestMetrics.resource(
                "/apis/zen.kube-zen.io/v1alpha1/namespaces/a/observations/x/status"))
        .isEqualTo("observations/status");
    assertThat(ApiRequestMetrics.resource("/apis/coordination.k8s.io/v1/namespaces/a/leases/zen"))
        .isEqualTo("leases");
    assertThat(ApiRequestMetrics.resource("/api/v1/namespaces/a")).isEqualTo("namespaces");
    assertThat(ApiRequestMetrics.resource("/api/v1/namespaces")).isEqualTo("namespaces");
    assertThat(ApiRequestMetrics.resource("/api/v1/namespaces/a/configmaps"))
        .isEqualTo("configmaps");
    assertThat(ApiRequestMetrics.resource("/version")).isEqualTo("other");
  }
}
