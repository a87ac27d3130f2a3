package io.kubezen.watcher.source.kyverno;

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

class KyvernoNormalizerTest {
  private static final Instant RECEIVED = Instant.parse("2024-03-13T08:00:00Z");
  private static final IngestContext CTX = IngestContext.at(RECEIVED);
  private static final String DEBUG_POD_UID = "9f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
  private static final String WEB_UID = "6c0a1b6e-1f0e-4c3a-9a57-0d1f6a1c0b01";

  private final KyvernoNormalizer normalizer = new KyvernoNormalizer();

  static JsonNode sample(String name) {
    try (InputStream in =
        KyvernoNormalizerTest.class.getResourceAsStream("/samples/kyverno/" + name)) {
      return Json.MAPPER.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void describesItself() {
    assertThat(normalizer.source()).isEqualTo("kyverno");
    assertThat(normalizer.kind()).isEqualTo(SourceKind.STATE);
  }

  @Test
  void failWarnAndErrorGiveFindingsPassAndSkipDoNot() {
    List<Finding> findings = normalizer.normalize(sample("policyreport-namespace.json"), CTX);

    assertThat(findings)
        .extracting(
            f ->
                f.details().get("policy")
                    + "/"
                    + f.details().get("result")
                    + "/"
                    + f.resource().name())
        .containsExactly(
            "disallow-privileged-containers/fail/debug-shell",
            "require-requests-limits/fail/web",
            "require-requests-limits/fail/api",
            "disallow-latest-tag/warn/debug-shell",
            "check-image-signature/error/api");
    assertThat(findings)
        .extracting(Finding::severity)
        .containsExactly(
            Severity.MEDIUM, Severity.MEDIUM, Severity.MEDIUM, Severity.LOW, Severity.HIGH);
    assertThat(findings)
        .extracting(Finding::category)
        .containsExactly(
            Category.SECURITY,
            Category.COMPLIANCE,
            Category.COMPLIANCE,
            Category.COMPLIANCE,
            Category.SECURITY);
    assertThat(findings)
        .allSatisfy(
            f -> {
              assertThat(f.source()).isEqualTo("kyverno");
              assertThat(f.eventType()).isEqualTo("policy_violation");
            });
  }

  @Test
  void failedResultCarriesResourceDetailsTitleAndTime() {
    Finding f = normalizer.normalize(sample("policyreport-namespace.json"), CTX).get(0);

    assertThat(f.resource()).isEqualTo(new ResourceRef("v1", "Pod", "debug-shell", "shop"));
    assertThat(f.detectedAt()).isEqualTo(Instant.ofEpochSecond(1710235812, 250_000_000));
    assertThat(f.title())
        .startsWith(
            "disallow-privileged-containers/privileged-containers fail on Pod shop/debug-shell: validation error: Privileged mode");
    assertThat(f.details())
        .containsEntry("policy", "disallow-privileged-containers")
        .containsEntry("rule", "privileged-containers")
        .containsEntry("result", "fail")
        .containsEntry("category", "Pod Security Standards (Baseline)")
        .containsEntry("source", "kyverno")
        .containsEntry("scored", true)
        .containsEntry("report", "polr-ns-shop");
    assertThat((String) f.details().get("message"))
        .startsWith("validation error: Privileged mode is disallowed.");
    assertThat(f.identity())
        .containsExactly(
            "disallow-privileged-containers", "privileged-containers", "uid", DEBUG_POD_UID);
    // the example Observation of docs/sources/kyverno.md
    assertThat(Fingerprint.observationName("kyverno", Fingerprint.of("kyverno", f.identity(), -1)))
        .isEqualTo("kyverno-5fe9f4d38a727799");
  }

  @Test
  void resultWithSeveralResourcesGivesOneFindingPerResource() {
    List<Finding> findings = normalizer.normalize(sample("policyreport-namespace.json"), CTX);
    Finding web = findings.get(1);
    Finding api = findings.get(2);

    assertThat(web.resource()).isEqualTo(new ResourceRef("apps/v1", "Deployment", "web", "shop"));
    assertThat(api.resource()).isEqualTo(new ResourceRef("apps/v1", "Deployment", "api", "shop"));
    assertThat(web.identity())
        .containsExactly("require-requests-limits", "validate-resources", "uid", WEB_UID);
    // no uid: kind/namespace/name
    assertThat(api.identity())
        .containsExactly(
            "require-requests-limits", "validate-resources", "ref", "Deployment", "shop", "api");
    assertThat(web.details()).doesNotContainKey("severity");
  }

  @Test
  void identitiesAreStableAndDistinct() {
    List<Finding> first = normalizer.normalize(sample("policyreport-namespace.json"), CTX);
    JsonNode later = sample("policyreport-namespace.json");
    // a later background scan: new timestamps, new message wording
    for (JsonNode r : later.get("results")) {
      ((ObjectNode) r.get("timestamp")).put("seconds", 1710300000);
      ((ObjectNode) r).put("message", "changed wording");
    }
    List<Finding> second =
        normalizer.normalize(later, IngestContext.at(RECEIVED.plusSeconds(3600)));

    assertThat(second)
        .extracting(Finding::identity)
        .isEqualTo(first.stream().map(Finding::identity).toList());
    assertThat(first)
        .extracting(f -> Fingerprint.of("kyverno", f.identity(), -1))
        .doesNotHaveDuplicates();
    assertThat(second.get(0).detectedAt())
        .isEqualTo(Instant.ofEpochSecond(1710300000, 250_000_000));
  }

  @Test
  void resultWithoutResourcesUsesTheReportScope() {
    List<Finding> findings = normalizer.normalize(sample("policyreport-scoped.json"), CTX);

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.severity()).isEqualTo(Severity.HIGH);
              assertThat(f.category()).isEqualTo(Category.SECURITY);
              assertThat(f.resource())
                  .isEqualTo(new ResourceRef("v1", "Pod", "checkout-7b9c6d5f4-x2k8p", "payments"));
              assertThat(f.identity())
                  .containsExactly(
                      "disallow-host-namespaces",
                      "host-namespaces",
                      "uid",
                      "0b5f3a52-7c1d-4e7b-9a61-1f2e3d4c5b6a");
              assertThat(f.detectedAt()).isEqualTo(Instant.ofEpochSecond(1710235867));
            });
  }

  @Test
  void listOfClusterPolicyReportAndOpenReports() {
    List<Finding> findings = normalizer.normalize(sample("reports-list.json"), CTX);

    assertThat(findings).hasSize(3);

    Finding ns = findings.get(0);
    assertThat(ns.resource()).isEqualTo(new ResourceRef("v1", "Namespace", "sandbox", null));
    assertThat(ns.severity()).isEqualTo(Severity.MEDIUM);
    assertThat(ns.category()).isEqualTo(Category.SECURITY);
    // no result timestamp: the report's creation time
    assertThat(ns.detectedAt()).isEqualTo(Instant.parse("2024-03-12T08:00:00Z"));
    assertThat(ns.title())
        .startsWith("require-ns-owner/check-owner fail on Namespace sandbox: validation error");

    Finding openReport = findings.get(1);
    assertThat(openReport.severity()).isEqualTo(Severity.CRITICAL);
    assertThat(openReport.resource())
        .isEqualTo(new ResourceRef("apps/v1", "Deployment", "ledger", "payments"));
    // the report-level source of openreports.io fills in for the result's
    assertThat(openReport.details()).containsEntry("source", "kyverno");

    Finding bench = findings.get(2);
    assertThat(bench.resource()).isNull();
    assertThat(bench.severity()).isEqualTo(Severity.HIGH);
    assertThat(bench.category()).isEqualTo(Category.COMPLIANCE);
    assertThat(bench.details()).containsEntry("source", "kube-bench-adapter");
    assertThat(bench.identity())
        .containsExactly(
            "Worker Node Security Configuration", "4.2.1", "report", "", "kube-bench-cis-worker-1");
    assertThat(bench.detectedAt()).isEqualTo(Instant.parse("2024-03-12T07:00:00Z"));
  }

  @Test
  void withoutAnyTimeTheReceiptTimeIsUsed() throws IOException {
    JsonNode report =
        Json.MAPPER.readTree(
            """
        {"apiVersion":"wgpolicyk8s.io/v1alpha2","kind":"ClusterPolicyReport","metadata":{"name":"x"},
         "results":[{"policy":"p","rule":"r","result":"fail","timestamp":{"seconds":0,"nanos":0}}]}""");
    assertThat(normalizer.normalize(report, CTX))
        .singleElement()
        .satisfies(f -> assertThat(f.detectedAt()).isEqualTo(RECEIVED));
  }

  @Test
  void severityAndCategoryRules() {
    assertThat(KyvernoNormalizer.severity("fail", "critical")).isEqualTo(Severity.CRITICAL);
    assertThat(KyvernoNormalizer.severity("fail", "info")).isEqualTo(Severity.INFO);
    assertThat(KyvernoNormalizer.severity("fail", "bogus")).isEqualTo(Severity.MEDIUM);
    assertThat(KyvernoNormalizer.severity("error", "low")).isEqualTo(Severity.HIGH);
    assertThat(KyvernoNormalizer.severity("warn", "critical")).isEqualTo(Severity.LOW);
    assertThat(KyvernoNormalizer.severity("pass", "high")).isNull();
    assertThat(KyvernoNormalizer.severity("skip", null)).isNull();
    assertThat(KyvernoNormalizer.severity(null, null)).isNull();

    assertThat(KyvernoNormalizer.category("Best Practices")).isEqualTo(Category.COMPLIANCE);
    assertThat(KyvernoNormalizer.category("EKS Best Practices")).isEqualTo(Category.COMPLIANCE);
    assertThat(KyvernoNormalizer.category("CIS Benchmarks")).isEqualTo(Category.COMPLIANCE);
    assertThat(KyvernoNormalizer.category("PCI Compliance")).isEqualTo(Category.COMPLIANCE);
    assertThat(KyvernoNormalizer.category("Pod Security Standards (Restricted)"))
        .isEqualTo(Category.SECURITY);
    assertThat(KyvernoNormalizer.category("Precision")).isEqualTo(Category.SECURITY);
    assertThat(KyvernoNormalizer.category(null)).isEqualTo(Category.SECURITY);
  }

  @Test
  void emptyReportsGiveNothing() throws IOException {
    assertThat(
            normalizer.normalize(
                Json.MAPPER.readTree(
                    "{\"apiVersion\":\"wgpolicyk8s.io/v1alpha2\",\"kind\":\"PolicyReport\",\"metadata\":{\"name\":\"e\"}}"),
                CTX))
        .isEmpty();
    assertThat(
            normalizer.normalize(
                Json.MAPPER.readTree("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[]}"),
                CTX))
        .isEmpty();
  }

  @Test
  void wrongShapesAreRejectedByName() throws IOException {
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    Json.MAPPER.readTree(
                        "{\"apiVersion\":\"aquasecurity.github.io/v1alpha1\",\"kind\":\"VulnerabilityReport\"}"),
                    CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("VulnerabilityReport");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    Json.MAPPER.readTree("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Report\"}"),
                    CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("example.com/v1");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    Json.MAPPER.readTree(
                        "{\"apiVersion\":\"wgpolicyk8s.io/v1alpha2\",\"kind\":\"PolicyReport\",\"results\":\"nope\"}"),
                    CTX))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> normalizer.normalize(Json.MAPPER.readTree("{\"results\":[]}"), CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("no kind");
    ArrayNode mixed =
        Json.MAPPER
            .createArrayNode()
            .add(sample("policyreport-scoped.json"))
            .add(Json.MAPPER.createObjectNode().put("kind", "Pod"));
    assertThatThrownBy(() -> normalizer.normalize(mixed, CTX))
        .isInstanceOf(InvalidInputException.class);
  }
}
