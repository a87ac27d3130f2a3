package io.kubezen.watcher.kube.leader;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Several electors on one Lease of the real API server, each with its own client, recording when
 * each started and stopped leading, and any moment two led at once.
 */
final class ElectionRig implements AutoCloseable {
  /**
   * One replica: its elector, its client (closing it cuts its API access) and its leadership
   * intervals.
   */
  final class Replica implements LeaseElector.Listener {
    final String identity;
    final KubernetesClient client;
    final LeaseElector elector;
    volatile long startedNanos = -1;
    volatile long stoppedNanos = -1;
    volatile Duration lastFailover;
    volatile String lastStopReason;

    Replica(String identity) {
      this.identity = identity;
      this.client = new KubernetesClientBuilder().withConfig(KubeApiServer.config()).build();
      this.elector =
          new LeaseElector(
              client,
              new ElectionConfig(
                  namespace, lease, identity, leaseDuration, renewDeadline, retryPeriod),
              Clock.systemUTC(),
              this);
    }

    @Override
    public void startLeading(Duration failover) {
      if (!current.compareAndSet(null, identity)) {
        overlaps.add(identity + " started while " + current.get() + " led");
      }
      lastFailover = failover;
      startedNanos = System.nanoTime();
      events.add(identity + " started");
    }

    @Override
    public void stopLeading(String reason, Duration budget) {
      stoppedNanos = System.nanoTime();
      lastStopReason = reason;
      current.compareAndSet(identity, null);
      events.add(identity + " stopped: " + reason);
    }
  }

  final String namespace = KubeApiServer.uniqueNamespace("lease");
  final String lease = "zen-watcher-leader-election";
  final Duration leaseDuration;
  final Duration renewDeadline;
  final Duration retryPeriod;
  final AtomicReference<String> current = new AtomicReference<>();
  final List<String> overlaps = new CopyOnWriteArrayList<>();
  final List<String> events = new CopyOnWriteArrayList<>();
  final List<Replica> replicas = new ArrayList<>();

  ElectionRig(Duration leaseDuration, Duration renewDeadline, Duration retryPeriod) {
    this.leaseDuration = leaseDuration;
    this.renewDeadline = renewDeadline;
    this.retryPeriod = retryPeriod;
  }

  Replica add(String identity) {
    Replica r = new Replica(identity);
    replicas.add(r);
    r.elector.start();
    return r;
  }

  /** The one replica leading now, waiting up to {@code timeout}; null if none. */
  Replica awaitLeader(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      for (Replica r : replicas) {
        if (r.elector.isLeader() && r.identity.equals(current.get())) {
          return r;
        }
      }
      Thread.sleep(5);
    }
    return null;
  }

  /**
   * The replica other than {@code not} leading now, waiting up to {@code timeout}; null if none.
   */
  Replica awaitOtherLeader(Replica not, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      for (Replica r : replicas) {
        if (r != not && r.elector.isLeader() && r.identity.equals(current.get())) {
          return r;
        }
      }
      Thread.sleep(2);
    }
    return null;
  }

  @Override
  public void close() {
    for (Replica r : replicas) {
      r.elector.close(Duration.ofSeconds(2));
      r.client.close();
    }
  }
}
