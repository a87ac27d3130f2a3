package io.kubezen.watcher.source.trivy;

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
import org.junit.jupiter.api.Test;

class TrivyNormalizerTest {
  private static final Instant RECEIVED = Instant.parse("2024-03-13T08:00:00Z");
  private static final IngestContext CTX = IngestContext.at(RECEIVED);

  private final TrivyNormalizer normalizer = new TrivyNormalizer();

  static JsonNode sample(String name) {
    try (InputStream in = TrivyNormalizerTest.class.getResourceAsStream("/samples/trivy/" + name)) {
      return Json.MAPPER.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void describesItself() {
    assertThat(normalizer.source()).isEqualTo("trivy");
    assertThat(normalizer.kind()).isEqualTo(SourceKind.STATE);
  }

  @Test
  void oneFindingPerVulnerabilityWithMappedSeverities() {
    List<Finding> findings = normalizer.normalize(sample("vulnerabilityreport-nginx.json"), CTX);

    assertThat(findings)
        .extracting(f -> f.details().get("vulnerabilityID"))
        .containsExactly(
            "CVE-2023-45853",
            "CVE-2023-44487",
            "CVE-2023-5678",
            "CVE-2011-3374",
            "TEMP-0841856-B18BAF");
    assertThat(findings)
        .extracting(Finding::severity)
        .containsExactly(
            Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO);
    assertThat(findings)
        .allSatisfy(
            f -> {
              assertThat(f.source()).isEqualTo("trivy");
              assertThat(f.category()).isEqualTo(Category.SECURITY);
              assertThat(f.eventType()).isEqualTo("vulnerability");
              assertThat(f.resource())
                  .isEqualTo(
                      new ResourceRef("apps/v1", "ReplicaSet", "nginx-6d4cf56db6", "default"));
              assertThat(f.detectedAt()).isEqualTo(Instant.parse("2024-03-12T10:15:30Z"));
            });
  }

  @Test
  void findingCarriesTheVulnerabilityDetailsAndTitle() {
    Finding high = normalizer.normalize(sample("vulnerabilityreport-nginx.json"), CTX).get(1);

    assertThat(high.title())
        .isEqualTo(
            "CVE-2023-44487 in libnghttp2-14 1.52.0-1 (library/nginx:1.25, container nginx)");
    assertThat(high.details())
        .containsEntry("vulnerabilityID", "CVE-2023-44487")
        .containsEntry("resource", "libnghttp2-14")
        .containsEntry("installedVersion", "1.52.0-1")
        .containsEntry("fixedVersion", "1.52.0-1+deb12u1")
        .containsEntry("score", 7.5)
        .containsEntry("primaryLink", "https://avd.aquasec.com/nvd/cve-2023-44487")
        .containsEntry("image", "index.docker.io/library/nginx:1.25")
        .containsEntry("container", "nginx")
        .containsEntry(
            "title",
            "HTTP/2: Multiple HTTP/2 enabled web servers are vulnerable to a DDoS attack (Rapid Reset Attack)");
    assertThat(high.identity())
        .containsExactly(
            "ReplicaSet/default/nginx-6d4cf56db6",
            "nginx",
            "CVE-2023-44487",
            "libnghttp2-14",
            "1.52.0-1");
    // the example Observation of docs/sources/trivy.md
    assertThat(Fingerprint.observationName("trivy", Fingerprint.of("trivy", high.identity(), -1)))
        .isEqualTo("trivy-5a633427e7ffe03e");
  }

  @Test
  void missingFixedVersionAndScoreAreLeftOutNotInvented() {
    List<Finding> findings = normalizer.normalize(sample("vulnerabilityreport-nginx.json"), CTX);
    Finding critical = findings.get(0);
    Finding unknown = findings.get(4);

    assertThat(critical.details()).doesNotContainKey("fixedVersion").containsEntry("score", 9.8);
    assertThat(unknown.details())
        .doesNotContainKeys("fixedVersion", "score")
        .containsEntry("severity", "UNKNOWN");
    assertThat(unknown.severity()).isEqualTo(Severity.INFO);
  }

  @Test
  void sameInputTwiceGivesIdenticalIdentitiesAndAllAreDistinct() {
    List<Finding> first = normalizer.normalize(sample("vulnerabilityreport-nginx.json"), CTX);
    List<Finding> second =
        normalizer.normalize(
            sample("vulnerabilityreport-nginx.json"),
            IngestContext.at(RECEIVED.plusSeconds(86_400)));

    assertThat(second)
        .extracting(Finding::identity)
        .isEqualTo(first.stream().map(Finding::identity).toList());
    assertThat(first)
        .extracting(f -> Fingerprint.of("trivy", f.identity(), -1))
        .doesNotHaveDuplicates();
  }

  @Test
  void differentInstalledVersionIsADifferentFinding() {
    JsonNode report = sample("vulnerabilityreport-nginx.json");
    Finding before = normalizer.normalize(report, CTX).get(2);
    ((ObjectNode) report.at("/report/vulnerabilities/2"))
        .put("installedVersion", "3.0.13-1~deb12u1");
    ((ObjectNode) report.at("/report")).put("updateTimestamp", "2024-03-20T00:00:00Z");
    Finding after = normalizer.normalize(report, CTX).get(2);

    assertThat(after.identity()).isNotEqualTo(before.identity());
    assertThat(Fingerprint.of("trivy", after.identity(), -1))
        .isNotEqualTo(Fingerprint.of("trivy", before.identity(), -1));
  }

  @Test
  void reportTimeDoesNotChangeTheIdentity() {
    JsonNode report = sample("vulnerabilityreport-nginx.json");
    List<List<String>> before =
        normalizer.normalize(report, CTX).stream().map(Finding::identity).toList();
    ((ObjectNode) report.at("/report")).put("updateTimestamp", "2024-04-01T00:00:00Z");
    List<Finding> after = normalizer.normalize(report, CTX);

    assertThat(after).extracting(Finding::identity).isEqualTo(before);
    assertThat(after.get(0).detectedAt()).isEqualTo(Instant.parse("2024-04-01T00:00:00Z"));
  }

  @Test
  void clusterVulnerabilityReportHasAClusterScopedResource() {
    List<Finding> findings =
        normalizer.normalize(sample("clustervulnerabilityreport-node.json"), CTX);

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.severity()).isEqualTo(Severity.HIGH);
              assertThat(f.resource())
                  .isEqualTo(new ResourceRef("v1", "Node", "kind-control-plane", null));
              assertThat(f.details())
                  .containsEntry("image", "kubelet:v1.28.0")
                  .containsEntry("container", "kubelet");
              assertThat(f.title())
                  .isEqualTo(
                      "CVE-2023-5528 in k8s.io/kubelet 1.28.0 (kubelet:v1.28.0, container kubelet)");
              // no updateTimestamp: the report's creation time
              assertThat(f.detectedAt()).isEqualTo(Instant.parse("2024-03-12T09:00:11Z"));
              assertThat(f.identity())
                  .containsExactly(
                      "Node//kind-control-plane",
                      "kubelet",
                      "CVE-2023-5528",
                      "k8s.io/kubelet",
                      "1.28.0");
            });
  }

  @Test
  void kubernetesListOfReportsIsUnwrappedAndAnEmptyReportGivesNothing() {
    List<Finding> findings = normalizer.normalize(sample("vulnerabilityreport-list.json"), CTX);

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.resource())
                  .isEqualTo(new ResourceRef("apps/v1", "StatefulSet", "redis-master", "cache"));
              assertThat(f.severity()).isEqualTo(Severity.MEDIUM);
              assertThat(f.details())
                  .containsEntry("image", "docker.io/bitnami/redis:7.2.4-debian-12-r9");
              assertThat(f.title())
                  .isEqualTo(
                      "CVE-2023-4911 in libc6 2.36.1-8 (bitnami/redis:7.2.4-debian-12-r9, container redis)");
            });
  }

  @Test
  void jsonArrayOfReportsGivesTheFindingsOfEach() {
    ArrayNode array =
        Json.MAPPER
            .createArrayNode()
            .add(sample("vulnerabilityreport-nginx.json"))
            .add(sample("clustervulnerabilityreport-node.json"));

    assertThat(normalizer.normalize(array, CTX)).hasSize(6);
    assertThat(normalizer.normalize(Json.MAPPER.createArrayNode(), CTX)).isEmpty();
  }

  @Test
  void reportWithoutVulnerabilitiesGivesNoFinding() {
    JsonNode report = sample("vulnerabilityreport-nginx.json");
    ((ObjectNode) report.at("/report")).putArray("vulnerabilities");
    assertThat(normalizer.normalize(report, CTX)).isEmpty();
    ((ObjectNode) report.at("/report")).remove("vulnerabilities");
    assertThat(normalizer.normalize(report, CTX)).isEmpty();
  }

  @Test
  void twoThousandVulnerabilitiesGiveTwoThousandDistinctFindings() {
    JsonNode report = sample("vulnerabilityreport-nginx.json");
    ArrayNode vulns = ((ObjectNode) report.at("/report")).putArray("vulnerabilities");
    String[] severities = {"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"};
    for (int i = 0; i < 2000; i++) {
      vulns
          .addObject()
          .put("vulnerabilityID", "CVE-2024-" + (10000 + i))
          .put("resource", "pkg-" + (i % 50))
          .put("installedVersion", "1." + (i % 7) + ".0")
          .put("fixedVersion", i % 3 == 0 ? "" : "1.9.9")
          .put("severity", severities[i % 5])
          .put("title", "synthetic vulnerability " + i)
          .put("lastModifiedDate", "2024-01-01T00:00:00Z")
          .put("publishedDate", "2024-01-01T00:00:00Z");
    }

    List<Finding> findings = normalizer.normalize(report, CTX);

    assertThat(findings).hasSize(2000);
    assertThat(findings).filteredOn(f -> f.severity() == Severity.INFO).hasSize(400);
    assertThat(findings)
        .extracting(f -> Fingerprint.of("trivy", f.identity(), -1))
        .doesNotHaveDuplicates();
  }

  @Test
  void reportWithoutWorkloadLabelsFallsBackToItsNamespaceAndName() {
    JsonNode report = sample("vulnerabilityreport-nginx.json");
    ((ObjectNode) report.get("metadata")).remove("labels");

    Finding f = normalizer.normalize(report, CTX).get(0);

    assertThat(f.resource()).isEqualTo(new ResourceRef(null, null, null, "default"));
    assertThat(f.identity().get(0)).isEqualTo("report:replicaset-nginx-6d4cf56db6-nginx");
    assertThat(f.title())
        .isEqualTo("CVE-2023-45853 in zlib1g 1:1.2.13.dfsg-1 (library/nginx:1.25)");
  }

  @Test
  void withoutAnyTimeTheReceiptTimeIsUsed() {
    JsonNode report = sample("clustervulnerabilityreport-node.json");
    ((ObjectNode) report.get("metadata")).remove("creationTimestamp");
    assertThat(normalizer.normalize(report, CTX).get(0).detectedAt()).isEqualTo(RECEIVED);
  }

  @Test
  void wrongKindIsRejectedByName() {
    assertThatThrownBy(() -> normalizer.normalize(sample("configauditreport.json"), CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("ConfigAuditReport");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    Json.MAPPER.readTree(
                        "{\"kind\":\"VulnerabilityReport\",\"apiVersion\":\"example.com/v1\"}"),
                    CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("example.com/v1");
    assertThatThrownBy(
            () -> normalizer.normalize(Json.MAPPER.readTree("{\"hello\":\"world\"}"), CTX))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> normalizer.normalize(Json.MAPPER.readTree("\"text\""), CTX))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  void aBadElementRejectsTheWholeArray() {
    ArrayNode array =
        Json.MAPPER
            .createArrayNode()
            .add(sample("vulnerabilityreport-nginx.json"))
            .add(sample("configauditreport.json"));
    assertThatThrownBy(() -> normalizer.normalize(array, CTX))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  void vulnerabilitiesThatAreNotAnArrayAreRejected() throws IOException {
    JsonNode bad =
        Json.MAPPER.readTree(
            "{\"apiVersion\":\"aquasecurity.github.io/v1alpha1\",\"kind\":\"VulnerabilityReport\",\"report\":{\"vulnerabilities\":{\"a\":1}}}");
    assertThatThrownBy(() -> normalizer.normalize(bad, CTX))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  void imageNamesDigestWhenThereIsNoTag() {
    assertThat(TrivyNormalizer.image("ghcr.io", "migrate/migrate", null, "sha256:0e3b"))
        .isEqualTo("ghcr.io/migrate/migrate@sha256:0e3b");
    assertThat(TrivyNormalizer.image(null, "nginx", "1.25", "sha256:0e3b")).isEqualTo("nginx:1.25");
    assertThat(TrivyNormalizer.image("ghcr.io", null, "1", null)).isNull();
  }
}
