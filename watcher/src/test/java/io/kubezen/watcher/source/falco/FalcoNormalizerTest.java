package io.kubezen.watcher.source.falco;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.Samples;
import io.kubezen.watcher.source.SourceKind;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class FalcoNormalizerTest {
  private static final Instant RECEIVED = Instant.parse("2024-06-01T23:59:59Z");
  private static final IngestContext CTX = IngestContext.at(RECEIVED);
  private final FalcoNormalizer falco = new FalcoNormalizer();

  @Test
  void describesItself() {
    assertThat(falco.source()).isEqualTo("falco");
    assertThat(falco.kind()).isEqualTo(SourceKind.EVENT);
  }

  @Test
  void podAlertBecomesOneSecurityFindingAboutThePod() {
    List<Finding> findings = falco.normalize(Samples.json("falco/shell-in-container.json"), CTX);

    assertThat(findings).hasSize(1);
    Finding f = findings.get(0);
    assertThat(f.source()).isEqualTo("falco");
    assertThat(f.category()).isEqualTo(Category.SECURITY);
    assertThat(f.eventType()).isEqualTo("runtime_threat");
    assertThat(f.severity()).isEqualTo(Severity.LOW); // Notice
    assertThat(f.resource())
        .isEqualTo(new ResourceRef("v1", "Pod", "checkout-7c9f8d6b5-x2lqp", "payments"));
    assertThat(f.detectedAt()).isEqualTo(Instant.parse("2024-06-01T09:41:02.123456789Z"));
    assertThat(f.detectedAt().getNano()).isEqualTo(123_456_789);
    assertThat(f.title())
        .isEqualTo(
            "Terminal shell in container in pod payments/checkout-7c9f8d6b5-x2lqp"
                + " (container nginx) on ip-10-0-12-34.eu-west-1.compute.internal");
    assertThat(f.identity())
        .containsExactly(
            "Terminal shell in container", "payments/checkout-7c9f8d6b5-x2lqp", "3a9c1f2b7d4e");
    assertThat(f.details())
        .containsEntry("rule", "Terminal shell in container")
        .containsEntry("priority", "Notice")
        .containsEntry("containerId", "3a9c1f2b7d4e")
        .containsEntry("containerName", "nginx")
        .containsEntry("containerImage", "docker.io/library/nginx:1.25.3")
        .containsEntry("hostname", "ip-10-0-12-34.eu-west-1.compute.internal")
        .containsEntry("source", "syscall")
        .containsEntry("user", "root")
        .containsEntry("processCmdline", "bash")
        .containsEntry(
            "tags", List.of("T1059", "container", "maturity_stable", "mitre_execution", "shell"));
    assertThat((String) f.details().get("output"))
        .startsWith("09:41:02.123456789: Notice A shell was spawned");
    // only the chosen fields, never the whole output_fields
    assertThat(f.details()).doesNotContainKeys("output_fields", "evt.type", "proc.tty");
  }

  @Test
  void batchMapsEveryPriorityAndKeepsOrder() {
    List<Finding> findings = falco.normalize(Samples.json("falco/alerts-batch.json"), CTX);

    assertThat(findings)
        .extracting(Finding::severity)
        .containsExactly(
            Severity.MEDIUM, // Warning
            Severity.CRITICAL, // Critical
            Severity.HIGH, // Error
            Severity.CRITICAL, // EMERGENCY (upper case)
            Severity.INFO, // debug (lower case)
            Severity.HIGH, // Alert
            Severity.LOW); // Informational
    assertThat(findings).allSatisfy(f -> assertThat(f.eventType()).isEqualTo("runtime_threat"));
    assertThat(findings.get(1).detectedAt()).isEqualTo(Instant.parse("2024-06-01T10:15:31.500Z"));
    assertThat(findings.get(3).detectedAt())
        .isEqualTo(Instant.parse("2024-06-01T10:17:12.345678901Z"));
  }

  @Test
  void hostAlertHasNoResourceAndHostContext() {
    Finding host = falco.normalize(Samples.json("falco/alerts-batch.json"), CTX).get(2);

    assertThat(host.resource()).isNull();
    assertThat(host.title()).isEqualTo("Write below etc on host worker-3");
    assertThat(host.identity()).containsExactly("Write below etc", "host/worker-3", "host");
    assertThat(host.detectedAt()).isEqualTo(Instant.parse("2024-06-01T10:16:00Z")); // +00:00 offset
    assertThat(host.details())
        .containsEntry("hostname", "worker-3")
        .doesNotContainKey("containerImage");
  }

  @Test
  void notApplicablePlaceholdersAreTreatedAsAbsent() {
    Finding f = falco.normalize(Samples.json("falco/alerts-batch.json"), CTX).get(3);

    assertThat(f.resource()).isNull();
    assertThat(f.details()).doesNotContainKeys("containerId", "tags");
    assertThat(f.identity()).containsExactly("Custom emergency rule", "host/worker-1", "");
  }

  @Test
  void unknownPriorityIsMediumAndMissingTimeIsTheReceiptTime() {
    Finding f = falco.normalize(Samples.json("falco/unknown-priority-no-time.json"), CTX).get(0);

    assertThat(f.severity()).isEqualTo(Severity.MEDIUM);
    assertThat(f.detectedAt()).isEqualTo(RECEIVED);
    assertThat(f.resource()).isNull();
    assertThat(f.title()).isEqualTo("Made-up rule from a plugin");
    assertThat(f.identity()).containsExactly("Made-up rule from a plugin", "host/", "");
  }

  @Test
  void missingPriorityIsMediumAndUnparsableTimeFallsBack() {
    ObjectNode a = (ObjectNode) Samples.parse("{\"rule\":\"R\",\"time\":\"yesterday\"}");
    Finding f = falco.normalize(a, CTX).get(0);
    assertThat(f.severity()).isEqualTo(Severity.MEDIUM);
    assertThat(f.detectedAt()).isEqualTo(RECEIVED);
  }

  @Test
  void severityMappingIsCaseInsensitive() {
    assertThat(FalcoNormalizer.severity("eMeRgEnCy")).isEqualTo(Severity.CRITICAL);
    assertThat(FalcoNormalizer.severity("CRITICAL")).isEqualTo(Severity.CRITICAL);
    assertThat(FalcoNormalizer.severity("alert")).isEqualTo(Severity.HIGH);
    assertThat(FalcoNormalizer.severity("ERROR")).isEqualTo(Severity.HIGH);
    assertThat(FalcoNormalizer.severity(" warning ")).isEqualTo(Severity.MEDIUM);
    assertThat(FalcoNormalizer.severity("NOTICE")).isEqualTo(Severity.LOW);
    assertThat(FalcoNormalizer.severity("info")).isEqualTo(Severity.LOW);
    assertThat(FalcoNormalizer.severity("informational")).isEqualTo(Severity.LOW);
    assertThat(FalcoNormalizer.severity("Debug")).isEqualTo(Severity.INFO);
    assertThat(FalcoNormalizer.severity("")).isEqualTo(Severity.MEDIUM);
    assertThat(FalcoNormalizer.severity(null)).isEqualTo(Severity.MEDIUM);
  }

  @Test
  void outputWithoutRuleIsStillAnAlert() {
    Finding f =
        falco
            .normalize(
                Samples.parse(
                    "{\"output\":\"12:00:00.0: Warning something\",\"priority\":\"Warning\"}"),
                CTX)
            .get(0);
    assertThat(f.title()).isEqualTo("12:00:00.0: Warning something");
    assertThat(f.identity().get(0)).isEmpty();
  }

  @Test
  void objectWithoutRuleAndOutputIsRejected() {
    assertThatThrownBy(() -> falco.normalize(Samples.json("falco/not-an-alert.json"), CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("\"rule\"")
        .hasMessageContaining("\"output\"");
  }

  @Test
  void badElementOfABatchIsNamedByIndex() {
    assertThatThrownBy(() -> falco.normalize(Samples.parse("[{\"rule\":\"R\"},{\"foo\":1}]"), CTX))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageStartingWith("alert 1:");
  }

  @Test
  void nonObjectInputIsRejectedAndEmptyArrayGivesNothing() {
    assertThatThrownBy(() -> falco.normalize(Samples.parse("\"hello\""), CTX))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> falco.normalize(Samples.parse("[1,2]"), CTX))
        .isInstanceOf(InvalidInputException.class);
    assertThat(falco.normalize(Samples.parse("[]"), CTX)).isEmpty();
  }

  @Test
  void identityIgnoresTimeAndOutputButNotContainer() {
    List<Finding> batch = falco.normalize(Samples.json("falco/alerts-batch.json"), CTX);
    ObjectNode again = (ObjectNode) Samples.json("falco/alerts-batch.json").get(0);
    again.put("time", "2024-06-01T10:15:45.999999999Z");
    again.put("output", "different text, same alert");
    assertThat(falco.normalize(again, CTX).get(0).identity()).isEqualTo(batch.get(0).identity());

    ((ObjectNode) again.get("output_fields")).put("container.id", "ffffffffffff");
    assertThat(falco.normalize(again, CTX).get(0).identity()).isNotEqualTo(batch.get(0).identity());
    // a different rule on the same pod and container is a different finding
    assertThat(batch.get(1).identity()).isNotEqualTo(batch.get(0).identity());
  }

  @Test
  void podWithoutNamespaceKeepsThePod() {
    Finding f =
        falco
            .normalize(
                Samples.parse(
                    "{\"rule\":\"R\",\"hostname\":\"h\",\"output_fields\":{\"k8s.pod.name\":\"p\"}}"),
                CTX)
            .get(0);
    assertThat(f.resource()).isEqualTo(new ResourceRef("v1", "Pod", "p", null));
    assertThat(f.identity().get(1)).isEqualTo("p");
  }

  @Test
  void hostnameFallsBackToEvtHostname() {
    Finding f =
        falco
            .normalize(
                Samples.parse("{\"rule\":\"R\",\"output_fields\":{\"evt.hostname\":\"node-9\"}}"),
                CTX)
            .get(0);
    assertThat(f.title()).isEqualTo("R on host node-9");
  }
}
