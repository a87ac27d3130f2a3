package io.kubezen.watcher.kube.leader;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Leader election on the real API server (the coordination.k8s.io/v1 Lease stand-in CRD). */
class LeaseElectorApiServerTest {
  static final Duration LEASE = Duration.ofSeconds(2);
  static final Duration RENEW = Duration.ofMillis(1500);
  static final Duration RETRY = Duration.ofMillis(300);

  @Test
  void exactlyOneLeaderAndAGracefulReleaseIsTakenAtOnce() throws Exception {
    try (ElectionRig rig = new ElectionRig(LEASE, RENEW, RETRY)) {
      rig.add("a");
      rig.add("b");
      rig.add("c");
      ElectionRig.Replica leader = rig.awaitLeader(Duration.ofSeconds(5));
      assertThat(leader).isNotNull();
      Thread.sleep(RETRY.toMillis() * 4); // several renews and follower ticks
      assertThat(rig.replicas.stream().filter(r -> r.elector.isLeader()).count()).isEqualTo(1);
      Lease lease =
          KubeApiServer.client().leases().inNamespace(rig.namespace).withName(rig.lease).get();
      assertThat(lease.getSpec().getHolderIdentity()).isEqualTo(leader.identity);
      assertThat(lease.getSpec().getLeaseDurationSeconds()).isEqualTo(2);

      long t0 = System.nanoTime();
      leader.elector.close(Duration.ofSeconds(5));
      ElectionRig.Replica next = rig.awaitOtherLeader(leader, Duration.ofSeconds(5));
      long handoffMillis = (System.nanoTime() - t0) / 1_000_000;
      System.out.println(
          "graceful handoff: " + handoffMillis + " ms (failover " + next.lastFailover + ")");
      assertThat(next).isNotNull();
      assertThat(handoffMillis).isLessThan(3000);
      assertThat(leader.lastStopReason).isEqualTo("shutdown");
      assertThat(leader.stoppedNanos).isLessThan(next.startedNanos);
      assertThat(leader.elector.transitions()).isEqualTo(2);
      assertThat(next.elector.transitions()).isEqualTo(1);
      assertThat(next.lastFailover).isNotNull().isLessThan(Duration.ofSeconds(3));
      assertThat(rig.overlaps).isEmpty();
      Lease after =
          KubeApiServer.client().leases().inNamespace(rig.namespace).withName(rig.lease).get();
      assertThat(after.getSpec().getHolderIdentity()).isEqualTo(next.identity);
      assertThat(after.getSpec().getLeaseTransitions()).isGreaterThanOrEqualTo(1);
    }
  }

  @Test
  void aLeaderCutFromTheApiStopsWithinTheRenewDeadlineBeforeAnotherTakesOver() throws Exception {
    try (ElectionRig rig = new ElectionRig(LEASE, RENEW, RETRY)) {
      ElectionRig.Replica a = rig.add("a");
      ElectionRig.Replica leader = rig.awaitLeader(Duration.ofSeconds(5));
      assertThat(leader).isSameAs(a);
      ElectionRig.Replica b = rig.add("b");
      Thread.sleep(RETRY.toMillis() * 3);
      assertThat(b.elector.isLeader()).isFalse();

      long cut = System.nanoTime();
      a.client
          .close(); // every request of a fails from now on: as a crash, or a network partition, for
      // b
      ElectionRig.Replica next = rig.awaitOtherLeader(a, LEASE.plus(RETRY).multipliedBy(2));
      assertThat(next).isSameAs(b);
      long stopMillis = (a.stoppedNanos - cut) / 1_000_000;
      long takeoverMillis = (b.startedNanos - cut) / 1_000_000;
      System.out.println(
          "cut: leader stopped after "
              + stopMillis
              + " ms, follower took over after "
              + takeoverMillis
              + " ms");
      assertThat(a.stoppedNanos).as("the cut leader stopped").isPositive();
      assertThat(a.lastStopReason).startsWith("renew deadline passed");
      assertThat(stopMillis)
          .isLessThanOrEqualTo(RENEW.plus(a.elector.config().stopBudget()).toMillis() + 100);
      assertThat(a.stoppedNanos).as("stopped before the other started").isLessThan(b.startedNanos);
      assertThat(takeoverMillis).isLessThanOrEqualTo(LEASE.plus(RETRY).toMillis() + 500);
      assertThat(a.elector.isLeader()).isFalse();
      assertThat(a.elector.transitions()).isEqualTo(2);
      assertThat(rig.overlaps).isEmpty();
    }
  }

  @Test
  void aDeletedLeaseIsRecreatedByOneReplica() throws Exception {
    try (ElectionRig rig = new ElectionRig(LEASE, RENEW, RETRY)) {
      rig.add("a");
      rig.add("b");
      ElectionRig.Replica leader = rig.awaitLeader(Duration.ofSeconds(5));
      assertThat(leader).isNotNull();
      KubeApiServer.client().leases().inNamespace(rig.namespace).withName(rig.lease).delete();
      Thread.sleep(LEASE.plus(RETRY).toMillis() * 2);
      ElectionRig.Replica now = rig.awaitLeader(Duration.ofSeconds(5));
      assertThat(now).isNotNull();
      assertThat(rig.replicas.stream().filter(r -> r.elector.isLeader()).count()).isEqualTo(1);
      assertThat(
              KubeApiServer.client()
                  .leases()
                  .inNamespace(rig.namespace)
                  .withName(rig.lease)
                  .get()
                  .getSpec()
                  .getHolderIdentity())
          .isEqualTo(now.identity);
      assertThat(rig.overlaps).isEmpty();
    }
  }

  @Test
  void configRejectsDurationsOutOfOrder() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                new ElectionConfig(
                    "ns",
                    "l",
                    "a",
                    Duration.ofSeconds(10),
                    Duration.ofSeconds(10),
                    Duration.ofSeconds(2)))
        .hasMessageContaining("leaseDuration");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                new ElectionConfig(
                    "ns",
                    "l",
                    "a",
                    Duration.ofSeconds(15),
                    Duration.ofSeconds(2),
                    Duration.ofSeconds(2)))
        .hasMessageContaining("renewDeadline");
    assertThat(
            new ElectionConfig(
                    "ns",
                    "l",
                    "a",
                    Duration.ofSeconds(15),
                    Duration.ofSeconds(10),
                    Duration.ofSeconds(2))
                .stopBudget())
        .isEqualTo(Duration.ofMillis(2500));
    assertThat(LeaseElector.seconds(Duration.ofMillis(1500))).isEqualTo(2);
  }
}
