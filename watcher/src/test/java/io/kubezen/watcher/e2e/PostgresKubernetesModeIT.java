package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.testing.KubeApiServer;
import io.kubezen.watcher.testing.PostgresServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The postgres store in Kubernetes mode, against the real API server: leader election (a Lease in
 * the cluster), the Trivy informer source and webhooks all end as rows in PostgreSQL, and nothing
 * is written to etcd as an Observation.
 */
class PostgresKubernetesModeIT {
  @TempDir Path dir;

  @Test
  void informerAndWebhookFindingsGoToPostgresAndNoneToEtcd() throws Exception {
    KubeApiServer.applyZenCrds();
    KubernetesClient k = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("pg-kube");
    PostgresJars jars = new PostgresJars(dir, PostgresServer.get().createDatabase("kubemode"));
    Running r =
        jars.start(
            "kube-east",
            Map.of(
                "KUBERNETES_MODE",
                "true",
                "KUBECONFIG",
                KubeApiServer.kubeconfig().toString(),
                "POD_NAMESPACE",
                ns,
                "WATCH_NAMESPACE",
                ns,
                "SOURCES",
                "trivy",
                "INGESTER_NAMESPACE",
                ns));
    try {
      jars.jar.awaitReady(r);
      String base = "http://127.0.0.1:" + r.port();
      HttpResponse<String> posted = jars.post(r, PostgresJars.alerts("pod", 0, 3));
      assertThat(posted.statusCode()).as(posted.body()).isEqualTo(200);

      GenericKubernetesResource report =
          io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
              JarRunner.sample("trivy-report.yaml").replace("namespace: shop", "namespace: " + ns),
              GenericKubernetesResource.class);
      k.genericKubernetesResources(KubernetesJarIT.VULN).inNamespace(ns).resource(report).create();

      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                JsonNode trivy =
                    Json.MAPPER.readTree(
                        jars.jar
                            .call(
                                "GET",
                                base
                                    + "/api/v1/observations?source=trivy&cluster=kube-east&limit=10",
                                null)
                            .body());
                assertThat(trivy.get("items")).hasSize(2);
                assertThat(trivy.get("items"))
                    .allSatisfy(
                        o -> {
                          assertThat(o.at("/spec/clusterName").asText()).isEqualTo("kube-east");
                          assertThat(o.at("/metadata/labels").toString())
                              .contains(Observation.LABEL_ORIGIN_UID);
                        });
              });
      assertThat(jars.rowsByPod("kube-east")).containsKeys("pod-0", "pod-1", "pod-2");
      JsonNode ready = Json.MAPPER.readTree(jars.jar.call("GET", base + "/ready", null).body());
      assertThat(ready.get("store").asText()).isEqualTo("postgres");
      assertThat(ready.get("role").asText()).isEqualTo("leader");
      assertThat(ready.at("/sources").toString()).contains("synced");
      // Leader election lives in the cluster; the Observations do not.
      assertThat(k.leases().inNamespace(ns).list().getItems()).isNotEmpty();
      assertThat(k.resources(Observation.class).inNamespace(ns).list().getItems()).isEmpty();
      assertThat(k.resources(Observation.class).inNamespace("shop").list().getItems())
          .noneMatch(o -> "kube-east".equals(o.getSpec().clusterName()));
    } catch (AssertionError | Exception e) {
      throw new AssertionError(
          e.getMessage() + "\n--- jar log\n" + PostgresChaosIT.tail(r.log()), e);
    } finally {
      JarRunner.terminate(r, Duration.ofSeconds(15));
    }
  }
}
