package io.kubezen.watcher.source.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.kube.BuiltInSources;
import io.kubezen.watcher.kube.WatchedSource;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.ObjectReader;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.SourceKind;
import io.kubezen.watcher.source.WatchedResource;
import io.kubezen.watcher.source.k8saudit.AuditSource;
import io.kubezen.watcher.source.kubebench.KubeBenchSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SourcesTest {

  @Test
  void theListNamesEachBuiltInSourceOnceWithItsNormalizer() {
    assertThat(Sources.standard().builtInNames())
        .containsExactly(
            "falco", "k8s-audit", "trivy", "kyverno", "kube-bench", "checkov", "k8s-events");
    for (SourceDescriptor d : Sources.BUILT_IN) {
      assertThat(d.normalizer().source()).isEqualTo(d.name());
      assertThat(d.normalizer().kind()).isEqualTo(d.kind());
      assertThat(d.bodyFormats()).contains(BodyFormat.JSON);
      assertThat(d.docsPage()).isEqualTo("docs/sources/" + d.name() + ".md");
    }
    assertThatThrownBy(() -> new Sources(List.of(AuditSource.DESCRIPTOR, AuditSource.DESCRIPTOR)))
        .hasMessageContaining("k8s-audit is declared twice");
  }

  @Test
  void whatEachSourceDeclares() {
    Sources s = Sources.standard();
    SourceDescriptor audit = s.descriptor("k8s-audit").orElseThrow();
    assertThat(audit.kind()).isEqualTo(SourceKind.EVENT);
    assertThat(audit.bodyFormats()).containsExactly(BodyFormat.JSON, BodyFormat.NDJSON);
    assertThat(audit.jsonSequence()).isTrue();
    assertThat(audit.defaultMaxBodyBytes()).isEqualTo(8L << 20);
    assertThat(s.descriptor("falco").orElseThrow().bodyFormats()).containsExactly(BodyFormat.JSON);
    assertThat(s.descriptor("trivy").orElseThrow().bodyFormats())
        .containsExactly(BodyFormat.JSON, BodyFormat.YAML);
    assertThat(s.descriptor("trivy").orElseThrow().kind()).isEqualTo(SourceKind.STATE);
    assertThat(Sources.watchedNames())
        .containsExactly("trivy", "kyverno", "kube-bench", "checkov", "k8s-events");
    assertThat(Sources.defaultBodyLimits()).containsExactly(Map.entry("k8s-audit", 8L << 20));
  }

  @Test
  void anyOtherValidNameIsAGenericSource() {
    Sources s = Sources.standard();
    SourceDescriptor d = s.descriptor("my-scanner").orElseThrow();
    assertThat(d.name()).isEqualTo("my-scanner");
    assertThat(d.kind()).isEqualTo(SourceKind.EVENT);
    assertThat(d.bodyFormats()).containsExactly(BodyFormat.JSON);
    assertThat(d.defaultMaxBodyBytes()).isZero();
    assertThat(d.watched()).isFalse();
    assertThat(d.docsPage()).isEqualTo("docs/sources/generic.md");
    assertThat(s.descriptor("my-scanner").orElseThrow()).isSameAs(d);
    assertThat(s.descriptor("Not A Name")).isEmpty();
    assertThat(s.descriptor(null)).isEmpty();
    assertThat(s.forName("my-scanner").orElseThrow().source()).isEqualTo("my-scanner");
  }

  /**
   * The informers the engine runs are the descriptors' resources, with the ids (status keys,
   * checkpoints) of before.
   */
  @Test
  void theWatchEngineWatchesWhatTheDescriptorsDeclare() {
    List<String> ids = new ArrayList<>();
    for (WatchedSource w : BuiltInSources.all()) {
      ids.add(
          w.id()
              + (w.labelSelector() == null ? "" : " " + w.labelSelector())
              + (w.crdName() == null ? "" : " crd " + w.crdName())
              + (w.namespaced() ? "" : " cluster"));
    }
    assertThat(ids)
        .containsExactly(
            "trivy:aquasecurity.github.io/v1alpha1/vulnerabilityreports crd vulnerabilityreports.aquasecurity.github.io",
            "trivy:aquasecurity.github.io/v1alpha1/clustervulnerabilityreports"
                + " crd clustervulnerabilityreports.aquasecurity.github.io cluster",
            "kyverno:wgpolicyk8s.io/v1alpha2/policyreports crd policyreports.wgpolicyk8s.io",
            "kyverno:wgpolicyk8s.io/v1alpha2/clusterpolicyreports crd clusterpolicyreports.wgpolicyk8s.io cluster",
            "kyverno:openreports.io/v1alpha1/reports crd reports.openreports.io",
            "kyverno:openreports.io/v1alpha1/clusterreports crd clusterreports.openreports.io cluster",
            "kube-bench:v1/configmaps app=kube-bench",
            "checkov:v1/configmaps app=checkov",
            "k8s-events:v1/events",
            "k8s-events:events.k8s.io/v1/events");
    assertThat(BuiltInSources.all())
        .allSatisfy(w -> assertThat(w.resource().getKind()).isNotBlank());
  }

  @Test
  void kubeBenchReadsItsConfigMapAndTheNodeFromLabelsThenAnnotations() {
    ObjectReader reader = KubeBenchSource.DESCRIPTOR.watches().get(0).reader();
    JsonNode labelled =
        configMap(
            Map.of("kubernetes.io/hostname", "host-a", "node", "node-a"),
            Map.of("node", "ann"),
            "{\"Controls\":[]}");
    ObjectReader.Input in = reader.read(labelled);
    assertThat(in.json().has("Controls")).isTrue();
    assertThat(in.params()).containsExactly(Map.entry("node", "node-a"));
    assertThat(
            reader
                .read(
                    configMap(
                        Map.of("app", "kube-bench"),
                        Map.of("kubernetes.io/hostname", "from-ann"),
                        "{}"))
                .params())
        .containsExactly(Map.entry("node", "from-ann"));
    assertThat(reader.read(configMap(Map.of(), Map.of(), "{}")).params()).isEmpty();
    JsonNode noKey =
        Json.MAPPER.valueToTree(
            Map.of(
                "metadata",
                Map.of("name", "cm", "namespace", "ns"),
                "data",
                Map.of("other", "{}")));
    assertThat(reader.read(noKey)).isNull();
    assertThatThrownBy(() -> reader.read(configMap(Map.of(), Map.of(), "{not json")))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("ConfigMap ns/cm: data[results.json] is not JSON");
  }

  /**
   * What the contributor docs promise: a new source is one package (here: inline) and one line in
   * the list.
   */
  @Test
  void aToySourceIsOneDescriptorAndOneLine() {
    Normalizer toy =
        new Normalizer() {
          @Override
          public String source() {
            return "toy";
          }

          @Override
          public SourceKind kind() {
            return SourceKind.STATE;
          }

          @Override
          public List<Finding> normalize(JsonNode input, IngestContext context) {
            return List.of();
          }
        };
    SourceDescriptor descriptor =
        SourceDescriptor.of(toy)
            .bodyFormats(BodyFormat.JSON, BodyFormat.YAML)
            .watches(
                WatchedResource.customResource(
                    "toys.example.com", "v1", "toyreports", "ToyReport", true));
    List<SourceDescriptor> list = new ArrayList<>(Sources.BUILT_IN);
    list.add(descriptor); // the one line
    Sources sources = new Sources(list);
    assertThat(sources.descriptor("toy").orElseThrow().bodyFormats())
        .containsExactly(BodyFormat.JSON, BodyFormat.YAML);
    assertThat(BuiltInSources.of(list))
        .extracting(WatchedSource::id)
        .contains("toy:toys.example.com/v1/toyreports");
    assertThat(BuiltInSources.of(list).get(BuiltInSources.of(list).size() - 1).stateLike())
        .isTrue();
    assertThat(descriptor.docsPage()).isEqualTo("docs/sources/toy.md");
    assertThatThrownBy(
            () ->
                new SourceDescriptor(
                    "toy", SourceKind.EVENT, toy, Set.of(), 0, false, List.of(), null))
        .hasMessageContaining("kind EVENT but its normalizer says STATE");
    assertThatThrownBy(() -> descriptor.bodyFormats(BodyFormat.YAML))
        .hasMessageContaining("every source accepts JSON");
  }

  private static JsonNode configMap(
      Map<String, String> labels, Map<String, String> annotations, String results) {
    return Json.MAPPER.valueToTree(
        Map.of(
            "apiVersion",
            "v1",
            "kind",
            "ConfigMap",
            "metadata",
            Map.of("name", "cm", "namespace", "ns", "labels", labels, "annotations", annotations),
            "data",
            Map.of("results.json", results)));
  }
}
