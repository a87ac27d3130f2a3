package io.kubezen.watcher.source.kubebench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Fingerprint;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.SourceKind;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KubeBenchNormalizerTest {
  private static final Instant RECEIVED = Instant.parse("2024-03-13T08:00:00Z");
  private static final IngestContext NO_NODE = IngestContext.at(RECEIVED);
  private static final IngestContext NODE_PARAM =
      new IngestContext(RECEIVED, Map.of("node", "cp-1"));

  private final KubeBenchNormalizer normalizer = new KubeBenchNormalizer();

  static JsonNode sample() {
    try (InputStream in =
        KubeBenchNormalizerTest.class.getResourceAsStream(
            "/samples/kube-bench/kube-bench-master-node.json")) {
      return Json.MAPPER.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void describesItself() {
    assertThat(normalizer.source()).isEqualTo("kube-bench");
    assertThat(normalizer.kind()).isEqualTo(SourceKind.STATE);
  }

  @Test
  void failAndWarnGiveFindingsPassAndInfoDoNot() {
    List<Finding> findings = normalizer.normalize(sample(), NODE_PARAM);

    assertThat(findings)
        .extracting(f -> f.details().get("test_number"))
        .containsExactly("1.1.12", "1.2.1", "1.2.18", "4.2.1", "4.2.6", "4.2.13");
    assertThat(findings)
        .extracting(Finding::severity)
        .containsExactly(
            Severity.HIGH,
            Severity.LOW,
            Severity.HIGH,
            Severity.HIGH,
            Severity.MEDIUM,
            Severity.LOW);
    assertThat(findings)
        .allSatisfy(
            f -> {
              assertThat(f.source()).isEqualTo("kube-bench");
              assertThat(f.category()).isEqualTo(Category.COMPLIANCE);
              assertThat(f.eventType()).isEqualTo("cis_benchmark_fail");
              assertThat(f.resource()).isEqualTo(new ResourceRef("v1", "Node", "cp-1", null));
              assertThat(f.detectedAt()).isEqualTo(RECEIVED);
            });
  }

  @Test
  void findingCarriesTheCheckDetails() {
    Finding f = normalizer.normalize(sample(), NODE_PARAM).get(0);

    assertThat(f.title())
        .isEqualTo(
            "CIS 1.1.12 FAIL on node cp-1: Ensure that the etcd data directory ownership is set to etcd:etcd (Automated)");
    assertThat(f.details())
        .containsEntry("test_number", "1.1.12")
        .containsEntry(
            "test_desc",
            "Ensure that the etcd data directory ownership is set to etcd:etcd (Automated)")
        .containsEntry("status", "FAIL")
        .containsEntry("scored", true)
        .containsEntry("section", "1.1")
        .containsEntry("section_desc", "Control Plane Node Configuration Files")
        .containsEntry("node_type", "master")
        .containsEntry("benchmark", "cis-1.8")
        .containsEntry("actual_value", "root:root")
        .containsEntry("expected_result", "'etcd:etcd' is present")
        .doesNotContainKey("audit");
    assertThat((String) f.details().get("remediation")).contains("chown etcd:etcd /var/lib/etcd");
    assertThat(f.identity()).containsExactly("cp-1", "1.1.12");
    // the example Observation of docs/sources/kube-bench.md
    assertThat(
            Fingerprint.observationName(
                "kube-bench", Fingerprint.of("kube-bench", f.identity(), -1)))
        .isEqualTo("kube-bench-7431b40845db1dc3");

    Finding manual = normalizer.normalize(sample(), NODE_PARAM).get(1);
    assertThat(manual.details())
        .containsEntry("reason", "Test marked as a manual test")
        .containsEntry("scored", false);
  }

  @Test
  void withoutANodeNameThereIsNoResourceAndAnEmptyNodeInTheIdentity() {
    List<Finding> findings = normalizer.normalize(sample(), NO_NODE);

    assertThat(findings)
        .hasSize(6)
        .allSatisfy(
            f -> {
              assertThat(f.resource()).isNull();
              assertThat(f.identity().get(0)).isEmpty();
            });
    assertThat(findings.get(3).title())
        .isEqualTo(
            "CIS 4.2.1 FAIL: Ensure that the --anonymous-auth argument is set to false (Automated)");
  }

  @Test
  void identitiesAreStablePerNodeAndDifferAcrossNodes() {
    List<Finding> first = normalizer.normalize(sample(), NODE_PARAM);
    List<Finding> again =
        normalizer.normalize(
            sample(), new IngestContext(RECEIVED.plusSeconds(86_400), Map.of("node", "cp-1")));
    List<Finding> otherNode =
        normalizer.normalize(sample(), new IngestContext(RECEIVED, Map.of("node", "worker-7")));

    assertThat(again)
        .extracting(Finding::identity)
        .isEqualTo(first.stream().map(Finding::identity).toList());
    assertThat(first)
        .extracting(f -> Fingerprint.of("kube-bench", f.identity(), -1))
        .doesNotHaveDuplicates();
    assertThat(Fingerprint.of("kube-bench", otherNode.get(0).identity(), -1))
        .isNotEqualTo(Fingerprint.of("kube-bench", first.get(0).identity(), -1));
  }

  @Test
  void singleControlsObjectIsAccepted() {
    JsonNode nodeControls = sample().get("Controls").get(1);

    List<Finding> findings = normalizer.normalize(nodeControls, NODE_PARAM);

    assertThat(findings)
        .extracting(f -> f.details().get("test_number"))
        .containsExactly("4.2.1", "4.2.6", "4.2.13");
    assertThat(findings.get(0).details())
        .containsEntry("node_type", "node")
        .containsEntry("section_desc", "Kubelet");
  }

  @Test
  void listOfReportsCarryingTheirOwnNodeNames() {
    ObjectNode worker1 = ((ObjectNode) sample()).put("node_name", "worker-1");
    ObjectNode worker2 = ((ObjectNode) sample()).put("node_name", "worker-2");
    ArrayNode list = Json.MAPPER.createArrayNode().add(worker1).add(worker2);

    List<Finding> findings = normalizer.normalize(list, NODE_PARAM);

    assertThat(findings).hasSize(12);
    // a name in the input wins over the request parameter
    assertThat(findings.subList(0, 6))
        .allSatisfy(f -> assertThat(f.resource().name()).isEqualTo("worker-1"));
    assertThat(findings.subList(6, 12))
        .allSatisfy(f -> assertThat(f.resource().name()).isEqualTo("worker-2"));
    assertThat(findings.get(0).identity()).containsExactly("worker-1", "1.1.12");
  }

  @Test
  void arrayOfControlsObjectsIsAccepted() {
    JsonNode controls = sample().get("Controls");
    assertThat(normalizer.normalize(controls, NO_NODE)).hasSize(6);
  }

  @Test
  void allPassingOrEmptyRunsGiveNothing() throws IOException {
    assertThat(
            normalizer.normalize(
                Json.MAPPER.readTree("{\"Controls\":[],\"Totals\":{\"total_pass\":0}}"), NO_NODE))
        .isEmpty();
    assertThat(
            normalizer.normalize(
                Json.MAPPER.readTree(
                    "{\"id\":\"4\",\"node_type\":\"node\",\"tests\":[{\"section\":\"4.1\",\"results\":[{\"test_number\":\"4.1.1\",\"status\":\"PASS\",\"scored\":true}]}]}"),
                NO_NODE))
        .isEmpty();
  }

  @Test
  void severityRules() {
    assertThat(KubeBenchNormalizer.severity("FAIL", true)).isEqualTo(Severity.HIGH);
    assertThat(KubeBenchNormalizer.severity("FAIL", false)).isEqualTo(Severity.MEDIUM);
    assertThat(KubeBenchNormalizer.severity("WARN", true)).isEqualTo(Severity.LOW);
    assertThat(KubeBenchNormalizer.severity("PASS", true)).isNull();
    assertThat(KubeBenchNormalizer.severity("INFO", false)).isNull();
    assertThat(KubeBenchNormalizer.severity(null, false)).isNull();
  }

  @Test
  void inputOfAnotherShapeIsRejected() throws IOException {
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    Json.MAPPER.readTree("{\"output\":\"falco alert\",\"priority\":\"Warning\"}"),
                    NO_NODE))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("Controls");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    Json.MAPPER.readTree("{\"Controls\":{\"id\":\"1\"}}"), NO_NODE))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(
            () -> normalizer.normalize(Json.MAPPER.readTree("{\"Controls\":[42]}"), NO_NODE))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    Json.MAPPER.readTree("{\"id\":\"1\",\"tests\":\"no\"}"), NO_NODE))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> normalizer.normalize(Json.MAPPER.readTree("[1,2]"), NO_NODE))
        .isInstanceOf(InvalidInputException.class);
  }
}
