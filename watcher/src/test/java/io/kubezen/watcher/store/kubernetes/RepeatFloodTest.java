package io.kubezen.watcher.store.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.testing.KubeApiServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A flood of repeats of one finding through Deduplicator + ObservationWriter + the kubernetes store
 * costs one create and at most one status write per flush interval, whatever the number of repeats.
 */
class RepeatFloodTest {
  @Test
  void tenThousandRepeatsCostOneWritePerFlushInterval() throws Exception {
    KubeApiServer.applyZenCrds();
    String ns = KubeApiServer.uniqueNamespace("flood");
    KubeFixtures.Counting counting = new KubeFixtures.Counting();
    int sightings = 10_000;
    Duration flush = Duration.ofMillis(250);
    Deduplicator dedup = new Deduplicator(10_000, Duration.ofMinutes(10));
    Metrics metrics = Metrics.over(new SimpleMeterRegistry(), Set.of("falco"));
    long start;
    long elapsedNanos;
    try (KubernetesClient client = KubeFixtures.countingClient(counting);
        KubernetesObservationStore store = KubeFixtures.store(client, KubeFixtures.fast())) {
      ObservationWriter writer =
          new ObservationWriter(store, dedup, metrics, 10_000, 500, flush).start();
      Observation first = KubeFixtures.obs(ns, "falco-flood");
      Instant t0 = Instant.parse(KubeFixtures.DETECTED);
      start = System.nanoTime();
      for (int i = 0; i < sightings; i++) {
        Deduplicator.Admission a = dedup.admit("fp-flood", ns, "falco-flood", t0.plusMillis(i));
        if (a instanceof Deduplicator.First f) {
          ObservationWriter.Create c = ObservationWriter.Create.of(first);
          c.result()
              .whenComplete(
                  (o, e) -> {
                    if (e == null) {
                      dedup.stored(f.entry());
                    } else {
                      dedup.failed("fp-flood", f.entry(), e);
                    }
                  });
          writer.submit(List.of(c));
        }
        if (i % 1000 == 999) {
          Thread.sleep(200); // spread the flood over about ten flush intervals
        }
      }
      writer.close(Duration.ofSeconds(20));
      elapsedNanos = System.nanoTime() - start;
      Observation stored =
          client.resources(Observation.class).inNamespace(ns).withName("falco-flood").get();
      assertThat(stored.getStatus().count()).isEqualTo(sightings);
      assertThat(stored.getStatus().lastSeen()).isEqualTo(t0.plusMillis(sightings - 1).toString());
    }
    long intervals = elapsedNanos / flush.toNanos() + 1;
    long writes = counting.writes();
    System.out.printf(
        "repeat flood: %d sightings of one finding, %d API writes (%d creates, %d status updates)"
            + " over %d ms = %d flush intervals of %d ms%n",
        sightings,
        writes,
        counting.count("POST"),
        counting.count("PUT"),
        elapsedNanos / 1_000_000,
        intervals,
        flush.toMillis());
    assertThat(counting.count("POST")).isEqualTo(1);
    assertThat(writes).isLessThanOrEqualTo(1 + intervals + 1);
  }
}
