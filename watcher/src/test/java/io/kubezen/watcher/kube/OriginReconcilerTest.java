package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import java.lang.ref.WeakReference;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backlog larger than the write queue (a leader's first reconcile of many reports): the reports
 * that do not fit wait without their bodies and are read again, once each, when the queue has room.
 */
class OriginReconcilerTest {
  @TempDir Path dir;

  static final WatchedSource TRIVY =
      BuiltInSources.all().stream()
          .filter(w -> w.gvr().endsWith("/vulnerabilityreports"))
          .findFirst()
          .orElseThrow();

  SqliteObservationStore store;
  ObservationWriter writer;
  OriginReconciler rec;
  // What a GET returns: a fresh copy of the object stored under namespace/name.
  final Map<String, GenericKubernetesResource> server = new ConcurrentHashMap<>();
  final AtomicInteger reads = new AtomicInteger();

  /**
   * The real pipeline over SQLite, with a write queue of {@code capacity} Observations and a writer
   * not started yet (nothing drains until the test starts it).
   */
  void setUp(int capacity) {
    Clock clock = Clock.systemUTC();
    store = SqliteObservationStore.open(dir.resolve("o.db"), clock);
    Metrics metrics = Metrics.prometheus(Sources.standard().builtInNames());
    Deduplicator dedup = new Deduplicator(1000, Duration.ofMinutes(10));
    writer = new ObservationWriter(store, dedup, metrics, capacity, 100, Duration.ofMillis(50));
    ObservationFactory factory =
        new ObservationFactory("zen-system", 7 * 24 * 3600, Duration.ofMinutes(10), null);
    Pipeline pipeline = new Pipeline(() -> Filter.ALLOW_ALL, factory, dedup, writer, metrics);
    OriginReconciler.Reader reader =
        (source, ns, name) -> {
          reads.incrementAndGet();
          GenericKubernetesResource stored = server.get(ns + "/" + name);
          return stored == null ? null : copy(stored);
        };
    rec = new OriginReconciler(pipeline, clock, 2, null, reader);
  }

  @AfterEach
  void tearDown() {
    if (rec != null) {
      rec.close(Duration.ofSeconds(5));
      writer.close(Duration.ofSeconds(5));
      store.close();
    }
  }

  /**
   * Report {@code i} (five vulnerabilities of its own workload), on the "server" and handed over.
   */
  CompletableFuture<Void> hand(int i, List<WeakReference<GenericKubernetesResource>> refs) {
    GenericKubernetesResource r =
        SourceManagerApiServerTest.vulnerabilityReport("shop", "report-" + i, 0, 1, 2, 3, 4);
    r.getMetadata().setUid("uid-" + i);
    r.getMetadata().getLabels().put("trivy-operator.resource.name", "app-" + i);
    server.put("shop/report-" + i, copy(r));
    refs.add(new WeakReference<>(r));
    return rec.upserted(TRIVY, r);
  }

  static GenericKubernetesResource copy(GenericKubernetesResource o) {
    return Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
  }

  int stored(int reports) {
    int n = 0;
    for (int i = 0; i < reports; i++) {
      n += store.listByOrigin("uid-" + i).size();
    }
    return n;
  }

  @Test
  void reportsThatDoNotFitTheWriteQueueWaitWithoutTheirBodiesAndAreReadAgainOnce() {
    setUp(20); // room for four reports of five vulnerabilities
    List<WeakReference<GenericKubernetesResource>> handed = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      hand(i, handed);
    }
    // Four fit; six wait, and nothing was read while the queue is full.
    assertThat(writer.queued()).isEqualTo(20);
    assertThat(rec.parked()).isEqualTo(6);
    assertThat(reads).hasValue(0);
    // The waiting ones are not held: a report can be megabytes, and a first reconcile has
    // thousands of them.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              System.gc();
              assertThat(handed.stream().filter(w -> w.get() == null).count())
                  .isGreaterThanOrEqualTo(6);
            });

    writer.start();
    await().atMost(Duration.ofSeconds(20)).until(() -> stored(10) == 50 && rec.pending() == 0);
    // Each waiting report read once, each finding stored once.
    assertThat(reads).hasValue(6);
    assertThat(rec.parked()).isZero();
    for (int i = 0; i < 10; i++) {
      List<Observation> ofReport = store.listByOrigin("uid-" + i);
      assertThat(ofReport).hasSize(5);
      assertThat(ofReport).allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(1L));
    }
  }

  @Test
  void aReportDeletedWhileWaitingIsNotWritten() {
    setUp(5); // room for one report
    List<WeakReference<GenericKubernetesResource>> refs = new ArrayList<>();
    List<CompletableFuture<Void>> futures = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      futures.add(hand(i, refs));
    }
    assertThat(rec.parked()).isEqualTo(2);
    server.remove("shop/report-1"); // deleted while it waited

    writer.start();
    await().atMost(Duration.ofSeconds(20)).until(() -> futures.stream().allMatch(f -> f.isDone()));
    assertThat(futures).allSatisfy(f -> assertThat(f).isCompleted()); // none failed
    assertThat(store.listByOrigin("uid-0")).hasSize(5);
    assertThat(store.listByOrigin("uid-1")).isEmpty(); // gone: nothing written
    assertThat(store.listByOrigin("uid-2")).hasSize(5);
    assertThat(reads).hasValue(2);
  }

  @Test
  void haltingCompletesTheWaitingWorkAtOnceAsNotStored() {
    setUp(5);
    List<WeakReference<GenericKubernetesResource>> refs = new ArrayList<>();
    List<CompletableFuture<Void>> futures = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      futures.add(hand(i, refs));
    }
    assertThat(rec.parked()).isEqualTo(2);
    // No longer leading: what waits is dropped at once (the next leader reconciles it), nothing
    // is read; what the writer holds is still written.
    rec.halt();
    assertThat(rec.parked()).isZero();
    assertThat(futures.get(1)).isCompletedExceptionally();
    assertThat(futures.get(2)).isCompletedExceptionally();
    assertThat(reads).hasValue(0);
    writer.start();
    await().atMost(Duration.ofSeconds(20)).until(() -> futures.get(0).isDone());
    assertThat(store.listByOrigin("uid-0")).hasSize(5);
  }
}
