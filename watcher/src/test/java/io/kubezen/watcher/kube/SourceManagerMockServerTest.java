package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.Samples;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ConfigMap sources, core v1 Events and namespace selection, on fabric8's mock API server (CRUD
 * mode).
 */
@EnableKubernetesMockClient(crud = true)
class SourceManagerMockServerTest {
  static KubernetesClient client;

  @TempDir Path dir;

  static String ns(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  static ConfigMap configMap(String ns, String name, Map<String, String> labels, String results) {
    ConfigMapBuilder b =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(ns)
            .withLabels(labels)
            .endMetadata();
    if (results != null) {
      b.addToData(io.kubezen.watcher.source.checkov.CheckovSource.RESULTS_KEY, results);
    }
    return b.build();
  }

  /**
   * The checkov sample, its resources moved to namespace {@code ns} (the same findings in two
   * ConfigMaps would be the same Observations), without the failed checks whose ids are listed.
   */
  static String checkov(String ns, String... withoutCheckIds) {
    ObjectNode report = (ObjectNode) Samples.json("checkov/kubernetes.json");
    ArrayNode failed = (ArrayNode) report.path("results").path("failed_checks");
    for (int i = failed.size() - 1; i >= 0; i--) {
      ObjectNode check = (ObjectNode) failed.get(i);
      if (List.of(withoutCheckIds).contains(check.path("check_id").asText())) {
        failed.remove(i);
      } else {
        check.put(
            "resource",
            check.path("resource").asText().replaceFirst("^(\\w+)\\.[^.]+\\.", "$1." + ns + "."));
      }
    }
    return report.toString();
  }

  static void awaitSynced(Rig rig) {
    await().atMost(Duration.ofSeconds(20)).until(rig.manager::synced);
  }

  @Test
  void checkovConfigMapsLabelledAppCheckovGiveOneObservationPerFailedCheck() {
    String ns = ns("checkov");
    try (Rig rig =
        new Rig(
            dir,
            client,
            Rig.options().withSources(Set.of("checkov")).withWatchNamespaces(List.of(ns)))) {
      rig.manager.start();
      awaitSynced(rig);
      ConfigMap cm =
          client
              .configMaps()
              .inNamespace(ns)
              .resource(configMap(ns, "scan", Map.of("app", "checkov"), checkov(ns)))
              .create();
      ConfigMap unlabelled =
          client
              .configMaps()
              .inNamespace(ns)
              .resource(configMap(ns, "other", Map.of("app", "something-else"), checkov(ns)))
              .create();
      String uid = cm.getMetadata().getUid();
      assertThat(uid).isNotNull();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 4);
      assertThat(rig.byOrigin(uid))
          .allSatisfy(o -> assertThat(o.getSpec().source()).isEqualTo("checkov"));
      assertThat(rig.byOrigin(unlabelled.getMetadata().getUid())).isEmpty();

      // A check fixed: its Observation resolved.
      cm.getData()
          .put(
              io.kubezen.watcher.source.checkov.CheckovSource.RESULTS_KEY,
              checkov(ns, "CKV_K8S_49"));
      client.configMaps().inNamespace(ns).resource(cm).update();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.resolvedOnes(uid).size() == 1);
      assertThat(rig.resolvedOnes(uid).get(0).getSpec().details())
          .containsEntry("check_id", "CKV_K8S_49");

      // Restart: nothing twice.
      rig.manager.stop();
      rig.manager.start();
      awaitSynced(rig);
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(5))
          .until(() -> rig.byOrigin(uid).size() == 4);
      assertThat(rig.byOrigin(uid))
          .allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(1L));
      assertThat(rig.unresolved(uid)).hasSize(3);

      // The key removed: no findings left.
      cm = client.configMaps().inNamespace(ns).withName("scan").get();
      cm.getData().remove(io.kubezen.watcher.source.checkov.CheckovSource.RESULTS_KEY);
      cm.getData().put("other.txt", "x");
      client.configMaps().inNamespace(ns).resource(cm).update();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.unresolved(uid).isEmpty());
    }
  }

  @Test
  void checkovConfigMapDeletedResolvesItsObservationsAndBadJsonResolvesNothing() {
    String ns = ns("checkov-del");
    try (Rig rig =
        new Rig(
            dir,
            client,
            Rig.options().withSources(Set.of("checkov")).withWatchNamespaces(List.of(ns)))) {
      rig.manager.start();
      awaitSynced(rig);
      ConfigMap cm =
          client
              .configMaps()
              .inNamespace(ns)
              .resource(configMap(ns, "scan", Map.of("app", "checkov"), checkov(ns)))
              .create();
      String uid = cm.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 4);
      cm.getData().put(io.kubezen.watcher.source.checkov.CheckovSource.RESULTS_KEY, "{not json");
      client.configMaps().inNamespace(ns).resource(cm).update();
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(3))
          .until(() -> rig.unresolved(uid).size() == 4);
      client.configMaps().inNamespace(ns).withName("scan").delete();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.unresolved(uid).isEmpty());
      assertThat(rig.byOrigin(uid)).hasSize(4);
    }
  }

  @Test
  void kubeBenchConfigMapNamesItsNodeByLabel() {
    String ns = ns("bench");
    try (Rig rig = new Rig(dir, client, Rig.options().withSources(Set.of("kube-bench")))) {
      rig.manager.start();
      awaitSynced(rig);
      ConfigMap cm =
          client
              .configMaps()
              .inNamespace(ns)
              .resource(
                  configMap(
                      ns,
                      "bench-worker-1",
                      Map.of("app", "kube-bench", "node", "worker-1"),
                      Samples.text("kube-bench/kube-bench-master-node.json")))
              .create();
      String uid = cm.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> !rig.byOrigin(uid).isEmpty());
      List<Observation> obs = rig.byOrigin(uid);
      assertThat(obs)
          .allSatisfy(
              o -> {
                assertThat(o.getSpec().source()).isEqualTo("kube-bench");
                assertThat(o.getSpec().resource().kind()).isEqualTo("Node");
                assertThat(o.getSpec().resource().name()).isEqualTo("worker-1");
              });
    }
  }

  @Test
  void coreV1WarningEventsBecomeObservationsAndNormalOnesDoNot() {
    String ns = ns("events");
    try (Rig rig = new Rig(dir, client, Rig.options().withSources(Set.of("k8s-events")))) {
      rig.manager.start();
      awaitSynced(rig);
      ObjectNode pull =
          (ObjectNode) Samples.json("k8s-events/core-v1-list.json").get("items").get(8).deepCopy();
      ObjectNode meta = pull.putObject("metadata");
      meta.put("name", "api.1").put("namespace", ns);
      Event warning =
          client
              .v1()
              .events()
              .inNamespace(ns)
              .resource(Json.MAPPER.convertValue(pull, Event.class))
              .create();
      pull.put("type", "Normal");
      meta.put("name", "api.2");
      Event normal =
          client
              .v1()
              .events()
              .inNamespace(ns)
              .resource(Json.MAPPER.convertValue(pull, Event.class))
              .create();

      String uid = warning.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid).size() == 1);
      assertThat(rig.byOrigin(uid).get(0).getSpec().eventType()).isEqualTo("image_pull_failure");
      assertThat(rig.byOrigin(normal.getMetadata().getUid())).isEmpty();

      // A re-list after a restart counts nothing twice.
      rig.manager.stop();
      rig.manager.start();
      awaitSynced(rig);
      await()
          .during(Duration.ofMillis(500))
          .atMost(Duration.ofSeconds(5))
          .until(() -> rig.byOrigin(uid).size() == 1);
      assertThat(rig.byOrigin(uid).get(0).getStatus().count()).isEqualTo(1L);
    }
  }

  @Test
  void namespaceSelectorFollowsNamespacesAsTheyAreLabelledUnlabelledAndDeleted() {
    String team = "t" + UUID.randomUUID().toString().substring(0, 6);
    String a = ns("sel-a");
    String b = ns("sel-b");
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(a)
                .addToLabels("team", team)
                .endMetadata()
                .build())
        .create();
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(b).endMetadata().build())
        .create();
    SourceOptions opts =
        Rig.options()
            .withSources(Set.of("checkov"))
            .withNamespaceSelector("team in (" + team + ")");
    try (Rig rig = new Rig(dir, client, opts)) {
      rig.manager.start();
      awaitSynced(rig);
      String id = "checkov:v1/configmaps";
      assertThat(rig.manager.watchedNamespaces(id)).containsExactly(a);
      String inA =
          client
              .configMaps()
              .inNamespace(a)
              .resource(configMap(a, "scan", Map.of("app", "checkov"), checkov(a)))
              .create()
              .getMetadata()
              .getUid();
      String inB =
          client
              .configMaps()
              .inNamespace(b)
              .resource(configMap(b, "scan", Map.of("app", "checkov"), checkov(b)))
              .create()
              .getMetadata()
              .getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(inA).size() == 4);
      assertThat(rig.byOrigin(inB)).isEmpty();

      // b labelled later: its existing ConfigMap is picked up.
      client
          .namespaces()
          .withName(b)
          .edit(
              n ->
                  new NamespaceBuilder(n)
                      .editMetadata()
                      .addToLabels("team", team)
                      .endMetadata()
                      .build());
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(inB).size() == 4);
      assertThat(rig.manager.watchedNamespaces(id)).containsExactlyInAnyOrder(a, b);

      // a unlabelled: no longer watched (its Observations stay as they are).
      client
          .namespaces()
          .withName(a)
          .edit(
              n ->
                  new NamespaceBuilder(n)
                      .editMetadata()
                      .removeFromLabels("team")
                      .endMetadata()
                      .build());
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> rig.manager.watchedNamespaces(id).equals(Set.of(b)));
      String lateInA =
          client
              .configMaps()
              .inNamespace(a)
              .resource(configMap(a, "scan-2", Map.of("app", "checkov"), checkov(a + "-2")))
              .create()
              .getMetadata()
              .getUid();
      await()
          .during(Duration.ofMillis(700))
          .atMost(Duration.ofSeconds(3))
          .until(() -> rig.byOrigin(lateInA).isEmpty());
      assertThat(rig.unresolved(inA)).hasSize(4);

      // b deleted: no longer watched.
      client.namespaces().withName(b).delete();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> rig.manager.watchedNamespaces(id).isEmpty());
      assertThat(rig.manager.status()).containsEntry(id, "synced");
    }
  }
}
