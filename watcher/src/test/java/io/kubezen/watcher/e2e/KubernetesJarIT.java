package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.testing.KubeApiServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built jar as a process in Kubernetes mode against the real API server: webhooks and an
 * informer source end as Observation resources, exact counts, and a restart duplicates nothing.
 */
class KubernetesJarIT {
  final JarRunner jar = new JarRunner();
  @TempDir Path dir;

  Running start(Map<String, String> env) throws Exception {
    return jar.start(dir, env);
  }

  void awaitReady(Running r) throws Exception {
    jar.awaitReady(r);
  }

  HttpResponse<String> call(String method, String url, String body) throws Exception {
    return jar.call(method, url, body);
  }

  static String sample(String name) throws Exception {
    return JarRunner.sample(name);
  }

  static final ResourceDefinitionContext VULN =
      new ResourceDefinitionContext.Builder()
          .withGroup("aquasecurity.github.io")
          .withVersion("v1alpha1")
          .withPlural("vulnerabilityreports")
          .withKind("VulnerabilityReport")
          .withNamespaced(true)
          .build();

  @Test
  void webhooksAndInformersBecomeObservationResourcesExactlyOnce() throws Exception {
    KubeApiServer.applyZenCrds();
    KubernetesClient k = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("e2e");
    Map<String, String> env =
        Map.of(
            "OBSERVATION_STORE",
            "kubernetes",
            "KUBECONFIG",
            KubeApiServer.kubeconfig().toString(),
            "POD_NAMESPACE",
            ns,
            "WATCH_NAMESPACE",
            ns,
            "SOURCES",
            "trivy",
            "CLUSTER_NAME",
            "e2e-cluster",
            "INGESTER_NAMESPACE",
            ns);
    Running r = start(env);
    awaitReady(r);
    String base = "http://127.0.0.1:" + r.port();

    // 20 distinct Falco alerts, each sent twice: 20 Observations with count 2.
    for (int i = 0; i < 20; i++) {
      String alert =
          "{\"time\":\"2026-11-22T10:00:00Z\",\"rule\":\"Shell in container\",\"priority\":\"Warning\","
              + "\"output\":\"shell\",\"output_fields\":{\"k8s.ns.name\":\""
              + ns
              + "\",\"k8s.pod.name\":\"pod-"
              + i
              + "\",\"container.id\":\"c"
              + i
              + "\"}}";
      for (int n = 0; n < 2; n++) {
        HttpResponse<String> resp = call("POST", base + "/ingest/falco", alert);
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
      }
    }
    String audit =
        sample("audit-eventlist.json")
            .replace("\"namespace\":\"shop\"", "\"namespace\":\"" + ns + "\"");
    assertThat(call("POST", base + "/ingest/k8s-audit", audit).body()).contains("\"created\":1");

    // A VulnerabilityReport with two vulnerabilities, watched by the informer.
    GenericKubernetesResource report =
        io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
            sample("trivy-report.yaml").replace("namespace: shop", "namespace: " + ns),
            GenericKubernetesResource.class);
    k.genericKubernetesResources(VULN).inNamespace(ns).resource(report).create();

    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              List<Observation> all =
                  k.resources(Observation.class).inNamespace(ns).list().getItems();
              assertThat(all.stream().filter(o -> o.getSpec().source().equals("trivy"))).hasSize(2);
              assertThat(
                      all.stream()
                          .filter(o -> o.getSpec().source().equals("falco"))
                          .filter(o -> o.getStatus() != null && o.getStatus().count() == 2))
                  .hasSize(20);
            });
    List<Observation> all = k.resources(Observation.class).inNamespace(ns).list().getItems();
    assertThat(all).hasSize(23);
    assertThat(all).allSatisfy(o -> assertThat(o.getSpec().clusterName()).isEqualTo("e2e-cluster"));
    assertThat(
            k.resources(Observation.class)
                .inNamespace(ns)
                .withLabel(Observation.LABEL_SEVERITY, "critical")
                .list()
                .getItems())
        .hasSize(1);
    JsonNode ready = Json.MAPPER.readTree(call("GET", base + "/ready", null).body());
    assertThat(ready.get("store").asText()).isEqualTo("kubernetes");
    assertThat(ready.at("/sources").toString()).contains("synced");
    // The read API works in this mode too.
    JsonNode listed =
        Json.MAPPER.readTree(
            call("GET", base + "/api/v1/observations?source=trivy&limit=10", null).body());
    assertThat(listed.get("items").size()).isGreaterThanOrEqualTo(2);

    r.process().destroy();
    assertThat(r.process().waitFor(20, TimeUnit.SECONDS)).isTrue();

    // A restarted replica re-lists the report and re-receives the same alerts: nothing new.
    Running again = start(env);
    awaitReady(again);
    String alert0 =
        "{\"time\":\"2026-11-22T10:00:00Z\",\"rule\":\"Shell in container\",\"priority\":\"Warning\","
            + "\"output\":\"shell\",\"output_fields\":{\"k8s.ns.name\":\""
            + ns
            + "\",\"k8s.pod.name\":\"pod-0\","
            + "\"container.id\":\"c0\"}}";
    assertThat(call("POST", "http://127.0.0.1:" + again.port() + "/ingest/falco", alert0).body())
        .contains("\"created\":0");
    Thread.sleep(3000);
    assertThat(k.resources(Observation.class).inNamespace(ns).list().getItems()).hasSize(23);
    again.process().destroy();
    assertThat(again.process().waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(Files.readString(again.log())).doesNotContain("\"level\":\"ERROR\"");
  }

  @Test
  void noReachableClusterStopsTheStartWithAClearMessage() throws Exception {
    Path kubeconfig = dir.resolve("nowhere.kubeconfig");
    Files.writeString(
        kubeconfig,
        """
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: u, user: {token: x}}]
        contexts: [{name: c, context: {cluster: c, user: u}}]
        current-context: c
        """);
    Running r =
        start(
            Map.of(
                "OBSERVATION_STORE",
                "kubernetes",
                "KUBECONFIG",
                kubeconfig.toString(),
                "LOG_FORMAT",
                "text"));
    assertThat(r.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(r.process().exitValue()).isEqualTo(1);
    assertThat(Files.readString(r.log())).contains("could not start");
  }
}
