package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.Samples;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Core v1 Events with the checkpoint, on fabric8's mock API server (CRUD mode). The mock keeps
 * resourceVersions but replays every existing object as ADDED on any watch: resuming there replays
 * the earlier Events too, which must create and count nothing twice.
 */
@EnableKubernetesMockClient(crud = true)
class EventCheckpointMockServerTest {
  static final String ID = "k8s-events:v1/events";
  static final String LEASE = "zw-events-checkpoint";
  static KubernetesClient client;

  @TempDir Path dir;

  static Event warning(String ns, String name) {
    ObjectNode pull =
        (ObjectNode) Samples.json("k8s-events/core-v1-list.json").get("items").get(8).deepCopy();
    pull.putObject("metadata").put("name", name).put("namespace", ns);
    // A distinct finding per Event: another involved object.
    ((ObjectNode) pull.get("involvedObject"))
        .put("name", "pod-" + name)
        .put("uid", UUID.randomUUID().toString());
    return client
        .v1()
        .events()
        .inNamespace(ns)
        .resource(Json.MAPPER.convertValue(pull, Event.class))
        .create();
  }

  String checkpointed(String key) {
    Lease l =
        client
            .resources(Lease.class, LeaseList.class)
            .inNamespace("zen-system")
            .withName(LEASE)
            .get();
    return l == null || l.getMetadata().getAnnotations() == null
        ? null
        : l.getMetadata().getAnnotations().get(key);
  }

  @Test
  void coreV1EventsResumeFromTheCheckpointWithoutDuplicates() {
    String ns = "events-" + UUID.randomUUID().toString().substring(0, 8);
    SourceOptions opts =
        Rig.options()
            .withSources(Set.of("k8s-events"))
            .withWatchNamespaces(List.of(ns))
            .withCheckpoint("zen-system", LEASE)
            .withCheckpointInterval(Duration.ofMillis(200));
    String key =
        EventCheckpoint.key(
            BuiltInSources.all().stream().filter(w -> w.id().equals(ID)).findFirst().orElseThrow(),
            ns);
    assertThat(key).isEqualTo("zen.kube-zen.io/rv.core.v1.events." + ns);
    try (Rig rig = new Rig(dir, client, opts)) {
      rig.manager.start();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> "synced".equals(rig.manager.status().get(ID)));
      Event e1 = warning(ns, "pull.1");
      String uid1 = e1.getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid1).size() == 1);
      await().atMost(Duration.ofSeconds(5)).until(() -> checkpointed(key) != null);
      rig.manager.stop();
      String atStop = checkpointed(key);
      assertThat(atStop).isEqualTo(e1.getMetadata().getResourceVersion());

      String uid2 = warning(ns, "pull.2").getMetadata().getUid();
      SourceManager next =
          new SourceManager(client, rig.pipeline, rig.metrics, Clock.systemUTC(), opts);
      try {
        next.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> "synced".equals(next.status().get(ID)));
        await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid2).size() == 1);
        assertThat(next.eventSources(ID).get(ns).relists()).isZero(); // resumed
        await()
            .during(Duration.ofMillis(500))
            .atMost(Duration.ofSeconds(5))
            .until(() -> rig.byOrigin(uid1).size() == 1 && rig.byOrigin(uid2).size() == 1);
        assertThat(rig.byOrigin(uid1).get(0).getStatus().count()).isEqualTo(1L);
        assertThat(rig.byOrigin(uid2).get(0).getStatus().count()).isEqualTo(1L);
      } finally {
        next.stop();
      }
      assertThat(checkpointed(key)).isNotNull().isNotEqualTo(atStop);
    }
  }
}
