package io.kubezen.watcher.kube.leader;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Handoff times against the real API server, for bench/HA.md. Not part of the default test run (the
 * class name does not end in Test); run it with {@code ./mvnw -B -o -q -pl watcher test
 * -Dtest=LeaseHandoffBench -Dsurefire.failIfNoSpecifiedTests=false} (ZW_IT_KUBECONFIG for a running
 * kube-apiext, else one is started). {@code -Dbench.runs=N} sets the runs per case (default 10).
 *
 * <ul>
 *   <li>graceful: the leader leaves (stops its work, releases the Lease); measured from the call to
 *       the follower starting its leader work.
 *   <li>crash: every request of the leader fails from one instant on (its client is closed: for the
 *       follower the same as SIGKILL or a partition); measured from that instant to the follower
 *       starting its leader work.
 * </ul>
 */
class LeaseHandoffBench {
  static final int RUNS = Integer.getInteger("bench.runs", 10);

  @Test
  void handoffs() throws Exception {
    StringBuilder table =
        new StringBuilder(
            "| lease/renew/retry | handoff | runs | p50 ms | max ms | min ms |\n"
                + "|---|---|---|---|---|---|\n");
    for (Duration[] d :
        new Duration[][] {
          {Duration.ofSeconds(4), Duration.ofSeconds(3), Duration.ofSeconds(1)},
          {Duration.ofSeconds(15), Duration.ofSeconds(10), Duration.ofSeconds(2)}
        }) {
      String label = d[0].toSeconds() + "/" + d[1].toSeconds() + "/" + d[2].toSeconds();
      List<Long> graceful = new ArrayList<>();
      List<Long> crash = new ArrayList<>();
      for (int i = 0; i < RUNS; i++) {
        graceful.add(once(d, false));
        crash.add(once(d, true));
        System.out.println(
            label
                + " run "
                + (i + 1)
                + ": graceful "
                + graceful.get(i)
                + " ms, crash "
                + crash.get(i)
                + " ms");
      }
      table.append(row(label, "graceful", graceful)).append(row(label, "crash", crash));
      assertThat(Collections.max(crash)).isLessThanOrEqualTo(d[0].plus(d[2]).toMillis() + 500);
    }
    System.out.println(table);
  }

  private static String row(String label, String kind, List<Long> ms) {
    List<Long> sorted = new ArrayList<>(ms);
    Collections.sort(sorted);
    long p50 = sorted.get((sorted.size() - 1) / 2);
    return "| "
        + label
        + " | "
        + kind
        + " | "
        + sorted.size()
        + " | "
        + p50
        + " | "
        + sorted.get(sorted.size() - 1)
        + " | "
        + sorted.get(0)
        + " |\n";
  }

  /** One handoff between two fresh replicas on a fresh Lease; milliseconds. */
  private static long once(Duration[] d, boolean crash) throws Exception {
    try (ElectionRig rig = new ElectionRig(d[0], d[1], d[2])) {
      ElectionRig.Replica a = rig.add("a");
      assertThat(rig.awaitLeader(Duration.ofSeconds(10))).isSameAs(a);
      ElectionRig.Replica b = rig.add("b");
      // Let b see a few renews, as a follower that has been running a while.
      Thread.sleep(d[2].toMillis() * 2 + (long) (Math.random() * d[2].toMillis()));
      long t0 = System.nanoTime();
      if (crash) {
        a.client.close();
      } else {
        a.elector.close(Duration.ofSeconds(5));
      }
      ElectionRig.Replica next = rig.awaitOtherLeader(a, d[0].multipliedBy(3));
      assertThat(next).isSameAs(b);
      assertThat(rig.overlaps).isEmpty();
      return (b.startedNanos - t0) / 1_000_000;
    }
  }
}
