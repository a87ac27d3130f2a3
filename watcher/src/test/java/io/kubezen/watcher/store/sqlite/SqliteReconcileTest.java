package io.kubezen.watcher.store.sqlite;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.WriteOutcome;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reconcile side of the contract: create-if-absent, origin lookup, resolve and un-resolve. */
class SqliteReconcileTest {
  @TempDir Path dir;

  static Observation obs(String name, String origin) {
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace("shop")
            .withLabels(origin == null ? Map.of() : Map.of(Observation.LABEL_ORIGIN_UID, origin))
            .build());
    o.setSpec(
        new ObservationSpec(
            "trivy",
            Category.SECURITY,
            Severity.HIGH,
            "vulnerability",
            null,
            "t",
            Map.of(),
            "2026-11-22T10:00:00Z",
            "f".repeat(64),
            3600L,
            null));
    o.setStatus(ObservationStatus.seen(1, "2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z"));
    return o;
  }

  @Test
  void createIfAbsentNeverCountsTwiceAndResolutionRoundTrips() {
    try (SqliteObservationStore store =
        SqliteObservationStore.open(dir.resolve("db"), Clock.systemUTC())) {
      assertThat(
              store.createIfAbsent(
                  List.of(obs("a", "uid-1"), obs("b", "uid-1"), obs("c", "uid-2"))))
          .containsExactly(WriteOutcome.CREATED, WriteOutcome.CREATED, WriteOutcome.CREATED);
      assertThat(store.createIfAbsent(List.of(obs("a", "uid-1"), obs("b", "uid-1"))))
          .containsExactly(WriteOutcome.EXISTED, WriteOutcome.EXISTED);
      assertThat(store.get("shop", "a").orElseThrow().getStatus().count()).isEqualTo(1);

      assertThat(store.listByOrigin("uid-1"))
          .extracting(o -> o.getMetadata().getName())
          .containsExactly("a", "b");
      Instant at = Instant.parse("2026-11-22T11:00:00Z");
      assertThat(
              store.resolve(
                  List.of(new ObservationKey("shop", "b"), new ObservationKey("shop", "zz")), at))
          .containsExactly(WriteOutcome.MERGED, WriteOutcome.MISSING);
      ObservationStatus b = store.get("shop", "b").orElseThrow().getStatus();
      assertThat(b.resolved()).isTrue();
      assertThat(b.resolvedAt()).isEqualTo("2026-11-22T11:00:00Z");
      // Resolving again keeps the first resolution time.
      store.resolve(List.of(new ObservationKey("shop", "b")), at.plusSeconds(60));
      assertThat(store.get("shop", "b").orElseThrow().getStatus().resolvedAt())
          .isEqualTo("2026-11-22T11:00:00Z");
      // The finding comes back: no longer resolved, still one Observation.
      assertThat(store.createIfAbsent(List.of(obs("b", "uid-1"))))
          .containsExactly(WriteOutcome.EXISTED);
      assertThat(store.get("shop", "b").orElseThrow().getStatus().resolved()).isFalse();
      assertThat(store.listByOrigin("uid-2")).hasSize(1);
      assertThat(store.listByOrigin("nope")).isEmpty();
    }
  }
}
