package io.kubezen.watcher.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.SourceKind;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ObservationFactoryTest {
  static Finding about(String namespace) {
    ResourceRef pod = namespace == null ? null : ResourceRef.of("v1", "Pod", namespace, "web-1");
    return new Finding(
        "falco",
        Category.SECURITY,
        Severity.HIGH,
        "runtime_threat",
        pod,
        "shell",
        Map.of(),
        Instant.parse("2026-11-22T10:00:00Z"),
        List.of("rule", String.valueOf(namespace)));
  }

  @Test
  void aFindingIsStoredInItsOwnNamespaceOrTheDefaultOne() {
    ObservationFactory f = new ObservationFactory("zen", 3600, Duration.ofSeconds(60), "c1");
    assertThat(f.place(about("shop"), SourceKind.EVENT).namespace()).isEqualTo("shop");
    assertThat(f.place(about(null), SourceKind.EVENT).namespace()).isEqualTo("zen");
  }

  @Test
  void withNamespacedAccessFindingsAboutOtherNamespacesGoToTheDefaultOneUnderTheSameName() {
    ObservationFactory any = new ObservationFactory("zen", 3600, Duration.ofSeconds(60), null);
    ObservationFactory scoped =
        new ObservationFactory("zen", Set.of("zen", "team-a"), 3600, Duration.ofSeconds(60), null);
    assertThat(scoped.place(about("team-a"), SourceKind.EVENT).namespace()).isEqualTo("team-a");
    ObservationFactory.Placement outside = scoped.place(about("kube-system"), SourceKind.EVENT);
    assertThat(outside.namespace()).isEqualTo("zen");
    // Same identity, same name: only where it is stored changes.
    assertThat(outside.name()).isEqualTo(any.place(about("kube-system"), SourceKind.EVENT).name());
    assertThat(outside.fingerprint())
        .isEqualTo(any.place(about("kube-system"), SourceKind.EVENT).fingerprint());
    // The Observation still says which namespace the finding is about.
    Observation o = scoped.build(about("kube-system"), outside);
    assertThat(o.getMetadata().getNamespace()).isEqualTo("zen");
    assertThat(o.getSpec().resource().namespace()).isEqualTo("kube-system");
  }

  @Test
  void anIngestersFactoryKeepsThePlacementRulesWithItsOwnWindow() {
    ObservationFactory scoped =
        new ObservationFactory("zen", Set.of("zen"), 3600, Duration.ofSeconds(60), null);
    ObservationFactory hourly = scoped.withDedupWindow(Duration.ofHours(1));
    Finding early = about("other");
    Finding later =
        new Finding(
            early.source(),
            early.category(),
            early.severity(),
            early.eventType(),
            early.resource(),
            early.title(),
            early.details(),
            early.detectedAt().plusSeconds(600),
            early.identity());
    assertThat(hourly.place(early, SourceKind.EVENT).namespace()).isEqualTo("zen");
    // 10 minutes apart: one Observation in an hour window, two in a minute window.
    assertThat(hourly.place(later, SourceKind.EVENT).name())
        .isEqualTo(hourly.place(early, SourceKind.EVENT).name());
    assertThat(scoped.place(later, SourceKind.EVENT).name())
        .isNotEqualTo(scoped.place(early, SourceKind.EVENT).name());
  }
}
