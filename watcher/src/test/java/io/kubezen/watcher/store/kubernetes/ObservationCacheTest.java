package io.kubezen.watcher.store.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.SearchText;
import io.kubezen.watcher.store.StoreSummary;
import java.lang.management.ManagementFactory;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The cache's own bookkeeping: entries for the console reads, the summary counters, stale events.
 */
class ObservationCacheTest {
  static Observation obs(
      String name,
      String rv,
      String created,
      String title,
      Map<String, Object> details,
      long count,
      String first,
      String last) {
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("zen")
            .withName(name)
            .withResourceVersion(rv)
            .withCreationTimestamp(created)
            .build());
    o.setSpec(
        new ObservationSpec(
            "trivy",
            Category.SECURITY,
            Severity.HIGH,
            "vuln",
            ResourceRef.of("apps/v1", "Deployment", "shop", "web"),
            title,
            details,
            first,
            "0".repeat(64),
            3600L,
            null));
    o.setStatus(ObservationStatus.seen(count, first, last));
    return o;
  }

  /**
   * fabric8's informer lists its whole item store at the end of every list and re-list (to find
   * what went away): the handles it gets are cheap (no ObjectMeta, no Observation per entry), and
   * give the informer the key, name and resourceVersion it compares.
   */
  @Test
  void theInformersScanOfTheWholeStoreCostsAFewBytesPerEntry() {
    ObservationCache cache = new ObservationCache();
    int n = 20_000;
    for (int i = 0; i < n; i++) {
      cache.written(
          obs(
              "o" + i,
              Integer.toString(100 + i),
              "2026-12-01T00:00:00Z",
              "title " + i,
              null,
              1,
              "2026-12-01T00:00:00Z",
              "2026-12-01T00:00:00Z"));
    }
    ItemStore<CachedObservation> store = cache.itemStore(ns -> true);
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long id = Thread.currentThread().getId();
    List<CachedObservation> warm = store.values().collect(Collectors.toList());
    long before = threads.getThreadAllocatedBytes(id);
    List<CachedObservation> all = store.values().collect(Collectors.toList());
    long perEntry = (threads.getThreadAllocatedBytes(id) - before) / n;
    assertThat(all).hasSize(n).hasSameSizeAs(warm);
    // An Observation (a CustomResource) per entry was about 1 KB.
    assertThat(perEntry).isLessThan(100);
    CachedObservation one =
        all.stream().filter(o -> o.getMetadata().getName().equals("o7")).findFirst().orElseThrow();
    assertThat(store.getKey(one)).isEqualTo("zen/o7");
    assertThat(one.getMetadata().getResourceVersion()).isEqualTo("107");
    assertThat(store.get("zen/o7").getMetadata().getName()).isEqualTo("o7");
    assertThat(store.remove("zen/o7")).isNotNull();
    assertThat(cache.get("zen", "o7")).isNull();
  }

  /** The console's free-text match gives what a search of the whole text gives. */
  @Test
  void searchContainsIsTheWholeTextsContains() {
    ObservationCache cache = new ObservationCache();
    String[] titles = {
      "CVE-2 in libfoo 1.0 (Image:1, container main)",
      "Terminal SHELL",
      "Ünïcode İstanbul",
      "  ",
      null
    };
    List<Map<String, Object>> details =
        List.of(Map.of(), Map.of("vulnerabilityID", "CVE-2"), Map.of("rule", "Terminal Shell"));
    int n = 0;
    for (String title : titles) {
      for (Map<String, Object> d : details) {
        cache.written(obs("s" + n++, "1", null, title, d, 1, null, null));
      }
    }
    String[] needles = {
      "cve-2",
      "libfoo",
      "main)",
      "web",
      "b\ncve",
      "shell",
      "terminal shell",
      "ünï",
      "i̇stanbul",
      "ı",
      "x",
      ")\nweb",
      "2 in"
    };
    int matched = 0;
    for (int i = 0; i < n; i++) {
      ObservationCache.Entry e = cache.get("zen", "s" + i);
      for (String needle : needles) {
        boolean whole = e.searchText().contains(needle);
        assertThat(e.searchContains(needle))
            .as("%s in %s", needle, e.searchText())
            .isEqualTo(whole);
        matched += whole ? 1 : 0;
      }
    }
    assertThat(matched).isGreaterThan(20);
  }

  @Test
  void entriesKeepTheTitleAndOfTheSearchTextOnlyWhatItSaysMore() {
    ObservationCache cache = new ObservationCache();
    cache.written(
        obs(
            "a",
            "1",
            "2026-12-01T00:00:00Z",
            "Plain title",
            null,
            1,
            "2026-12-01T00:00:00Z",
            "2026-12-01T00:00:00Z"));
    cache.written(
        obs(
            "b",
            "1",
            "2026-12-01T00:00:00Z",
            "X".repeat(5000),
            Map.of("vulnerabilityID", "CVE-1"),
            1,
            "2026-12-01T00:00:00Z",
            "2026-12-01T00:00:00Z"));
    ObservationCache.Entry a = cache.get("zen", "a");
    assertThat(a.title()).isEqualTo("Plain title");
    assertThat(a.search()).isNull(); // derived from title and resource name
    assertThat(a.searchText())
        .isEqualTo(
            SearchText.of(obs("a", "1", null, "Plain title", null, 1, null, null).getSpec()));
    cache.written(
        obs(
            "c",
            "1",
            "2026-12-01T00:00:00Z",
            "CVE-2 in libfoo 1.0 (Image:1, container main)",
            Map.of("vulnerabilityID", "CVE-2"),
            1,
            "2026-12-01T00:00:00Z",
            "2026-12-01T00:00:00Z"));
    ObservationCache.Entry c = cache.get("zen", "c");
    // kept: only what follows the title and resource name
    assertThat(c.search()).isEqualTo("cve-2");
    assertThat(c.searchText())
        .isEqualTo(
            SearchText.of(
                obs(
                        "c",
                        "1",
                        null,
                        "CVE-2 in libfoo 1.0 (Image:1, container main)",
                        Map.of("vulnerabilityID", "CVE-2"),
                        1,
                        null,
                        null)
                    .getSpec()));
    ObservationCache.Entry b = cache.get("zen", "b");
    assertThat(b.title()).hasSize(ObservationCache.TITLE_MAX);
    assertThat(b.searchText()).hasSize(ObservationCache.SEARCH_MAX).startsWith("xxx");
    assertThat(a.lastSeenMicros())
        .isEqualTo(Instant.parse("2026-12-01T00:00:00Z").getEpochSecond() * 1_000_000L);
  }

  @Test
  void summaryFollowsCreatesStatusWritesAndDeletes() {
    ObservationCache cache = new ObservationCache();
    assertThat(cache.summary()).isEqualTo(StoreSummary.EMPTY);
    cache.written(
        obs(
            "a",
            "1",
            "2026-12-01T00:00:00Z",
            "t",
            null,
            2,
            "2026-12-01T00:00:00Z",
            "2026-12-01T01:00:00Z"));
    cache.written(
        obs(
            "b",
            "2",
            "2026-12-01T00:00:05Z",
            "t",
            null,
            3,
            "2026-12-01T00:00:00Z",
            "2026-12-01T02:00:00Z"));
    assertThat(cache.summary())
        .isEqualTo(
            new StoreSummary(
                2,
                0,
                5,
                Instant.parse("2026-12-01T00:00:05Z"),
                Instant.parse("2026-12-01T02:00:00Z")));
    cache.statusWritten(
        "zen",
        "a",
        "3",
        new ObservationStatus(
            4L, "2026-12-01T00:00:00Z", "2026-12-01T01:30:00Z", true, "2026-12-01T03:00:00Z"));
    assertThat(cache.summary())
        .isEqualTo(
            new StoreSummary(
                2,
                1,
                7,
                Instant.parse("2026-12-01T00:00:05Z"),
                Instant.parse("2026-12-01T02:00:00Z")));
    // The newest one goes: the maxima are found again among the rest.
    cache.gone("zen", "b");
    assertThat(cache.summary())
        .isEqualTo(
            new StoreSummary(
                1,
                1,
                4,
                Instant.parse("2026-12-01T00:00:00Z"),
                Instant.parse("2026-12-01T01:30:00Z")));
    cache.gone("zen", "a");
    assertThat(cache.summary()).isEqualTo(StoreSummary.EMPTY);
  }

  @Test
  void anOlderResourceVersionDoesNotReplaceANewerEntry() {
    ObservationCache cache = new ObservationCache();
    cache.written(
        obs(
            "a",
            "12",
            "2026-12-01T00:00:00Z",
            "t",
            null,
            7,
            "2026-12-01T00:00:00Z",
            "2026-12-01T05:00:00Z"));
    cache.written(
        obs(
            "a",
            "11",
            "2026-12-01T00:00:00Z",
            "t",
            null,
            1,
            "2026-12-01T00:00:00Z",
            "2026-12-01T00:00:00Z"));
    assertThat(cache.get("zen", "a").resourceVersion()).isEqualTo("12");
    assertThat(cache.get("zen", "a").count()).isEqualTo(7);
    assertThat(cache.summary().countSum()).isEqualTo(7);
    cache.written(
        obs(
            "a",
            "13",
            "2026-12-01T00:00:00Z",
            "t",
            null,
            8,
            "2026-12-01T00:00:00Z",
            "2026-12-01T06:00:00Z"));
    assertThat(cache.get("zen", "a").count()).isEqualTo(8);
    assertThat(ObservationCache.older("9", "10")).isTrue();
    assertThat(ObservationCache.older("10", "9")).isFalse();
    assertThat(ObservationCache.older("abc", "9")).isFalse();
  }

  @Test
  void manyEntriesOfOneNamespaceAreAllKeptAndIndexed() {
    ObservationCache cache = new ObservationCache(false);
    for (int i = 0; i < 7; i++) {
      cache.written(
          obs(
              "n" + i,
              Integer.toString(10 + i),
              "2026-12-01T00:00:0" + i + "Z",
              "t",
              null,
              1,
              "2026-12-01T00:00:00Z",
              "2026-12-01T00:00:00Z"));
    }
    assertThat(cache.size()).isEqualTo(7);
    assertThat(cache.entries()).hasSize(7);
    assertThat(cache.get("zen", "n3").resourceVersion()).isEqualTo("13");
    cache.gone("zen", "n3");
    assertThat(cache.entries()).hasSize(6).noneMatch(e -> e.name().equals("n3"));
  }
}
