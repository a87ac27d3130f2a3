package io.kubezen.watcher.source.checkov;

import static io.kubezen.watcher.source.Samples.parse;
import static io.kubezen.watcher.source.Samples.sample;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Fingerprint;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.SourceKind;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CheckovNormalizerTest {
  private static final Instant RECEIVED = Instant.parse("2025-03-01T12:00:00Z");
  private final CheckovNormalizer normalizer = new CheckovNormalizer();

  private List<Finding> normalize(String sample) {
    return normalizer.normalize(sample(sample), IngestContext.at(RECEIVED));
  }

  @Test
  void isAStateSourceNamedCheckov() {
    assertThat(normalizer.source()).isEqualTo("checkov");
    assertThat(normalizer.kind()).isEqualTo(SourceKind.STATE);
  }

  @Test
  void kubernetesReportGivesOneFindingPerFailedCheckOnly() {
    List<Finding> findings = normalize("checkov/kubernetes.json");

    assertThat(findings)
        .extracting(f -> f.details().get("check_id"))
        .containsExactly("CKV_K8S_16", "CKV_K8S_43", "CKV_K8S_35", "CKV_K8S_49");
    assertThat(findings)
        .allSatisfy(
            f -> {
              assertThat(f.source()).isEqualTo("checkov");
              assertThat(f.category()).isEqualTo(Category.SECURITY);
              assertThat(f.eventType()).isEqualTo("static_analysis");
              assertThat(f.detectedAt()).isEqualTo(RECEIVED);
            });
  }

  @Test
  void privilegedContainerFindingInFull() {
    Finding f = normalize("checkov/kubernetes.json").get(0);

    assertThat(f.severity()).isEqualTo(Severity.HIGH);
    assertThat(f.resource()).isEqualTo(ResourceRef.of(null, "Deployment", "web", "nginx"));
    assertThat(f.title())
        .isEqualTo("CKV_K8S_16: Container should not be privileged (Deployment.web.nginx)");
    assertThat(f.details())
        .containsExactly(
            Map.entry("check_id", "CKV_K8S_16"),
            Map.entry("bc_check_id", "BC_K8S_15"),
            Map.entry("check_name", "Container should not be privileged"),
            Map.entry("check_type", "kubernetes"),
            Map.entry("resource", "Deployment.web.nginx"),
            Map.entry("file_path", "/manifests/web.yaml"),
            Map.entry("file_line_range", List.of(1L, 30L)),
            Map.entry(
                "guideline",
                "https://docs.prismacloud.io/en/enterprise-edition/policy-reference/kubernetes-policies/kubernetes-policy-index/bc-k8s-15"),
            Map.entry("severity", "HIGH"));
    assertThat(f.identity()).containsExactly("kubernetes", "CKV_K8S_16", "Deployment.web.nginx");
    // the example Observation in docs/sources/checkov.md
    assertThat(Fingerprint.observationName("checkov", Fingerprint.of("checkov", f.identity(), -1)))
        .isEqualTo("checkov-ba014acfdd99d2b1");
  }

  @Test
  void severityFromTheCheckElseMedium() {
    List<Finding> findings = normalize("checkov/kubernetes.json");

    assertThat(findings)
        .extracting(Finding::severity)
        .containsExactly(Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.CRITICAL);
    assertThat(findings.get(1).details()).doesNotContainKey("severity");
  }

  @Test
  void severityWordsOfCheckov() {
    assertThat(CheckovNormalizer.severity("CRITICAL")).isEqualTo(Severity.CRITICAL);
    assertThat(CheckovNormalizer.severity("IMPORTANT")).isEqualTo(Severity.HIGH);
    assertThat(CheckovNormalizer.severity("moderate")).isEqualTo(Severity.MEDIUM);
    assertThat(CheckovNormalizer.severity("LOW")).isEqualTo(Severity.LOW);
    assertThat(CheckovNormalizer.severity("INFO")).isEqualTo(Severity.INFO);
    assertThat(CheckovNormalizer.severity("NONE")).isEqualTo(Severity.INFO);
    assertThat(CheckovNormalizer.severity("informational-ish")).isEqualTo(Severity.MEDIUM);
    assertThat(CheckovNormalizer.severity(null)).isEqualTo(Severity.MEDIUM);
  }

  @Test
  void namesWithDotsStayWholeAndClusterScopedKindsLoseCheckovsDefaultNamespace() {
    List<Finding> findings = normalize("checkov/kubernetes.json");

    assertThat(findings.get(2).resource())
        .isEqualTo(ResourceRef.of(null, "StatefulSet", "default", "db.primary.v2"));
    assertThat(findings.get(3).resource())
        .isEqualTo(ResourceRef.of(null, "ClusterRole", null, "ops:admin-all"));
  }

  @Test
  void resourceStringParsing() {
    assertThat(ResourceStrings.parse("Deployment.default.nginx"))
        .isEqualTo(ResourceRef.of(null, "Deployment", "default", "nginx"));
    assertThat(ResourceStrings.parse("ConfigMap.web.app.config.v2"))
        .isEqualTo(ResourceRef.of(null, "ConfigMap", "web", "app.config.v2"));
    assertThat(ResourceStrings.parse("Namespace.payments"))
        .isEqualTo(ResourceRef.of(null, "Namespace", null, "payments"));
    assertThat(ResourceStrings.parse("PersistentVolume.default.pv-01"))
        .isEqualTo(ResourceRef.of(null, "PersistentVolume", null, "pv-01"));
    assertThat(ResourceStrings.parse("Deployment")).isNull();
    assertThat(ResourceStrings.parse("Deployment.")).isNull();
    assertThat(ResourceStrings.parse(".default.nginx")).isNull();
    assertThat(ResourceStrings.parse("Deployment.Not_A_Namespace.nginx")).isNull();
    assertThat(ResourceStrings.parse("Deployment.default.")).isNull();
    assertThat(ResourceStrings.parse("aws_s3_bucket.data")).isNull();
    assertThat(ResourceStrings.parse("/Dockerfile.")).isNull();
    assertThat(ResourceStrings.parse(" ")).isNull();
    assertThat(ResourceStrings.parse(null)).isNull();
  }

  @Test
  void multiFrameworkListGivesFindingsForEveryFramework() {
    List<Finding> findings = normalize("checkov/multi-framework.json");

    assertThat(findings)
        .extracting(f -> f.details().get("check_type") + "/" + f.details().get("check_id"))
        .containsExactly(
            "kubernetes/CKV_K8S_20",
            "terraform/CKV_AWS_20",
            "terraform/CKV_AWS_18",
            "dockerfile/CKV_DOCKER_3",
            "helm/CKV_K8S_40");
    assertThat(findings.get(0).resource())
        .isEqualTo(ResourceRef.of(null, "Pod", "payments", "api-7f9c"));
    assertThat(findings.get(0).severity()).isEqualTo(Severity.MEDIUM);
  }

  @Test
  void terraformChecksKeepResourceStringAndFileButNoKubernetesResource() {
    List<Finding> findings = normalize("checkov/multi-framework.json");
    Finding s3 = findings.get(1);

    assertThat(s3.resource()).isNull();
    assertThat(s3.severity()).isEqualTo(Severity.HIGH);
    assertThat(s3.details())
        .containsEntry("resource", "aws_s3_bucket.data")
        .containsEntry("file_path", "/terraform/s3.tf")
        .containsEntry("file_line_range", List.of(1L, 4L));
    assertThat(s3.identity())
        .containsExactly("terraform", "CKV_AWS_20", "aws_s3_bucket.data", "/terraform/s3.tf");
    assertThat(findings.get(2).resource()).isNull();
    assertThat(findings.get(2).severity()).isEqualTo(Severity.MEDIUM);
    assertThat(findings.get(2).details())
        .containsEntry("resource", "module.store.aws_s3_bucket.this");
    assertThat(findings.get(3).resource()).isNull();
    assertThat(findings.get(3).identity())
        .containsExactly("dockerfile", "CKV_DOCKER_3", "/Dockerfile.", "/Dockerfile");
  }

  @Test
  void helmChartsNameKubernetesObjectsAndKeepTheTemplatePathInTheIdentity() {
    Finding helm = normalize("checkov/multi-framework.json").get(4);

    assertThat(helm.resource())
        .isEqualTo(ResourceRef.of(null, "Deployment", "default", "RELEASE-NAME-web"));
    assertThat(helm.identity())
        .containsExactly(
            "helm",
            "CKV_K8S_40",
            "Deployment.default.RELEASE-NAME-web",
            "/charts/web/templates/deployment.yaml");
  }

  @Test
  void identityIgnoresTimeAndLinesSoARescanIsTheSameObservation() {
    Finding first =
        normalizer.normalize(sample("checkov/kubernetes.json"), IngestContext.at(RECEIVED)).get(0);
    var moved = (com.fasterxml.jackson.databind.node.ObjectNode) sample("checkov/kubernetes.json");
    var check =
        (com.fasterxml.jackson.databind.node.ObjectNode) moved.at("/results/failed_checks/0");
    check.putArray("file_line_range").add(40).add(70);
    check.put("file_path", "/other/place.yaml");
    Finding later =
        normalizer.normalize(moved, IngestContext.at(RECEIVED.plusSeconds(86_400))).get(0);

    assertThat(later.identity()).isEqualTo(first.identity());
    assertThat(Fingerprint.of("checkov", later.identity(), -1))
        .isEqualTo(Fingerprint.of("checkov", first.identity(), -1));
    // a different check on the same object, and the same check on another object, are different
    // findings
    List<Finding> all = normalize("checkov/kubernetes.json");
    assertThat(all).extracting(Finding::identity).doesNotHaveDuplicates();
  }

  @Test
  void quietOutputWithOnlyFailedChecksAndUnknownSeverity() {
    List<Finding> findings = normalize("checkov/quiet.json");

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.severity()).isEqualTo(Severity.MEDIUM);
              assertThat(f.resource()).isEqualTo(ResourceRef.of(null, "Pod", "default", "debug"));
              assertThat(f.details())
                  .containsEntry("severity", "informational-ish")
                  .doesNotContainKey("bc_check_id_missing");
            });
  }

  @Test
  void emptyReportsGiveNoFindings() {
    assertThat(normalize("checkov/summary-only.json")).isEmpty();
    assertThat(normalizer.normalize(parse("[]"), IngestContext.at(RECEIVED))).isEmpty();
    assertThat(
            normalizer.normalize(
                parse(
                    """
        {"check_type":"kubernetes","results":{"passed_checks":[],"failed_checks":[],"skipped_checks":[],"parsing_errors":[]}}
        """),
                IngestContext.at(RECEIVED)))
        .isEmpty();
  }

  @Test
  void aCheckWithNothingButAnEmptyObjectStillGivesAFinding() {
    List<Finding> findings =
        normalizer.normalize(
            parse(
                """
        {"check_type":"kubernetes","results":{"failed_checks":[{}]}}
        """),
            IngestContext.at(RECEIVED));

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.title()).isEqualTo("checkov check failed");
              assertThat(f.resource()).isNull();
              assertThat(f.severity()).isEqualTo(Severity.MEDIUM);
              assertThat(f.details()).containsExactly(Map.entry("check_type", "kubernetes"));
            });
  }

  @Test
  void wrongShapesAreRefused() {
    IngestContext ctx = IngestContext.at(RECEIVED);
    assertThatThrownBy(
            () -> normalizer.normalize(parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}"), ctx))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("checkov -o json")
        .hasMessageContaining("[apiVersion, kind]");
    assertThatThrownBy(() -> normalizer.normalize(parse("{\"results\":[1,2]}"), ctx))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("results must be an object");
    assertThatThrownBy(
            () -> normalizer.normalize(parse("{\"results\":{\"failed_checks\":{}}}"), ctx))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("failed_checks must be an array");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    parse("{\"results\":{\"failed_checks\":[\"CKV_K8S_1\"]}}"), ctx))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("must be an object, found string");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    parse("[{\"check_type\":\"kubernetes\",\"results\":{}}, 3]"), ctx))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> normalizer.normalize(parse("\"report\""), ctx))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  void aHugeReportGivesEveryFailedCheck() {
    StringBuilder sb =
        new StringBuilder("{\"check_type\":\"kubernetes\",\"results\":{\"failed_checks\":[");
    for (int i = 0; i < 5000; i++) {
      sb.append(i == 0 ? "" : ",")
          .append("{\"check_id\":\"CKV_K8S_")
          .append(i % 100)
          .append("\",\"resource\":\"Pod.ns-")
          .append(i / 100)
          .append(".p\"}");
    }
    sb.append("]}}");

    List<Finding> findings = normalizer.normalize(parse(sb.toString()), IngestContext.at(RECEIVED));

    assertThat(findings).hasSize(5000);
    assertThat(findings).extracting(Finding::identity).doesNotHaveDuplicates();
  }
}
