package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.Samples;
import io.kubezen.watcher.source.trivy.TrivyNormalizer;
import io.kubezen.watcher.testing.KubeApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Informer sources against the real API server, with the real Trivy and wg-policy CRDs. */
class SourceManagerApiServerTest {
  static final ResourceDefinitionContext VULN =
      WatchedSource.context(
          "aquasecurity.github.io",
          "v1alpha1",
          "vulnerabilityreports",
          "VulnerabilityReport",
          true);
  static final ResourceDefinitionContext POLR =
      WatchedSource.context("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport", true);
  static final ResourceDefinitionContext CPOLR =
      WatchedSource.context(
          "wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", "ClusterPolicyReport", false);
  static final ResourceDefinitionContext EVENTS =
      WatchedSource.context("events.k8s.io", "v1", "events", "Event", true);

  @TempDir Path dir;

  final KubernetesClient client = KubeApiServer.client();

  // --- fixtures ---

  /**
   * The nginx VulnerabilityReport of the samples, in {@code ns}, keeping the vulnerabilities at
   * {@code indexes}.
   */
  static GenericKubernetesResource vulnerabilityReport(String ns, String name, int... indexes) {
    ObjectNode report = (ObjectNode) Samples.json("trivy/vulnerabilityreport-nginx.json");
    ObjectNode meta = report.putObject("metadata");
    meta.put("name", name).put("namespace", ns);
    meta.putObject("labels")
        .put("trivy-operator.container.name", "nginx")
        .put("trivy-operator.resource.kind", "ReplicaSet")
        .put("trivy-operator.resource.name", "nginx-6d4cf56db6")
        .put("trivy-operator.resource.namespace", ns);
    ArrayNode all = (ArrayNode) report.path("report").path("vulnerabilities");
    ArrayNode kept = Json.MAPPER.createArrayNode();
    for (int i : indexes) {
      kept.add(all.get(i));
    }
    ((ObjectNode) report.get("report")).set("vulnerabilities", kept);
    return Json.MAPPER.convertValue(report, GenericKubernetesResource.class);
  }

  /** The sample PolicyReport in {@code ns} with only the results of the given policies. */
  static GenericKubernetesResource policyReport(
      String ns, String name, boolean cluster, Set<String> policies) {
    ObjectNode report = (ObjectNode) Samples.json("kyverno/policyreport-namespace.json");
    ObjectNode meta = report.putObject("metadata");
    meta.put("name", name);
    if (!cluster) {
      meta.put("namespace", ns);
    }
    report.put("kind", cluster ? "ClusterPolicyReport" : "PolicyReport");
    ArrayNode kept = Json.MAPPER.createArrayNode();
    for (JsonNode r : report.get("results")) {
      if (policies.contains(r.path("policy").asText())) {
        ObjectNode copy = r.deepCopy();
        for (JsonNode res : copy.path("resources")) {
          ((ObjectNode) res).put("namespace", ns);
        }
        kept.add(copy);
      }
    }
    report.set("results", kept);
    report.remove("summary");
    return Json.MAPPER.convertValue(report, GenericKubernetesResource.class);
  }

  GenericKubernetesResource create(ResourceDefinitionContext ctx, GenericKubernetesResource o) {
    var op = client.genericKubernetesResources(ctx);
    return ctx.isNamespaceScoped()
        ? op.inNamespace(o.getMetadata().getNamespace()).resource(o).create()
        : op.resource(o).create();
  }

  GenericKubernetesResource replace(
      ResourceDefinitionContext ctx,
      GenericKubernetesResource current,
      GenericKubernetesResource wanted) {
    wanted.getMetadata().setResourceVersion(current.getMetadata().getResourceVersion());
    var op = client.genericKubernetesResources(ctx);
    return ctx.isNamespaceScoped()
        ? op.inNamespace(wanted.getMetadata().getNamespace()).resource(wanted).update()
        : op.resource(wanted).update();
  }

  static void awaitSynced(Rig rig) {
    await().atMost(Duration.ofSeconds(20)).until(rig.manager::synced);
  }

  static List<String> ids(List<Observation> obs) {
    return obs.stream()
        .map(o -> (String) o.getSpec().details().get("vulnerabilityID"))
        .sorted()
        .toList();
  }

  /**
   * A CRD of ../shared/kube-apiext/crds/third-party, looked for above the repository (worktrees sit
   * deeper).
   */
  static Path thirdPartyCrd(String file) {
    for (Path p = KubeApiServer.repositoryRoot(); p != null; p = p.getParent()) {
      Path f = p.resolve("shared/kube-apiext/crds/third-party").resolve(file);
      if (Files.isRegularFile(f)) {
        return f;
      }
    }
    throw new IllegalStateException("cannot find shared/kube-apiext/crds/third-party/" + file);
  }

  // --- tests ---

  @Test
  void vulnerabilityReportLifecycleCreatesResolvesAndSurvivesRestarts() {
    String ns = KubeApiServer.uniqueNamespace("inf-trivy");
    SourceOptions opts =
        Rig.options().withSources(Set.of("trivy")).withWatchNamespaces(List.of(ns));
    try (Rig rig = new Rig(dir, client, opts)) {
      rig.manager.start();
      awaitSynced(rig);
      assertThat(rig.manager.status())
          .containsEntry("trivy:aquasecurity.github.io/v1alpha1/vulnerabilityreports", "synced");
      // the gauge follows the informer's start future, a moment after hasSynced()
      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () ->
                  assertThat(rig.sample("zen_watcher_informer_cache_synced", "source=\"trivy\""))
                      .isEqualTo(1.0));

      GenericKubernetesResource r = create(VULN, vulnerabilityReport(ns, "replicaset-nginx", 0, 1));
      String uid = r.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 2);
      assertThat(ids(rig.unresolved(uid))).containsExactly("CVE-2023-44487", "CVE-2023-45853");
      assertThat(
              rig.sample(
                  "zenwatcher_source_watch_last_event_timestamp_seconds",
                  "gvr=\"aquasecurity.github.io/v1alpha1/vulnerabilityreports\""))
          .isGreaterThan(1.7e9);

      // A vulnerability more: one Observation more.
      r = replace(VULN, r, vulnerabilityReport(ns, "replicaset-nginx", 0, 1, 2));
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 3);
      assertThat(rig.unresolved(uid)).hasSize(3);

      // One fixed: its Observation is resolved, not deleted.
      r = replace(VULN, r, vulnerabilityReport(ns, "replicaset-nginx", 0, 2));
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.resolvedOnes(uid).size() == 1);
      assertThat(ids(rig.resolvedOnes(uid))).containsExactly("CVE-2023-44487");
      assertThat(rig.resolvedOnes(uid).get(0).getStatus().resolvedAt()).isNotNull();
      assertThat(ids(rig.unresolved(uid))).containsExactly("CVE-2023-45853", "CVE-2023-5678");

      // Restarts re-list and create nothing twice, count nothing twice.
      for (int i = 0; i < 2; i++) {
        rig.manager.stop();
        assertThat(rig.manager.status()).containsValue("stopped");
        rig.manager.start();
        awaitSynced(rig);
      }
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(5))
          .until(() -> rig.byOrigin(uid).size() == 3);
      assertThat(rig.byOrigin(uid))
          .allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(1L));
      assertThat(ids(rig.unresolved(uid))).containsExactly("CVE-2023-45853", "CVE-2023-5678");

      // The report deleted: every Observation of it resolved.
      client.genericKubernetesResources(VULN).inNamespace(ns).withName("replicaset-nginx").delete();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.unresolved(uid).isEmpty());
      assertThat(rig.byOrigin(uid)).hasSize(3);
    }
  }

  @Test
  void aFixedVulnerabilityThatComesBackIsUnresolvedNotDuplicated() {
    String ns = KubeApiServer.uniqueNamespace("inf-back");
    try (Rig rig =
        new Rig(
            dir,
            client,
            Rig.options().withSources(Set.of("trivy")).withWatchNamespaces(List.of(ns)))) {
      rig.manager.start();
      awaitSynced(rig);
      GenericKubernetesResource r = create(VULN, vulnerabilityReport(ns, "r", 0, 1));
      String uid = r.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 2);
      r = replace(VULN, r, vulnerabilityReport(ns, "r", 0));
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.resolvedOnes(uid).size() == 1);
      replace(VULN, r, vulnerabilityReport(ns, "r", 0, 1));
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.unresolved(uid).size() == 2);
      assertThat(rig.byOrigin(uid)).hasSize(2);
    }
  }

  @Test
  void policyReportFailuresBecomeObservationsAndPassingOnesResolveThem() {
    String ns = KubeApiServer.uniqueNamespace("inf-polr");
    try (Rig rig =
        new Rig(
            dir,
            client,
            Rig.options().withSources(Set.of("kyverno")).withWatchNamespaces(List.of(ns)))) {
      rig.manager.start();
      awaitSynced(rig);
      // pass + two fails, the second naming two resources: three Observations.
      GenericKubernetesResource r =
          create(
              POLR,
              policyReport(
                  ns,
                  "polr-1",
                  false,
                  Set.of(
                      "require-labels",
                      "disallow-privileged-containers",
                      "require-requests-limits")));
      String uid = r.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 3);
      assertThat(rig.byOrigin(uid))
          .allSatisfy(o -> assertThat(o.getSpec().source()).isEqualTo("kyverno"));

      // One fail is gone from the report: resolved.
      replace(
          POLR,
          r,
          policyReport(
              ns, "polr-1", false, Set.of("require-labels", "disallow-privileged-containers")));
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.resolvedOnes(uid).size() == 2);
      assertThat(rig.unresolved(uid))
          .singleElement()
          .satisfies(
              o -> assertThat(o.getSpec().title()).contains("disallow-privileged-containers"));

      rig.manager.stop();
      rig.manager.start();
      awaitSynced(rig);
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(5))
          .until(() -> rig.byOrigin(uid).size() == 3);
      assertThat(rig.byOrigin(uid))
          .allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(1L));
      assertThat(rig.unresolved(uid)).hasSize(1);
    }
  }

  @Test
  void clusterPolicyReportsAreWatchedUnscopedOrWhenAskedFor() {
    String ns = KubeApiServer.uniqueNamespace("inf-cpolr");
    GenericKubernetesResource r =
        create(
            CPOLR, policyReport(ns, "cpolr-" + ns, true, Set.of("disallow-privileged-containers")));
    String uid = r.getMetadata().getUid();
    try {
      // Scoped to a namespace: cluster-scoped reports are not watched.
      try (Rig rig =
          new Rig(
              dir.resolve("a"),
              client,
              Rig.options().withSources(Set.of("kyverno")).withWatchNamespaces(List.of(ns)))) {
        rig.manager.start();
        awaitSynced(rig);
        assertThat(rig.manager.status().get("kyverno:wgpolicyk8s.io/v1alpha2/clusterpolicyreports"))
            .startsWith("cluster-scoped: not watched");
        await()
            .during(Duration.ofSeconds(1))
            .atMost(Duration.ofSeconds(3))
            .until(() -> rig.byOrigin(uid).isEmpty());
      }
      // Scoped, with WATCH_CLUSTER_SCOPED=true: watched.
      try (Rig rig =
          new Rig(
              dir.resolve("b"),
              client,
              Rig.options()
                  .withSources(Set.of("kyverno"))
                  .withWatchNamespaces(List.of(ns))
                  .withWatchClusterScoped(true))) {
        rig.manager.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 1);
      }
      // Not scoped: watched.
      try (Rig rig =
          new Rig(dir.resolve("c"), client, Rig.options().withSources(Set.of("kyverno")))) {
        rig.manager.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 1);
        client.genericKubernetesResources(CPOLR).withName(r.getMetadata().getName()).delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> rig.unresolved(uid).isEmpty());
      }
    } finally {
      client.genericKubernetesResources(CPOLR).withName(r.getMetadata().getName()).delete();
    }
  }

  @Test
  void eventsK8sIoWarningEventsBecomeObservationsOnceEvenAfterRestart() {
    String ns = KubeApiServer.uniqueNamespace("inf-events");
    try (Rig rig =
        new Rig(
            dir,
            client,
            Rig.options().withSources(Set.of("k8s-events")).withWatchNamespaces(List.of(ns)))) {
      rig.manager.start();
      // Core v1 Events are not served by this server: that informer retries; the events.k8s.io one
      // syncs.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  "synced".equals(rig.manager.status().get("k8s-events:events.k8s.io/v1/events")));
      ObjectNode e = (ObjectNode) Samples.json("k8s-events/events-v1-single.json");
      ObjectNode meta = e.putObject("metadata");
      meta.put("name", "deployer.1").put("namespace", ns);
      GenericKubernetesResource warning =
          create(EVENTS, Json.MAPPER.convertValue(e, GenericKubernetesResource.class));
      ObjectNode normal = e.deepCopy();
      normal.put("type", "Normal");
      ((ObjectNode) normal.get("metadata")).put("name", "deployer.2");
      GenericKubernetesResource ok =
          create(EVENTS, Json.MAPPER.convertValue(normal, GenericKubernetesResource.class));

      String uid = warning.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 1);
      Observation o = rig.byOrigin(uid).get(0);
      assertThat(o.getSpec().source()).isEqualTo("k8s-events");
      assertThat(o.getSpec().eventType()).isEqualTo("access_control_violation");
      assertThat(rig.byOrigin(ok.getMetadata().getUid())).isEmpty();
      // This server has no core v1 Events: that informer's list fails, is counted, and retried.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                Double restarts =
                    rig.sample("zenwatcher_source_watch_restarts_total", "gvr=\"v1/events\"");
                return restarts != null && restarts >= 1;
              });
      assertThat(rig.metrics.scrape())
          .contains(
              "zenwatcher_source_watch_last_event_timestamp_seconds{gvr=\"events.k8s.io/v1/events\",source=\"k8s-events\"}");

      rig.manager.stop();
      rig.manager.start();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  "synced".equals(rig.manager.status().get("k8s-events:events.k8s.io/v1/events")));
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(5))
          .until(() -> rig.byOrigin(uid).size() == 1);
      assertThat(rig.byOrigin(uid).get(0).getStatus().count()).isEqualTo(1L);
      // Deleting an Event resolves nothing: it happened.
      client.genericKubernetesResources(EVENTS).inNamespace(ns).withName("deployer.1").delete();
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(5))
          .until(() -> rig.unresolved(uid).size() == 1);
    }
  }

  @Test
  void watchNamespaceIgnoresOtherNamespaces() {
    String watched = KubeApiServer.uniqueNamespace("inf-in");
    String other = KubeApiServer.uniqueNamespace("inf-out");
    try (Rig rig =
        new Rig(
            dir,
            client,
            Rig.options().withSources(Set.of("trivy")).withWatchNamespaces(List.of(watched)))) {
      rig.manager.start();
      awaitSynced(rig);
      String outside = create(VULN, vulnerabilityReport(other, "r", 0)).getMetadata().getUid();
      String inside = create(VULN, vulnerabilityReport(watched, "r", 0)).getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(inside).size() == 1);
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(3))
          .until(() -> rig.byOrigin(outside).isEmpty());
      assertThat(
              rig.manager
                  .status()
                  .get("trivy:aquasecurity.github.io/v1alpha1/clustervulnerabilityreports"))
          .startsWith("cluster-scoped: not watched");
    }
  }

  /**
   * A copy of Trivy's VulnerabilityReport CRD under a group of the test's own (not installed yet),
   * and a watched source over it.
   */
  record CrdCopy(String group, String crdName, String yaml, WatchedSource source) {
    static CrdCopy ofTrivy() throws java.io.IOException {
      String group = "t" + UUID.randomUUID().toString().substring(0, 8) + ".zen-test.io";
      String crdName = "vulnerabilityreports." + group;
      String yaml =
          Files.readString(thirdPartyCrd("trivy-vulnerabilityreports.yaml"))
              .replace("vulnerabilityreports.aquasecurity.github.io", crdName)
              .replace("group: aquasecurity.github.io", "group: " + group);
      // The normalizer reads aquasecurity.github.io reports: present the copy as one.
      WatchedSource source =
          new WatchedSource(
              "trivy",
              WatchedSource.context(
                  group, "v1alpha1", "vulnerabilityreports", "VulnerabilityReport", true),
              null,
              object -> {
                ObjectNode json = object.deepCopy();
                json.put("apiVersion", "aquasecurity.github.io/v1alpha1");
                return new io.kubezen.watcher.source.ObjectReader.Input(json, Map.of());
              },
              new TrivyNormalizer(),
              crdName);
      return new CrdCopy(group, crdName, yaml, source);
    }
  }

  /**
   * Installs the copied CRD, waits for the source to sync ({@code whenSynced} then runs), stores
   * the two findings of a report through it, and removes the CRD again.
   */
  void installUseAndRemove(CrdCopy c, Rig rig, String ns, Runnable whenSynced) {
    CustomResourceDefinition crd =
        KubeApiServer.apply(new java.io.ByteArrayInputStream(c.yaml().getBytes()));
    try {
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> "synced".equals(rig.manager.status().get(c.source().id())));
      whenSynced.run();
      GenericKubernetesResource report = vulnerabilityReport(ns, "r", 0, 1);
      report.setApiVersion(c.group() + "/v1alpha1");
      String uid = create(c.source().resource(), report).getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 2);
    } finally {
      client
          .apiextensions()
          .v1()
          .customResourceDefinitions()
          .withName(crd.getMetadata().getName())
          .delete();
    }
  }

  @Test
  void aSourceWhoseCrdIsInstalledLaterIsPickedUpWithoutRestart() throws Exception {
    CrdCopy c = CrdCopy.ofTrivy();
    String crdName = c.crdName();
    WatchedSource copy = c.source();
    String ns = KubeApiServer.uniqueNamespace("inf-crd");
    try (Rig rig =
        new Rig(dir, client, Rig.options().withWatchNamespaces(List.of(ns)), List.of(copy))) {
      rig.manager.start();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> rig.manager.status().get(copy.id()).equals("waiting for CRD " + crdName));
      assertThat(rig.sample("zen_watcher_source_available", "gvr=\"" + copy.gvr() + "\""))
          .isEqualTo(0.0);
      assertThat(rig.manager.synced()).isTrue(); // waiting for a CRD does not hold readiness

      installUseAndRemove(
          c,
          rig,
          ns,
          () ->
              assertThat(rig.sample("zen_watcher_source_available", "gvr=\"" + copy.gvr() + "\""))
                  .isEqualTo(1.0));
      // Removed again: back to waiting.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> rig.manager.status().get(copy.id()).equals("waiting for CRD " + crdName));
    }
  }

  @Test
  void withNamespacedAccessNoCrdIsReadAndAMissingResourceIsWaitedFor() throws Exception {
    CrdCopy c = CrdCopy.ofTrivy();
    String crdName = c.crdName();
    WatchedSource copy = c.source();
    WatchedSource clusterScoped =
        BuiltInSources.all().stream()
            .filter(w -> w.gvr().endsWith("clustervulnerabilityreports"))
            .findFirst()
            .orElseThrow();
    String ns = KubeApiServer.uniqueNamespace("ns-access");
    // Every request this SourceManager's client makes.
    List<String> paths = new java.util.concurrent.CopyOnWriteArrayList<>();
    io.fabric8.kubernetes.client.http.Interceptor recorder =
        new io.fabric8.kubernetes.client.http.Interceptor() {
          @Override
          public void before(
              io.fabric8.kubernetes.client.http.BasicBuilder b,
              io.fabric8.kubernetes.client.http.HttpRequest r,
              RequestTags tags) {
            paths.add(r.method() + " " + r.uri().getPath());
          }
        };
    try (KubernetesClient recorded =
            new io.fabric8.kubernetes.client.KubernetesClientBuilder()
                .withConfig(KubeApiServer.config())
                .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("record", recorder))
                .build();
        Rig rig =
            new Rig(
                dir,
                recorded,
                Rig.options().withWatchNamespaces(List.of(ns)).withNamespacedAccess(true),
                List.of(copy, clusterScoped))) {
      rig.manager.start();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> rig.manager.status().get(copy.id()).startsWith("waiting for CRD " + crdName));
      assertThat(rig.manager.status().get(clusterScoped.id()))
          .startsWith("cluster-scoped: not watched");
      assertThat(rig.manager.synced()).isTrue();

      installUseAndRemove(c, rig, ns, () -> {});
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> rig.manager.status().get(copy.id()).startsWith("waiting for CRD " + crdName));
    }
    // Only the watched namespace, and never a CRD or the cluster-scoped reports.
    assertThat(paths)
        .isNotEmpty()
        .allSatisfy(
            p ->
                assertThat(p)
                    .matches(
                        "^GET /apis/"
                            + java.util.regex.Pattern.quote(c.group())
                            + "/v1alpha1/namespaces/"
                            + ns
                            + "/vulnerabilityreports$"));
  }
}
