package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.Samples;
import io.kubezen.watcher.testing.KubeApiServer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kubernetes Events resumed from the checkpoint, against the real API server with the
 * events.k8s.io/v1 Event stand-in: what happens while no leader runs is seen by the next one,
 * nothing twice; a compacted checkpoint re-lists.
 */
class EventCheckpointApiServerTest {
  static final ResourceDefinitionContext EVENTS =
      WatchedSource.context("events.k8s.io", "v1", "events", "Event", true);
  static final String ID = "k8s-events:events.k8s.io/v1/events";
  static final String LEASE = "zen-watcher-leader-election-events-checkpoint";

  @TempDir Path dir;

  final KubernetesClient client = KubeApiServer.client();

  GenericKubernetesResource warning(String ns, String name) {
    ObjectNode e = (ObjectNode) Samples.json("k8s-events/events-v1-single.json");
    e.putObject("metadata").put("name", name).put("namespace", ns);
    // A distinct finding per Event: the identity is the regarding object's uid, the reason and the
    // type.
    ((ObjectNode) e.get("regarding"))
        .put("name", "binding-" + name)
        .put("uid", UUID.randomUUID().toString());
    return client
        .genericKubernetesResources(EVENTS)
        .inNamespace(ns)
        .resource(Json.MAPPER.convertValue(e, GenericKubernetesResource.class))
        .create();
  }

  Lease lease(String cpNs) {
    return client.resources(Lease.class, LeaseList.class).inNamespace(cpNs).withName(LEASE).get();
  }

  String checkpointed(String cpNs, String key) {
    Lease l = lease(cpNs);
    return l == null || l.getMetadata().getAnnotations() == null
        ? null
        : l.getMetadata().getAnnotations().get(key);
  }

  static String key(String ns) {
    return EventCheckpoint.key(
        BuiltInSources.all().stream().filter(w -> w.id().equals(ID)).findFirst().orElseThrow(), ns);
  }

  /**
   * resourceVersions are opaque to the code; on this server they are etcd revisions, which tests
   * may compare.
   */
  static long revision(String rv) {
    return rv == null ? -1 : Long.parseLong(rv);
  }

  static SourceOptions options(String ns, String cpNs) {
    return Rig.options()
        .withSources(Set.of("k8s-events"))
        .withWatchNamespaces(List.of(ns))
        .withCheckpoint(cpNs, LEASE)
        .withCheckpointInterval(Duration.ofMillis(200));
  }

  /** A second replica's SourceManager over the same store and pipeline: the next leader. */
  static SourceManager nextLeader(Rig rig, SourceOptions opts) {
    return new SourceManager(
        KubeApiServer.client(), rig.pipeline, rig.metrics, Clock.systemUTC(), opts);
  }

  static void awaitSynced(SourceManager m) {
    await().atMost(Duration.ofSeconds(20)).until(() -> "synced".equals(m.status().get(ID)));
  }

  static EventSource stream(SourceManager m, String ns) {
    return m.eventSources(ID).get(ns);
  }

  @Test
  void aNewLeaderResumesFromTheCheckpointAndSeesEventsCreatedWhileNoLeaderRan() {
    String ns = KubeApiServer.uniqueNamespace("cp-events");
    String cpNs = KubeApiServer.uniqueNamespace("cp-home");
    String key = key(ns);
    assertThat(key).isEqualTo("zen.kube-zen.io/rv.events.k8s.io.v1.events." + ns);
    SourceOptions opts = options(ns, cpNs);
    try (Rig rig = new Rig(dir, client, opts)) {
      rig.manager.start();
      awaitSynced(rig.manager);
      // No checkpoint yet: the first leader lists (nothing), then watches.
      assertThat(stream(rig.manager, ns).relists()).isEqualTo(1);
      String uid1 = warning(ns, "denied.1").getMetadata().getUid();
      GenericKubernetesResource e2 = warning(ns, "denied.2");
      String uid2 = e2.getMetadata().getUid();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> rig.byOrigin(uid1).size() == 1 && rig.byOrigin(uid2).size() == 1);
      // Written while running, at most every interval: up to the last Event stored.
      long rv2 = revision(e2.getMetadata().getResourceVersion());
      await().atMost(Duration.ofSeconds(5)).until(() -> revision(checkpointed(cpNs, key)) >= rv2);

      rig.manager.stop();
      String atStop = checkpointed(cpNs, key);
      assertThat(revision(atStop)).isGreaterThanOrEqualTo(rv2);

      // No leader: one Event is created, another created and gone again (expired, say) before
      // anyone looked.
      String uid3 = warning(ns, "denied.3").getMetadata().getUid();
      String uid4 = warning(ns, "denied.4").getMetadata().getUid();
      client.genericKubernetesResources(EVENTS).inNamespace(ns).withName("denied.4").delete();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(
              () ->
                  client
                          .genericKubernetesResources(EVENTS)
                          .inNamespace(ns)
                          .withName("denied.4")
                          .get()
                      == null);

      SourceManager next = nextLeader(rig, opts);
      try {
        next.start();
        awaitSynced(next);
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> rig.byOrigin(uid3).size() == 1 && rig.byOrigin(uid4).size() == 1);
        // Resumed, not re-listed; the earlier Events were not replayed, nothing counted twice.
        assertThat(stream(next, ns).relists()).isZero();
        await()
            .during(Duration.ofMillis(500))
            .atMost(Duration.ofSeconds(5))
            .until(
                () ->
                    List.of(uid1, uid2, uid3, uid4).stream()
                        .allMatch(u -> rig.byOrigin(u).size() == 1));
        for (String u : List.of(uid1, uid2, uid3, uid4)) {
          assertThat(rig.byOrigin(u).get(0).getStatus().count()).as(u).isEqualTo(1L);
        }
      } finally {
        next.stop();
      }
      // The checkpoint moved past what the new leader stored (the deletion of denied.4 at least).
      String after = checkpointed(cpNs, key);
      assertThat(revision(after)).isGreaterThan(revision(atStop));
    }
  }

  @Test
  void aCheckpointTooOldForTheServerReListsWithoutLossOrDuplicates() {
    String ns = KubeApiServer.uniqueNamespace("cp-gone");
    String cpNs = KubeApiServer.uniqueNamespace("cp-home");
    SourceOptions opts = options(ns, cpNs);
    try (Rig rig = new Rig(dir, client, opts)) {
      rig.manager.start();
      awaitSynced(rig.manager);
      String uid1 = warning(ns, "denied.1").getMetadata().getUid();
      await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid1).size() == 1);
      rig.manager.stop();
      String key = key(ns);
      assertThat(checkpointed(cpNs, key)).isNotNull();

      // A checkpoint from long ago: resourceVersion 1 is older than anything the server still has.
      Lease l = lease(cpNs);
      Map<String, String> ann = new HashMap<>(l.getMetadata().getAnnotations());
      ann.put(key, "1");
      l.getMetadata().setAnnotations(ann);
      client.resources(Lease.class, LeaseList.class).inNamespace(cpNs).resource(l).update();
      String uid2 = warning(ns, "denied.2").getMetadata().getUid();

      SourceManager next = nextLeader(rig, opts);
      try {
        next.start();
        awaitSynced(next);
        await().atMost(Duration.ofSeconds(10)).until(() -> rig.byOrigin(uid2).size() == 1);
        // 410 Gone: re-listed everything once; the Event stored before was not created or counted
        // again.
        assertThat(stream(next, ns).relists()).isEqualTo(1);
        await()
            .during(Duration.ofMillis(500))
            .atMost(Duration.ofSeconds(5))
            .until(() -> rig.byOrigin(uid1).size() == 1 && rig.byOrigin(uid2).size() == 1);
        assertThat(rig.byOrigin(uid1).get(0).getStatus().count()).isEqualTo(1L);
        assertThat(rig.byOrigin(uid2).get(0).getStatus().count()).isEqualTo(1L);
        assertThat(
                rig.sample(
                    "zenwatcher_source_watch_restarts_total", "gvr=\"events.k8s.io/v1/events\""))
            .isGreaterThanOrEqualTo(1.0);
      } finally {
        next.stop();
      }
      assertThat(checkpointed(cpNs, key)).isNotNull().isNotEqualTo("1");
    }
  }
}
