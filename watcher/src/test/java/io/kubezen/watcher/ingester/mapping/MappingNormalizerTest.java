package io.kubezen.watcher.ingester.mapping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.Samples;
import io.kubezen.watcher.source.SourceKind;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MappingNormalizerTest {
  static final Instant RECEIVED = Instant.parse("2024-06-01T00:00:00Z");
  static final IngestContext CTX = IngestContext.at(RECEIVED);

  static IngesterSpec.Mapping mapping(
      String forEach,
      String severity,
      Map<String, String> severityMap,
      String title,
      String eventType,
      String category,
      IngesterSpec.ResourceMapping resource,
      String timestamp,
      Map<String, String> details,
      List<String> identity) {
    return new IngesterSpec.Mapping(
        forEach,
        severity,
        severityMap,
        title,
        eventType,
        category,
        resource,
        timestamp,
        details,
        identity);
  }

  static IngesterSpec.Mapping scannerMapping() {
    Map<String, String> details = new LinkedHashMap<>();
    details.put("rule", "object.rule");
    details.put("tags", "object.tags");
    details.put("score", "object.score");
    details.put("owner", "object.owner");
    return mapping(
        null,
        "object.level",
        Map.of("SEV1", "critical", "sev2", "high"),
        "object.summary",
        "'runtime_' + object.rule",
        "'security'",
        new IngesterSpec.ResourceMapping(
            "'v1'", "object.kind", "object.pod.name", "object.pod.namespace"),
        "object.ts",
        details,
        null);
  }

  @Test
  void mapsEveryFieldOfAWebhookAlert() {
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, scannerMapping());
    List<Finding> out = n.normalize(Samples.json("ingester/scanner-alert.json"), CTX);
    assertThat(out).hasSize(1);
    Finding f = out.get(0);
    assertThat(f.source()).isEqualTo("acme");
    assertThat(f.severity()).isEqualTo(Severity.CRITICAL);
    assertThat(f.title()).isEqualTo("Cryptominer process started");
    assertThat(f.eventType()).isEqualTo("runtime_crypto_miner");
    assertThat(f.category()).isEqualTo(Category.SECURITY);
    assertThat(f.resource()).isEqualTo(new ResourceRef("v1", "Pod", "web-6d8f7", "shop"));
    assertThat(f.detectedAt()).isEqualTo(Instant.parse("2024-05-01T10:15:30.250Z"));
    assertThat(f.details())
        .containsEntry("rule", "crypto_miner")
        .containsEntry("score", 9.1)
        .containsEntry("tags", List.of("mitre_execution", "T1496"))
        .doesNotContainKey("owner");
    assertThat(f.identity())
        .containsExactly(
            "runtime_crypto_miner",
            "v1",
            "Pod",
            "shop",
            "web-6d8f7",
            "Cryptominer process started",
            "critical",
            "security",
            "rule=crypto_miner",
            "tags=[mitre_execution, T1496]",
            "score=9.1",
            "owner=");
    assertThat(n.kind()).isEqualTo(SourceKind.EVENT);
  }

  @Test
  void forEachSplitsAReportIntoFindings() {
    IngesterSpec.Mapping m =
        mapping(
            "object.report.results",
            "item.level",
            Map.of("error", "high", "warning", "low"),
            "item.message",
            "'misconfiguration'",
            "'compliance'",
            new IngesterSpec.ResourceMapping(
                "'apps/v1'",
                "object.spec.target.kind",
                "object.spec.target.name",
                "object.metadata.namespace"),
            "object.report.finished",
            Map.of("check", "item.check", "container", "item.container"),
            List.of("item.check", "item.container", "object.metadata.uid"));
    MappingNormalizer n = new MappingNormalizer("acme-scan", SourceKind.STATE, m);
    List<Finding> out = n.normalize(Samples.json("ingester/scanreport.json"), CTX);
    assertThat(out)
        .extracting(Finding::severity)
        .containsExactly(Severity.HIGH, Severity.LOW, Severity.MEDIUM);
    assertThat(out)
        .extracting(Finding::title)
        .containsExactly("Container runs as root", "No memory limit", "Image tag is latest");
    assertThat(out)
        .allSatisfy(
            f -> {
              assertThat(f.category()).isEqualTo(Category.COMPLIANCE);
              assertThat(f.resource())
                  .isEqualTo(new ResourceRef("apps/v1", "Deployment", "web", "shop"));
              assertThat(f.detectedAt()).isEqualTo(Instant.ofEpochSecond(1714558530));
            });
    assertThat(out.get(2).identity())
        .containsExactly("ACME-003", "sidecar", "4b1c2e6a-1111-2222-3333-444455556666");
    assertThat(out.get(0).details())
        .containsEntry("check", "ACME-001")
        .containsEntry("container", "app");
  }

  @Test
  void forEachOverAMissingKeyGivesNothingAndOverANonListIsInvalid() {
    IngesterSpec.Mapping m =
        mapping(
            "object.report.results",
            null,
            null,
            "item.message",
            null,
            null,
            null,
            null,
            null,
            null);
    MappingNormalizer n = new MappingNormalizer("acme-scan", SourceKind.STATE, m);
    assertThat(n.normalize(Samples.parse("{\"report\":{}}"), CTX)).isEmpty();
    assertThat(n.normalize(Samples.parse("{\"report\":{\"results\":[]}}"), CTX)).isEmpty();
    assertThatThrownBy(() -> n.normalize(Samples.parse("{\"report\":{\"results\":\"x\"}}"), CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("mapping.forEach: must give a list");
  }

  @Test
  void missingKeysGiveDefaultsNotErrors() {
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, scannerMapping());
    Finding f = n.normalize(Samples.parse("{\"unrelated\": 1}"), CTX).get(0);
    assertThat(f.severity()).isEqualTo(MappingNormalizer.DEFAULT_SEVERITY);
    assertThat(f.eventType()).isEqualTo("custom_event");
    assertThat(f.title()).isEqualTo("custom_event");
    assertThat(f.resource()).isEqualTo(new ResourceRef("v1", null, null, null));
    assertThat(f.detectedAt()).isEqualTo(RECEIVED);
    assertThat(f.details()).isEmpty();
  }

  @Test
  void hasAndConditionalsWork() {
    IngesterSpec.Mapping m =
        mapping(
            null,
            "has(object.sev) ? object.sev : 'low'",
            null,
            "has(object.msg) ? object.msg : 'no message'",
            null,
            null,
            null,
            null,
            null,
            null);
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, m);
    assertThat(n.normalize(Samples.parse("{}"), CTX).get(0).severity()).isEqualTo(Severity.LOW);
    assertThat(n.normalize(Samples.parse("{}"), CTX).get(0).title()).isEqualTo("no message");
    assertThat(n.normalize(Samples.parse("{\"sev\":\"HIGH\"}"), CTX).get(0).severity())
        .isEqualTo(Severity.HIGH);
  }

  @Test
  void severityMapThenParseThenMedium() {
    IngesterSpec.Mapping m =
        mapping(
            null,
            "object.s",
            Map.of("P1", "critical", "3", "low"),
            null,
            null,
            null,
            null,
            null,
            null,
            null);
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, m);
    assertThat(sev(n, "\"p1\"")).isEqualTo(Severity.CRITICAL);
    assertThat(sev(n, "3")).isEqualTo(Severity.LOW);
    assertThat(sev(n, "\"Info\"")).isEqualTo(Severity.INFO);
    assertThat(sev(n, "\"whatever\"")).isEqualTo(Severity.MEDIUM);
    assertThat(sev(n, "null")).isEqualTo(Severity.MEDIUM);
  }

  private static Severity sev(MappingNormalizer n, String value) {
    return n.normalize(Samples.parse("{\"s\":" + value + "}"), CTX).get(0).severity();
  }

  @Test
  void eventTypeMustMatchThePatternElseCustomEvent() {
    IngesterSpec.Mapping m =
        mapping(null, null, null, null, "object.t", null, null, null, null, null);
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, m);
    assertThat(n.normalize(Samples.parse("{\"t\":\"policy_violation\"}"), CTX).get(0).eventType())
        .isEqualTo("policy_violation");
    assertThat(n.normalize(Samples.parse("{\"t\":\"Policy Violation\"}"), CTX).get(0).eventType())
        .isEqualTo("custom_event");
  }

  @Test
  void categoryUnknownIsSecurity() {
    IngesterSpec.Mapping m =
        mapping(null, null, null, null, null, "object.c", null, null, null, null);
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, m);
    assertThat(n.normalize(Samples.parse("{\"c\":\"Cost\"}"), CTX).get(0).category())
        .isEqualTo(Category.COST);
    assertThat(n.normalize(Samples.parse("{\"c\":\"nope\"}"), CTX).get(0).category())
        .isEqualTo(Category.SECURITY);
  }

  @Test
  void timestampAcceptsRfc3339EpochSecondsAndFallsBackToReceipt() {
    IngesterSpec.Mapping m =
        mapping(null, null, null, null, null, null, null, "object.t", null, null);
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, m);
    assertThat(at(n, "\"2024-05-01T12:00:00+02:00\""))
        .isEqualTo(Instant.parse("2024-05-01T10:00:00Z"));
    assertThat(at(n, "1714558530")).isEqualTo(Instant.ofEpochSecond(1714558530));
    assertThat(at(n, "1714558530.5")).isEqualTo(Instant.ofEpochSecond(1714558530, 500_000_000));
    assertThat(at(n, "\"1714558530\"")).isEqualTo(Instant.ofEpochSecond(1714558530));
    assertThat(at(n, "\"yesterday\"")).isEqualTo(RECEIVED);
  }

  private static Instant at(MappingNormalizer n, String value) {
    return n.normalize(Samples.parse("{\"t\":" + value + "}"), CTX).get(0).detectedAt();
  }

  @Test
  void anArrayGivesOneFindingPerObject() {
    IngesterSpec.Mapping m =
        mapping(null, null, null, "object.m", null, null, null, null, null, null);
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, m);
    assertThat(n.normalize(Samples.parse("[{\"m\":\"a\"},{\"m\":\"b\"}]"), CTX))
        .extracting(Finding::title)
        .containsExactly("a", "b");
    assertThatThrownBy(() -> n.normalize(Samples.parse("[1]"), CTX))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> n.normalize(Samples.parse("\"text\""), CTX))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  void aTypeErrorIsAnInvalidInputNamingTheField() {
    IngesterSpec.Mapping m =
        mapping(null, null, null, "object.a + 1", null, null, null, null, null, null);
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, m);
    assertThatThrownBy(() -> n.normalize(Samples.parse("{\"a\":\"x\"}"), CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageStartingWith("mapping.title: ");
  }

  @Test
  void compileErrorsNameEveryField() {
    IngesterSpec.Mapping m =
        mapping(
            "object.items[",
            "object.(",
            Map.of("x", "severe"),
            null,
            null,
            null,
            new IngesterSpec.ResourceMapping(null, null, "object..name", null),
            null,
            Map.of("k", ""),
            List.of("nope"));
    assertThatThrownBy(() -> new MappingNormalizer("acme", SourceKind.EVENT, m))
        .isInstanceOfSatisfying(
            MappingNormalizer.MappingException.class,
            e ->
                assertThat(e.problems())
                    .anySatisfy(p -> assertThat(p).startsWith("mapping.forEach: "))
                    .anySatisfy(p -> assertThat(p).startsWith("mapping.severity: "))
                    .anySatisfy(
                        p ->
                            assertThat(p)
                                .startsWith("mapping.severityMap.x: 'severe' is not a severity"))
                    .anySatisfy(p -> assertThat(p).startsWith("mapping.resource.name: "))
                    .anySatisfy(
                        p -> assertThat(p).startsWith("mapping.details.k: empty expression"))
                    .anySatisfy(
                        p -> assertThat(p).startsWith("mapping.identity[0]: ").contains("nope")));
  }

  @Test
  void itemIsOnlyDeclaredWithForEach() {
    IngesterSpec.Mapping m =
        mapping(null, null, null, "item.message", null, null, null, null, null, null);
    assertThatThrownBy(() -> new MappingNormalizer("acme", SourceKind.EVENT, m))
        .isInstanceOf(MappingNormalizer.MappingException.class)
        .hasMessageContaining("mapping.title: ")
        .hasMessageContaining("item");
  }

  @Test
  void sameInputSameIdentityDifferentItemsDifferentIdentity() {
    MappingNormalizer n = new MappingNormalizer("acme", SourceKind.EVENT, scannerMapping());
    Finding a = n.normalize(Samples.json("ingester/scanner-alert.json"), CTX).get(0);
    Finding b =
        n.normalize(
                Samples.json("ingester/scanner-alert.json"),
                IngestContext.at(RECEIVED.plusSeconds(5)))
            .get(0);
    assertThat(a.identity()).isEqualTo(b.identity());
    Finding c =
        n.normalize(Samples.parse("{\"summary\":\"other\",\"rule\":\"crypto_miner\"}"), CTX).get(0);
    assertThat(c.identity()).isNotEqualTo(a.identity());
  }
}
