package io.kubezen.watcher.store.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.testing.KubeApiServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Unique findings written through the kubernetes store vs a bare fabric8 create loop at the same
 * concurrency, against the same API server, in the same run. Not part of the default test run (the
 * name does not end in Test); run it with {@code ./mvnw -B -o -pl watcher test
 * -Dtest=KubernetesStoreBenchmark -Dbench.n=4000 -Dbench.concurrency=16}.
 */
class KubernetesStoreBenchmark {
  @Test
  void storeVersusBareCreates() throws Exception {
    KubeApiServer.applyZenCrds();
    KubernetesClient client = KubeApiServer.client();
    int n = Integer.getInteger("bench.n", 2000);
    int concurrency = Integer.getInteger("bench.concurrency", 16);
    int rounds = Integer.getInteger("bench.rounds", 3);
    // Warm-up of both paths (connections, JIT).
    bare(client, KubeApiServer.uniqueNamespace("warm-bare"), 200, concurrency);
    viaStore(client, KubeApiServer.uniqueNamespace("warm-store"), 200, concurrency, false);
    List<Double> bareRates = new ArrayList<>();
    List<Double> storeRates = new ArrayList<>();
    List<Double> twoWriteRates = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      bareRates.add(bare(client, KubeApiServer.uniqueNamespace("bench-bare"), n, concurrency));
      storeRates.add(
          viaStore(client, KubeApiServer.uniqueNamespace("bench-store"), n, concurrency, false));
      twoWriteRates.add(
          viaStore(client, KubeApiServer.uniqueNamespace("bench-store2"), n, concurrency, true));
    }
    double bare = median(bareRates);
    double store = median(storeRates);
    System.out.printf(
        "benchmark: %d unique Observations x %d rounds, concurrency %d%n", n, rounds, concurrency);
    System.out.printf("  bare fabric8 create loop: %s /s (median %.0f)%n", bareRates, bare);
    System.out.printf(
        "  KubernetesObservationStore.createOrMerge: %s /s (median %.0f)%n", storeRates, store);
    System.out.printf("  ratio store/bare: %.2f%n", store / bare);
    System.out.printf(
        "  with a status write after each create (2 writes each): %s /s (median %.0f, ratio %.2f)%n",
        twoWriteRates, median(twoWriteRates), median(twoWriteRates) / bare);
  }

  /** Deletes what a measurement created, so that later lists of the shared server stay small. */
  private static void cleanUp(KubernetesClient client, String ns) {
    client.resources(Observation.class).inNamespace(ns).delete();
  }

  private static double bare(KubernetesClient client, String ns, int n, int concurrency)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(concurrency);
    List<Observation> items = items(ns, n);
    long start = System.nanoTime();
    List<Future<?>> fs = new ArrayList<>();
    for (Observation o : items) {
      o.setStatus(null);
      fs.add(
          pool.submit(
              () -> client.resources(Observation.class).inNamespace(ns).resource(o).create()));
    }
    for (Future<?> f : fs) {
      f.get();
    }
    double rate = n / ((System.nanoTime() - start) / 1e9);
    pool.shutdown();
    cleanUp(client, ns);
    return Math.round(rate);
  }

  /** {@code explicitStatus}: each carries count 2, which needs a status write after its create. */
  private static double viaStore(
      KubernetesClient client, String ns, int n, int concurrency, boolean explicitStatus) {
    List<Observation> items = items(ns, n);
    if (explicitStatus) {
      items.forEach(
          o -> KubeFixtures.withStatus(o, 2, KubeFixtures.DETECTED, KubeFixtures.DETECTED));
    }
    try (KubernetesObservationStore store =
        KubeFixtures.store(
            client,
            KubernetesStoreOptions.defaults()
                .withWriteRate(1_000_000, 1_000_000)
                .withMaxInFlight(concurrency))) {
      // The store counts the live Observations when it starts: not part of the write rate.
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofMinutes(2))
          .until(() -> store.liveCount() >= 0);
      long start = System.nanoTime();
      for (int i = 0; i < n; i += 500) {
        assertThat(store.createOrMerge(items.subList(i, Math.min(n, i + 500))))
            .containsOnly(WriteOutcome.CREATED);
      }
      double rate = n / ((System.nanoTime() - start) / 1e9);
      cleanUp(client, ns);
      return Math.round(rate);
    }
  }

  private static List<Observation> items(String ns, int n) {
    List<Observation> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(KubeFixtures.obs(ns, String.format("falco-%016x", (long) i * 0x9E3779B97F4A7C15L)));
    }
    return out;
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(Double::compare);
    return s.get(s.size() / 2);
  }
}
