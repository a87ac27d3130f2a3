package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.testing.KubeApiServer;
import io.kubezen.watcher.testing.RbacAuthorizer;
import io.kubezen.watcher.testing.RbacProxy;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A namespace-shard install as the chart makes it ({@code rbac.clusterScoped=false}): the chart is
 * rendered with Helm, the jar runs with the environment of the rendered Deployment, and its API
 * calls go through a proxy that authorizes each one against the rendered Roles exactly as
 * Kubernetes RBAC would for the rendered ServiceAccount. Webhooks, an informer source with a
 * resolved finding, an Ingester from the chart, the read API, readiness and GC all work, and no
 * call is refused. The same program told it has cluster rights ({@code ACCESS_SCOPE=cluster}) is
 * refused: the proxy does enforce.
 */
class NamespacedInstallIT {
  static final Path CHART = Path.of(System.getProperty("chart.dir", "../charts/zen-watcher"));
  static final String RELEASE = "zw";
  static final ResourceDefinitionContext VULN =
      new ResourceDefinitionContext.Builder()
          .withGroup("aquasecurity.github.io")
          .withVersion("v1alpha1")
          .withPlural("vulnerabilityreports")
          .withKind("VulnerabilityReport")
          .withNamespaced(true)
          .build();

  final JarRunner jar = new JarRunner();
  @TempDir Path dir;

  @Test
  void aShardWithTheChartsRolesWorksAndNoCallIsRefused() throws Exception {
    KubeApiServer.applyZenCrds();
    KubernetesClient admin = KubeApiServer.client();
    String rel = KubeApiServer.uniqueNamespace("shard");
    String team = KubeApiServer.uniqueNamespace("team");
    String other = KubeApiServer.uniqueNamespace("other");

    List<HasMetadata> rendered = render(rel, team);
    ServiceAccount sa = one(rendered, ServiceAccount.class);
    Map<String, String> env =
        podEnv(one(rendered, Deployment.class), RELEASE + "-zen-watcher-0", rel);
    assertThat(env)
        .containsEntry("ACCESS_SCOPE", "namespaces")
        .containsEntry("WATCH_NAMESPACE", rel + "," + team);
    // As `helm install` would: the chart's Ingesters (RBAC is what the proxy enforces).
    for (HasMetadata o : rendered) {
      if (o.getKind().equals("Ingester")) {
        GenericKubernetesResource ing =
            Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
        admin
            .genericKubernetesResources("zen.kube-zen.io/v1alpha1", "Ingester")
            .inNamespace(rel)
            .resource(ing)
            .create();
      }
    }
    // Expired Observations already stored (TTL 60 s; the first GC sweep runs a minute after start):
    // those of the shard go, the one outside stays.
    for (String ns : List.of(rel, team, other)) {
      admin.resources(Observation.class).inNamespace(ns).resource(expiring(ns)).create();
    }

    try (RbacProxy proxy =
        RbacProxy.start(
            KubeApiServer.config(),
            new RbacAuthorizer(rendered, rel, sa.getMetadata().getName()))) {
      env.put("KUBECONFIG", proxy.writeKubeconfig(dir).toString());
      // kube-apiext serves no ConfigMaps: the sources that read them (checkov, kube-bench) are left
      // out.
      env.put("SOURCES", "trivy,kyverno,k8s-events");
      env.remove("WATCHER_PORT"); // the runner's free port
      Running r = jar.start(dir, env);
      jar.awaitReady(r);
      String base = "http://127.0.0.1:" + r.port();
      JsonNode ready = Json.MAPPER.readTree(jar.call("GET", base + "/ready", null).body());
      assertThat(ready.get("store").asText()).isEqualTo("kubernetes");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  Json.MAPPER
                      .readTree(jar.call("GET", base + "/ready", null).body())
                      .path("role")
                      .asText()
                      .equals("leader"));

      // Webhooks: about the watched namespace, about one outside the shard, about no namespace.
      assertThat(jar.call("POST", base + "/ingest/falco", falco(team, "web-1")).statusCode())
          .isEqualTo(200);
      assertThat(jar.call("POST", base + "/ingest/falco", falco(other, "db-1")).statusCode())
          .isEqualTo(200);
      assertThat(jar.call("POST", base + "/ingest/falco", falco(null, null)).statusCode())
          .isEqualTo(200);
      // The chart's Ingester, served once its informer (in the release namespace) saw it.
      String acme =
          "{\"summary\":\"Cryptominer\",\"pod\":\"miner-1\",\"ns\":\""
              + team
              + "\",\"ts\":\"2026-11-22T10:00:00Z\"}";
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> jar.call("POST", base + "/ingest/acme-alerts", acme).statusCode() == 200);
      String acmeAnswer = jar.call("POST", base + "/ingest/acme-alerts", acme).body();

      // A report in the watched namespace (two findings), and one outside that is not watched.
      GenericKubernetesResource report = trivyReport(team);
      admin.genericKubernetesResources(VULN).inNamespace(team).resource(report).create();
      admin
          .genericKubernetesResources(VULN)
          .inNamespace(other)
          .resource(trivyReport(other))
          .create();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> bySource(admin, team, "trivy").size() == 2);
      // One vulnerability fixed: its Observation is resolved (listByOrigin per namespace).
      GenericKubernetesResource current =
          admin
              .genericKubernetesResources(VULN)
              .inNamespace(team)
              .withName(report.getMetadata().getName())
              .get();
      @SuppressWarnings("unchecked")
      List<Object> vulns =
          (List<Object>)
              ((Map<String, Object>) current.getAdditionalProperties().get("report"))
                  .get("vulnerabilities");
      vulns.remove(0);
      admin.genericKubernetesResources(VULN).inNamespace(team).resource(current).update();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  bySource(admin, team, "trivy").stream()
                          .filter(
                              o ->
                                  o.getStatus() != null
                                      && Boolean.TRUE.equals(o.getStatus().resolved()))
                          .count()
                      == 1);

      // Where each finding went.
      assertThat(bySource(admin, team, "falco")).hasSize(1);
      List<Observation> moved = bySource(admin, rel, "falco");
      assertThat(moved).hasSize(2);
      assertThat(
              moved.stream()
                  .map(
                      o ->
                          o.getSpec().resource() == null
                              ? "-"
                              : o.getSpec().resource().namespace()))
          .containsExactlyInAnyOrder(other, "-");
      await()
          .atMost(Duration.ofSeconds(15))
          .untilAsserted(
              () ->
                  assertThat(bySource(admin, team, "acme"))
                      .as(() -> "acme answered " + acmeAnswer + "; log:\n" + tail(r))
                      .hasSize(1));
      assertThat(admin.resources(Observation.class).inNamespace(other).list().getItems())
          .extracting(o -> o.getSpec().source())
          .containsExactly("falco-expired-fixture");

      // GC: the first sweep (a minute after start) deletes the expired ones of the shard only.
      await()
          .atMost(Duration.ofSeconds(120))
          .until(
              () ->
                  admin
                              .resources(Observation.class)
                              .inNamespace(rel)
                              .withName("falco-expired")
                              .get()
                          == null
                      && admin
                              .resources(Observation.class)
                              .inNamespace(team)
                              .withName("falco-expired")
                              .get()
                          == null);
      assertThat(
              admin.resources(Observation.class).inNamespace(other).withName("falco-expired").get())
          .isNotNull();

      // The read API walks the shard's namespaces page by page, and nothing else.
      Set<String> listed = new TreeSet<>();
      String token = null;
      int pages = 0;
      do {
        String url =
            base
                + "/api/v1/observations?limit=2"
                + (token == null
                    ? ""
                    : "&continue="
                        + java.net.URLEncoder.encode(
                            token, java.nio.charset.StandardCharsets.UTF_8));
        HttpResponse<String> resp = jar.call("GET", url, null);
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
        JsonNode page = Json.MAPPER.readTree(resp.body());
        page.get("items")
            .forEach(
                i ->
                    listed.add(
                        i.at("/metadata/namespace").asText()
                            + "/"
                            + i.at("/metadata/name").asText()));
        token =
            page.at("/metadata/continue").isTextual()
                ? page.at("/metadata/continue").asText()
                : null;
        pages++;
      } while (token != null && pages < 50);
      assertThat(pages).isGreaterThanOrEqualTo(3);
      Set<String> stored = new TreeSet<>();
      for (String ns : List.of(rel, team)) {
        admin
            .resources(Observation.class)
            .inNamespace(ns)
            .list()
            .getItems()
            .forEach(o -> stored.add(ns + "/" + o.getMetadata().getName()));
      }
      assertThat(listed).isEqualTo(stored).noneMatch(n -> n.startsWith(other + "/"));

      assertThat(proxy.denied()).as("calls the chart's Roles refuse").isEmpty();
      assertThat(proxy.requests())
          .anyMatch(l -> l.contains("observations") && l.contains("namespace=" + team))
          .anyMatch(l -> l.contains("leases") && l.contains("namespace=" + rel));
      assertThat(JarRunner.terminate(r, Duration.ofSeconds(30))).isTrue();
      assertThat(Files.readString(r.log()))
          .doesNotContain("\"level\":\"ERROR\"")
          .doesNotContain("Forbidden");

      // The control: the same install told it may list across namespaces is refused.
      proxy.clearLog();
      env.put("ACCESS_SCOPE", "cluster");
      Running wide = jar.start(dir, env);
      try {
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    proxy.denied().stream()
                        .anyMatch(l -> l.contains("observations") && l.contains("namespace=*")));
      } finally {
        JarRunner.kill(wide);
      }
    }
  }

  static String tail(Running r) {
    try {
      String log = Files.readString(r.log());
      return log.substring(Math.max(0, log.length() - 6000));
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }

  /**
   * {@code helm template} of the chart as a shard: namespaced Roles, one watched namespace, one
   * Ingester.
   */
  static List<HasMetadata> render(String releaseNamespace, String watched) throws Exception {
    Map<String, Object> values = new LinkedHashMap<>();
    values.put("rbac", Map.of("clusterScoped", false));
    values.put("watchNamespaces", List.of(watched));
    values.put(
        "leaderElection",
        Map.of("leaseDuration", "4s", "renewDeadline", "3s", "retryPeriod", "1s"));
    values.put("observation", Map.of("ttlSeconds", 3600));
    values.put("gc", Map.of("intervalMinutes", 1));
    values.put(
        "ingesters",
        Map.of(
            "defaults",
            List.of(
                Map.of(
                    "name",
                    "acme",
                    "spec",
                    Map.of(
                        "source",
                        "acme",
                        "type",
                        "webhook",
                        "webhook",
                        Map.of("path", "acme-alerts"),
                        "mapping",
                        Map.of(
                            "severity",
                            "'high'",
                            "title",
                            "object.summary",
                            "eventType",
                            "'runtime_alert'",
                            "category",
                            "'security'",
                            "timestamp",
                            "object.ts",
                            "resource",
                            Map.of(
                                "apiVersion",
                                "'v1'",
                                "kind",
                                "'Pod'",
                                "name",
                                "object.pod",
                                "namespace",
                                "object.ns")))))));
    Path file = Files.createTempFile("zw-shard-", ".yaml");
    try {
      new ObjectMapper(new YAMLFactory()).writeValue(file.toFile(), values);
      String out =
          new Helm(CHART)
              .template()
              .withName(RELEASE)
              .withNamespace(releaseNamespace)
              .withValuesFile(file)
              .call();
      KubernetesSerialization serialization = new KubernetesSerialization();
      List<HasMetadata> objects = new ArrayList<>();
      for (String doc : out.split("(?m)^---\\s*$")) {
        if (doc.lines().anyMatch(l -> !l.isBlank() && !l.trim().startsWith("#"))) {
          objects.add(serialization.unmarshal(doc));
        }
      }
      return objects;
    } finally {
      Files.deleteIfExists(file);
    }
  }

  static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type) {
    List<T> found = objects.stream().filter(type::isInstance).map(type::cast).toList();
    assertThat(found).as(type.getSimpleName() + " rendered").hasSize(1);
    return found.get(0);
  }

  /** The container's environment as the kubelet would give it (downward API filled in). */
  static Map<String, String> podEnv(Deployment d, String podName, String podNamespace) {
    Map<String, String> env = new LinkedHashMap<>();
    for (EnvVar e : d.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv()) {
      if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      } else if (e.getValueFrom() != null && e.getValueFrom().getFieldRef() != null) {
        String path = e.getValueFrom().getFieldRef().getFieldPath();
        env.put(
            e.getName(),
            switch (path) {
              case "metadata.name" -> podName;
              case "metadata.namespace" -> podNamespace;
              default -> throw new AssertionError("unexpected fieldRef " + path);
            });
      } else {
        throw new AssertionError("unexpected env source for " + e.getName());
      }
    }
    return env;
  }

  static String falco(String namespace, String pod) {
    String fields =
        namespace == null
            ? "\"container.id\":\"host\""
            : "\"k8s.ns.name\":\""
                + namespace
                + "\",\"k8s.pod.name\":\""
                + pod
                + "\",\"container.id\":\"c-"
                + pod
                + "\"";
    return "{\"time\":\"2026-11-22T10:00:00Z\",\"rule\":\"Shell in container\",\"priority\":\"Warning\","
        + "\"output\":\"shell\",\"output_fields\":{"
        + fields
        + "}}";
  }

  static GenericKubernetesResource trivyReport(String namespace) throws Exception {
    return io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
        JarRunner.sample("trivy-report.yaml").replace("namespace: shop", "namespace: " + namespace),
        GenericKubernetesResource.class);
  }

  /** An Observation with a 60 s TTL, made by the test (its source names it as a fixture). */
  static Observation expiring(String ns) {
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withName("falco-expired")
            .withNamespace(ns)
            .addToLabels(Observation.LABEL_SOURCE, "falco-expired-fixture")
            .build());
    o.setSpec(
        new ObservationSpec(
            "falco-expired-fixture",
            Category.SECURITY,
            Severity.LOW,
            "runtime_threat",
            ResourceRef.of("v1", "Pod", ns, "old"),
            "an old finding",
            Map.of(),
            "2026-11-22T09:00:00Z",
            "0123456789abcdef".repeat(4),
            60L,
            null));
    return o;
  }

  static List<Observation> bySource(KubernetesClient admin, String ns, String source) {
    return admin
        .resources(Observation.class)
        .inNamespace(ns)
        .withLabel(Observation.LABEL_SOURCE, source)
        .list()
        .getItems()
        .stream()
        .collect(Collectors.toList());
  }
}
