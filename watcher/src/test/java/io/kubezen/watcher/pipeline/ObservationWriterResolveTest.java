package io.kubezen.watcher.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceKind;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resolving the Observations of a watched object through the writer ({@link
 * ObservationWriter#resolveOrigin}), on SQLite.
 */
class ObservationWriterResolveTest {
  static final Normalizer REPORTS =
      new Normalizer() {
        @Override
        public String source() {
          return "trivy";
        }

        @Override
        public SourceKind kind() {
          return SourceKind.STATE;
        }

        @Override
        public List<Finding> normalize(JsonNode input, IngestContext context) {
          throw new UnsupportedOperationException();
        }
      };

  @TempDir Path tmp;
  SqliteObservationStore store;
  ObservationWriter writer;
  Pipeline pipeline;

  @BeforeEach
  void open() {
    store = SqliteObservationStore.open(tmp.resolve("obs.db"), Clock.systemUTC());
    Metrics metrics = Metrics.prometheus(Sources.standard().builtInNames());
    Deduplicator dedup = new Deduplicator(1000, Duration.ofMinutes(10));
    writer = new ObservationWriter(store, dedup, metrics, 100, 10, Duration.ofMillis(50)).start();
    pipeline =
        new Pipeline(
            () -> Filter.ALLOW_ALL,
            new ObservationFactory("zen", 3600, Duration.ofMinutes(10), null),
            dedup,
            writer,
            metrics);
  }

  @AfterEach
  void close() {
    writer.close();
    store.close();
  }

  static Finding cve(String id) {
    return new Finding(
        "trivy",
        Category.SECURITY,
        Severity.HIGH,
        "vulnerability",
        ResourceRef.of("apps/v1", "Deployment", "shop", "web"),
        id,
        Map.of(),
        Instant.parse("2026-12-01T10:00:00Z"),
        List.of("uid-1", id));
  }

  List<Observation> open(String uid) {
    return store.listByOrigin(uid).stream()
        .filter(o -> o.getStatus() == null || !Boolean.TRUE.equals(o.getStatus().resolved()))
        .toList();
  }

  @Test
  void resolvesTheOpenObservationsOfAnOriginNotKept() throws Exception {
    Pipeline.ReconcileResult r =
        pipeline
            .reconcile(REPORTS, List.of(cve("CVE-1"), cve("CVE-2"), cve("CVE-3")), "uid-1")
            .get(10, TimeUnit.SECONDS);
    assertThat(r.created()).isEqualTo(3);
    pipeline.reconcile(REPORTS, List.of(cve("CVE-9")), "uid-2").get(10, TimeUnit.SECONDS);
    ObservationKey kept = r.current().get(0);

    assertThat(
            pipeline.resolveOrigin("uid-1", Set.of(kept), Instant.now()).get(10, TimeUnit.SECONDS))
        .isEqualTo(2);
    assertThat(open("uid-1"))
        .extracting(o -> o.getMetadata().getName())
        .containsExactly(kept.name());
    assertThat(open("uid-2")).hasSize(1); // another origin: untouched
    assertThat(pipeline.openKeys("uid-1")).containsExactly(kept);

    // again: nothing left to resolve
    assertThat(
            pipeline.resolveOrigin("uid-1", Set.of(kept), Instant.now()).get(10, TimeUnit.SECONDS))
        .isZero();
    // the object deleted: everything resolved
    assertThat(pipeline.resolveOrigin("uid-1", Set.of(), Instant.now()).get(10, TimeUnit.SECONDS))
        .isEqualTo(1);
    assertThat(open("uid-1")).isEmpty();
  }

  @Test
  void aResolveQueuedAfterCreatesSeesThem() throws Exception {
    // queued back to back: the writer thread runs the creates first, then the resolve
    var created = pipeline.reconcile(REPORTS, List.of(cve("CVE-1"), cve("CVE-2")), "uid-1");
    var resolved = pipeline.resolveOrigin("uid-1", Set.of(), Instant.now());
    assertThat(created.get(10, TimeUnit.SECONDS).created()).isEqualTo(2);
    assertThat(resolved.get(10, TimeUnit.SECONDS)).isEqualTo(2);
    assertThat(open("uid-1")).isEmpty();
  }

  @Test
  void aClosedWriterRefusesAResolve() {
    writer.close();
    assertThatThrownBy(() -> pipeline.resolveOrigin("uid-1", Set.of(), Instant.now()))
        .isInstanceOf(ObservationWriter.OverloadedException.class);
  }
}
