package io.kubezen.watcher.store.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.RankedGroup;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The console reads of the kubernetes store over an Observation cache of {@code bench.n} (100k)
 * entries, in memory (no API server: the reads never call it), and the heap an entry costs. Not
 * part of the default test run (the name does not end in Test); run it with {@code ./mvnw -B -o -pl
 * watcher test -Dtest=ConsoleReadsBenchmark -Dsurefire.failIfNoSpecifiedTests=false}. Prints its
 * numbers; asserts only that the answers are sane, not times.
 */
class ConsoleReadsBenchmark {
  static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
  static final String[] SOURCES = {
    "trivy", "falco", "kyverno", "kube-bench", "checkov", "webhook-a"
  };

  static Observation obs(int i, boolean console) {
    Severity sev = Severity.values()[i % 5];
    String source = SOURCES[i % SOURCES.length];
    String resNs = "team-" + (i % 40);
    Map<String, Object> details =
        switch (source) {
          case "trivy" ->
              Map.of(
                  "vulnerabilityID",
                  "CVE-2024-" + (1000 + i % 9000),
                  "primaryLink",
                  "https://example.invalid/cve/" + i,
                  "installedVersion",
                  "1.2." + (i % 10));
          case "falco" -> Map.of("rule", "Terminal shell in container", "priority", "Warning");
          default -> Map.of("message", "something happened " + i);
        };
    ObservationSpec spec =
        new ObservationSpec(
            source,
            Category.SECURITY,
            sev,
            "type_" + source.replace('-', '_'),
            ResourceRef.of(
                "v1", i % 3 == 0 ? "Pod" : "Deployment", resNs, "app-" + (i % 2000) + "-7d4b9c"),
            console
                ? "Finding number " + i + " in " + source + ": a title of a usual length"
                : null,
            console ? details : null,
            T0.minusSeconds(i).toString(),
            "0".repeat(64),
            604800L,
            null);
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("zen-system")
            .withName(source + "-" + Integer.toHexString(0x10000000 + i))
            .withResourceVersion(Integer.toString(1000 + i))
            .withCreationTimestamp(T0.minusSeconds(i).toString())
            .build());
    o.setSpec(spec);
    String first = T0.minusSeconds(86400 * 7 - (i % (86400 * 7))).toString();
    String last = T0.minusSeconds(i % 86400).toString();
    o.setStatus(
        new ObservationStatus(
            1L + i % 17,
            first,
            last,
            i % 11 == 0 ? true : null,
            i % 11 == 0 ? T0.minusSeconds(i % 3600).toString() : null));
    return o;
  }

  static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 4; i++) {
      System.gc();
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return rt.totalMemory() - rt.freeMemory();
  }

  /** Bytes per entry of a cache of n Observations (the Observations themselves are dropped). */
  static double bytesPerEntry(int n, boolean console) {
    long before = usedHeap();
    ObservationCache cache = new ObservationCache();
    for (int i = 0; i < n; i++) {
      cache.written(obs(i, console));
    }
    long after = usedHeap();
    assertThat(cache.size()).isEqualTo(n);
    return (after - before) / (double) n;
  }

  static double medianMillis(int rounds, Supplier<?> read) {
    for (int i = 0; i < 3; i++) {
      read.get();
    }
    double[] ms = new double[rounds];
    for (int i = 0; i < rounds; i++) {
      long t = System.nanoTime();
      read.get();
      ms[i] = (System.nanoTime() - t) / 1e6;
    }
    Arrays.sort(ms);
    return ms[rounds / 2];
  }

  @Test
  void consoleReadsOverTheCache() {
    int n = Integer.getInteger("bench.n", 100_000);
    int rounds = Integer.getInteger("bench.rounds", 15);
    double without = bytesPerEntry(n, false);
    double with = bytesPerEntry(n, true);
    System.out.printf(
        "cache entry: %.0f bytes without title/details (what the entry held before), %.0f bytes"
            + " with a %d-char title and details (title + search text kept)%n",
        without, with, obs(1, true).getSpec().title().length());

    ObservationCache cache = new ObservationCache();
    for (int i = 0; i < n; i++) {
      cache.written(obs(i, true));
    }
    List<ObservationCache.Entry> snapshot = new ArrayList<>(cache.entries());
    Iterable<ObservationCache.Entry> entries = cache.entries();
    List<String> lines = new ArrayList<>();
    for (FindingSort sort : FindingSort.values()) {
      FindingsQuery q = FindingsQuery.first(FindingFilter.OPEN, sort, 50);
      lines.add(
          String.format(
              "findings open, sort %s, 50 rows: %.1f ms",
              sort.wire(),
              medianMillis(
                  rounds,
                  () ->
                      ConsoleReads.findings(entries, q, KubernetesObservationStore::forConsole))));
    }
    ObservationPage p1 =
        ConsoleReads.findings(
            entries,
            FindingsQuery.first(FindingFilter.NONE, FindingSort.SEVERITY, 1000),
            KubernetesObservationStore::forConsole);
    FindingsQuery deep =
        new FindingsQuery(FindingFilter.NONE, FindingSort.SEVERITY, 1000, p1.continueToken());
    lines.add(
        String.format(
            "findings all, sort severity, second page of 1000 rows: %.1f ms",
            medianMillis(
                rounds,
                () ->
                    ConsoleReads.findings(entries, deep, KubernetesObservationStore::forConsole))));
    FindingsQuery text =
        FindingsQuery.first(
            new FindingFilter(
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                "cve-2024-12"),
            FindingSort.LAST_SEEN,
            50);
    assertThat(ConsoleReads.findings(entries, text, KubernetesObservationStore::forConsole).items())
        .isNotEmpty();
    lines.add(
        String.format(
            "findings free text 'cve-2024-12', 50 rows: %.1f ms",
            medianMillis(
                rounds,
                () ->
                    ConsoleReads.findings(entries, text, KubernetesObservationStore::forConsole))));
    FindingsQuery high =
        FindingsQuery.first(FindingFilter.OPEN.withSeverity("high"), FindingSort.COUNT, 50);
    lines.add(
        String.format(
            "findings severity=high, sort count, 50 rows: %.1f ms",
            medianMillis(
                rounds,
                () ->
                    ConsoleReads.findings(entries, high, KubernetesObservationStore::forConsole))));
    lines.add(
        String.format(
            "countBy source, severity: %.1f ms",
            medianMillis(
                rounds,
                () ->
                    ConsoleReads.countBy(
                        entries,
                        FindingFilter.OPEN,
                        List.of(GroupField.SOURCE, GroupField.SEVERITY)))));
    lines.add(
        String.format(
            "topByCriticalHigh resource, 10: %.1f ms",
            medianMillis(
                rounds,
                () ->
                    ConsoleReads.topByCriticalHigh(
                        entries, FindingFilter.OPEN, RankedGroup.By.RESOURCE, 10))));
    lines.add(
        String.format(
            "timeline 7 days by hour: %.1f ms",
            medianMillis(
                rounds,
                () ->
                    ConsoleReads.timeline(
                        entries,
                        FindingFilter.NONE,
                        T0.minus(Duration.ofDays(7)),
                        T0,
                        Duration.ofHours(1)))));
    lines.add(
        String.format(
            "sourceActivity: %.1f ms",
            medianMillis(rounds, () -> ConsoleReads.sourceActivity(entries, FindingFilter.NONE))));
    lines.add(String.format("summary: %.4f ms", medianMillis(rounds * 100, cache::summary)));
    System.out.println("console reads over " + n + " cache entries (median of " + rounds + "):");
    lines.forEach(l -> System.out.println("  " + l));
    assertThat(cache.summary().total()).isEqualTo(n);
    assertThat(snapshot).hasSize(n);
  }
}
