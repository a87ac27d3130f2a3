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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
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

  static GenericKubernetesResource copy(GenericKubernetesResource o) {
    return Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
  }

  static int stored(SqliteObservationStore store, int reports) {
    int n = 0;
    for (int i = 0; i < reports; i++) {
      n += store.listByOrigin("uid-" + i).size();
    }
    return n;
  }

  @Test
  void reportsThatDoNotFitTheWriteQueueWaitWithoutTheirBodiesAndAreReadAgainOnce() {
    Clock clock = Clock.systemUTC();
    try (SqliteObservationStore store = SqliteObservationStore.open(dir.resolve("o.db"), clock)) {
      Metrics metrics = Metrics.prometheus(Sources.standard().builtInNames());
      Deduplicator dedup = new Deduplicator(1000, Duration.ofMinutes(10));
      // Room for four reports of five vulnerabilities; not started yet, so nothing drains.
      ObservationWriter writer =
          new ObservationWriter(store, dedup, metrics, 20, 100, Duration.ofMillis(50));
      ObservationFactory factory =
          new ObservationFactory("zen-system", 7 * 24 * 3600, Duration.ofMinutes(10), null);
      Pipeline pipeline = new Pipeline(() -> Filter.ALLOW_ALL, factory, dedup, writer, metrics);

      // What a GET returns: a fresh copy of the stored object.
      Map<String, GenericKubernetesResource> server = new ConcurrentHashMap<>();
      AtomicInteger reads = new AtomicInteger();
      OriginReconciler.Reader reader =
          (source, ns, name) -> {
            reads.incrementAndGet();
            GenericKubernetesResource stored = server.get(ns + "/" + name);
            return stored == null ? null : copy(stored);
          };
      OriginReconciler rec = new OriginReconciler(pipeline, clock, 2, null, reader);
      try {
        List<WeakReference<GenericKubernetesResource>> handed = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          GenericKubernetesResource r =
              SourceManagerApiServerTest.vulnerabilityReport("shop", "report-" + i, 0, 1, 2, 3, 4);
          r.getMetadata().setUid("uid-" + i);
          r.getMetadata().getLabels().put("trivy-operator.resource.name", "app-" + i);
          server.put("shop/report-" + i, copy(r));
          rec.upserted(TRIVY, r);
          handed.add(new WeakReference<>(r));
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
        await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> stored(store, 10) == 50 && rec.pending() == 0);
        // Each waiting report read once, each finding stored once.
        assertThat(reads).hasValue(6);
        assertThat(rec.parked()).isZero();
        for (int i = 0; i < 10; i++) {
          List<Observation> ofReport = store.listByOrigin("uid-" + i);
          assertThat(ofReport).hasSize(5);
          assertThat(ofReport).allSatisfy(o -> assertThat(o.getStatus().count()).isEqualTo(1L));
        }
      } finally {
        rec.close(Duration.ofSeconds(5));
        writer.close(Duration.ofSeconds(5));
      }
    }
  }

  @Test
  void aReportDeletedWhileWaitingIsNotWrittenAndClosingReleasesTheRest() throws Exception {
    Clock clock = Clock.systemUTC();
    try (SqliteObservationStore store = SqliteObservationStore.open(dir.resolve("o.db"), clock)) {
      Metrics metrics = Metrics.prometheus(Sources.standard().builtInNames());
      Deduplicator dedup = new Deduplicator(1000, Duration.ofMinutes(10));
      ObservationWriter writer =
          new ObservationWriter(store, dedup, metrics, 5, 100, Duration.ofMillis(50));
      ObservationFactory factory =
          new ObservationFactory("zen-system", 7 * 24 * 3600, Duration.ofMinutes(10), null);
      Pipeline pipeline = new Pipeline(() -> Filter.ALLOW_ALL, factory, dedup, writer, metrics);
      Map<String, GenericKubernetesResource> server = new ConcurrentHashMap<>();
      OriginReconciler.Reader reader =
          (source, ns, name) -> {
            GenericKubernetesResource stored = server.get(ns + "/" + name);
            return stored == null ? null : copy(stored);
          };
      OriginReconciler rec = new OriginReconciler(pipeline, clock, 2, null, reader);
      var futures = new ArrayList<java.util.concurrent.CompletableFuture<Void>>();
      for (int i = 0; i < 3; i++) {
        GenericKubernetesResource r =
            SourceManagerApiServerTest.vulnerabilityReport("shop", "report-" + i, 0, 1, 2, 3, 4);
        r.getMetadata().setUid("uid-" + i);
        r.getMetadata().getLabels().put("trivy-operator.resource.name", "app-" + i);
        server.put("shop/report-" + i, copy(r));
        futures.add(rec.upserted(TRIVY, r));
      }
      assertThat(rec.parked()).isEqualTo(2);
      server.remove("shop/report-1"); // deleted while it waited

      writer.start();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> futures.stream().allMatch(f -> f.isDone()));
      assertThat(futures).allSatisfy(f -> assertThat(f).isCompleted()); // none failed
      assertThat(store.listByOrigin("uid-0")).hasSize(5);
      assertThat(store.listByOrigin("uid-1")).isEmpty(); // gone: nothing written
      assertThat(store.listByOrigin("uid-2")).hasSize(5);

      // One that cannot be queued (the writer closed), then the reconciler halted (no longer
      // leading): it completes at once as not stored, for the next leader to reconcile.
      writer.close(Duration.ofSeconds(5));
      GenericKubernetesResource late =
          SourceManagerApiServerTest.vulnerabilityReport("shop", "late", 0);
      late.getMetadata().setUid("uid-late");
      var f = rec.upserted(TRIVY, late);
      assertThat(rec.parked()).isEqualTo(1);
      rec.halt();
      assertThat(f).isCompletedExceptionally();
      assertThat(rec.parked()).isZero();
      rec.close(Duration.ofSeconds(5));
    }
  }
}
