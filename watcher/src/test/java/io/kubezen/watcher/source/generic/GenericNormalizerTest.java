package io.kubezen.watcher.source.generic;

import static io.kubezen.watcher.source.Samples.parse;
import static io.kubezen.watcher.source.Samples.sample;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Fingerprint;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.SourceKind;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class GenericNormalizerTest {
  private static final Instant RECEIVED = Instant.parse("2025-03-01T13:00:00Z");
  private final GenericNormalizer normalizer = new GenericNormalizer("my-scanner");

  private List<Finding> normalize(String sample) {
    return normalizer.normalize(sample(sample), IngestContext.at(RECEIVED));
  }

  private Finding one(String json) {
    List<Finding> findings = normalizer.normalize(parse(json), IngestContext.at(RECEIVED));
    assertThat(findings).hasSize(1);
    return findings.get(0);
  }

  @Test
  void takesItsNameFromTheRequestAndIsEventLike() {
    assertThat(normalizer.source()).isEqualTo("my-scanner");
    assertThat(normalizer.kind()).isEqualTo(SourceKind.EVENT);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "My-Scanner",
        "my_scanner",
        "-scanner",
        "scanner-",
        "a.b",
        "a-name-that-is-far-too-long-for-a-source-x1"
      })
  void refusesNamesThatAreNotShortDnsLabels(String name) {
    assertThatThrownBy(() -> new GenericNormalizer(name))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refusesANullNameAndAcceptsTheLongestValidOne() {
    assertThatThrownBy(() -> new GenericNormalizer(null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(new GenericNormalizer("a".repeat(40)).source()).hasSize(40);
  }

  @Test
  void fullyMappedAlert() {
    Finding f = normalize("generic/alert.json").get(0);

    assertThat(f.source()).isEqualTo("my-scanner");
    assertThat(f.severity()).isEqualTo(Severity.HIGH);
    assertThat(f.category()).isEqualTo(Category.SECURITY);
    assertThat(f.eventType()).isEqualTo("auth_brute_force");
    assertThat(f.title()).isEqualTo("Brute-force login detected");
    assertThat(f.resource())
        .isEqualTo(ResourceRef.of("apps/v1", "Deployment", "identity", "keycloak"));
    assertThat(f.detectedAt()).isEqualTo(Instant.parse("2025-03-01T08:15:27.500Z"));
    // only the unmapped top-level scalars, in input order; objects, arrays and nulls are left out
    assertThat(f.details())
        .containsExactly(
            Map.entry("user", "admin"),
            Map.entry("attempts", 57),
            Map.entry("sourceIP", "203.0.113.7"),
            Map.entry("blocked", true));
    assertThat(f.identity())
        .containsExactly(
            "high",
            "Brute-force login detected",
            "security",
            "auth_brute_force",
            "apps/v1",
            "Deployment",
            "identity",
            "keycloak");
    // the example Observation in docs/sources/generic.md (60 s dedup window)
    assertThat(Fingerprint.of("my-scanner", f.identity(), f.detectedAt().getEpochSecond() / 60))
        .isEqualTo("6286b9ec960df6832bab820740f2072b044e34f0b9fe1f9c5a158cba990384ed");
  }

  @Test
  void arrayOfDifferentShapesAndSynonyms() {
    List<Finding> findings = normalize("generic/syslog-batch.json");
    assertThat(findings).hasSize(4);

    Finding apparmor = findings.get(0);
    assertThat(apparmor.title()).startsWith("kernel: audit: type=1400 apparmor=\"DENIED\"");
    assertThat(apparmor.severity()).isEqualTo(Severity.MEDIUM);
    assertThat(apparmor.eventType()).isEqualTo("custom_event");
    assertThat(apparmor.detectedAt()).isEqualTo(Instant.parse("2025-03-01T09:15:27Z"));
    assertThat(apparmor.resource()).isEqualTo(ResourceRef.of(null, null, "payments", null));
    assertThat(apparmor.details()).containsExactly(Map.entry("host", "worker-3"));

    Finding disk = findings.get(1);
    assertThat(disk.title()).isEqualTo("disk quota nearly exhausted on /var/lib/containerd");
    assertThat(disk.severity()).isEqualTo(Severity.LOW);
    assertThat(disk.category()).isEqualTo(Category.OPERATIONS);
    assertThat(disk.eventType()).isEqualTo("disk_pressure");
    assertThat(disk.detectedAt()).isEqualTo(Instant.parse("2025-03-01T08:00:00Z"));
    assertThat(disk.resource()).isNull();

    Finding c2 = findings.get(2);
    assertThat(c2.title()).isEqualTo("Outbound connection to known C2 domain");
    assertThat(c2.severity()).isEqualTo(Severity.CRITICAL);
    assertThat(c2.eventType()).isEqualTo("network_c2_beacon");
    assertThat(c2.detectedAt()).isEqualTo(Instant.parse("2025-03-01T09:15:27.123Z"));
    assertThat(c2.resource()).isEqualTo(ResourceRef.of(null, "Pod", "shop", "cart-6d9f"));
    assertThat(c2.details()).isEmpty();

    Finding backup = findings.get(3);
    assertThat(backup.severity()).isEqualTo(Severity.INFO);
    assertThat(backup.category()).isEqualTo(Category.SECURITY);
    assertThat(backup.eventType()).isEqualTo("custom_event");
    assertThat(backup.detectedAt()).isEqualTo(RECEIVED);
    // what could not be mapped stays visible in the details
    assertThat(backup.details())
        .containsExactly(
            Map.entry("category", "cost-center-42"), Map.entry("type", "Backup Finished!"));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "critical,CRITICAL",
    "CRIT,CRITICAL",
    "Emergency,CRITICAL",
    "emerg,CRITICAL",
    "alert,CRITICAL",
    "FATAL,CRITICAL",
    "panic,CRITICAL",
    "high,HIGH",
    "Error,HIGH",
    "err,HIGH",
    "major,HIGH",
    "severe,HIGH",
    "medium,MEDIUM",
    "Warning,MEDIUM",
    "warn,MEDIUM",
    "moderate,MEDIUM",
    "low,LOW",
    "Notice,LOW",
    "minor,LOW",
    "info,INFO",
    "Informational,INFO",
    "debug,INFO",
    "TRACE,INFO",
    "ok,INFO",
    "none,INFO",
    "' high ',HIGH"
  })
  void severityWords(String word, Severity expected) {
    assertThat(GenericNormalizer.severity(word)).contains(expected);
    assertThat(one("{\"severity\":\"" + word + "\"}").severity()).isEqualTo(expected);
  }

  @Test
  void numbersAndUnknownWordsAreNotSeveritiesAndStayInTheDetails() {
    Finding numeric = one("{\"title\":\"x\",\"level\":3}");
    assertThat(numeric.severity()).isEqualTo(Severity.MEDIUM);
    assertThat(numeric.details()).containsExactly(Map.entry("level", 3));

    Finding unknown = one("{\"severity\":\"P1\",\"priority\":\"urgent\",\"level\":\"error\"}");
    assertThat(unknown.severity()).isEqualTo(Severity.HIGH);
    assertThat(unknown.details())
        .containsExactly(Map.entry("severity", "P1"), Map.entry("priority", "urgent"));

    assertThat(one("{\"severity\":\"P1\"}").severity()).isEqualTo(Severity.MEDIUM);
  }

  @Test
  void severityFieldsAreReadInOrderSeverityPriorityLevel() {
    assertThat(
            one("{\"level\":\"debug\",\"priority\":\"Critical\",\"severity\":\"low\"}").severity())
        .isEqualTo(Severity.LOW);
    assertThat(one("{\"level\":\"debug\",\"priority\":\"Critical\"}").severity())
        .isEqualTo(Severity.CRITICAL);
  }

  @Test
  void titleFieldsInOrderAndOnOneLine() {
    assertThat(
            one("{\"summary\":\"s\",\"output\":\"o\",\"msg\":\"m\",\"message\":\"me\",\"title\":\"t\"}")
                .title())
        .isEqualTo("t");
    assertThat(one("{\"summary\":\"s\",\"output\":\"o\"}").title()).isEqualTo("o");
    assertThat(one("{\"message\":{\"text\":\"nested\"},\"msg\":\"  two\\n\\tlines  \"}").title())
        .isEqualTo("two lines");
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "Privilege Escalation,privilege_escalation",
    "k8s.secret-read,k8s_secret_read",
    "a/b/c,a_b_c",
    "RUNTIME_THREAT,runtime_threat",
    "42,42",
    "über,custom_event",
    "a:b,custom_event",
    "'',custom_event"
  })
  void eventTypeNormalisation(String raw, String expected) {
    assertThat(one("{\"eventType\":\"" + raw + "\"}").eventType()).isEqualTo(expected);
  }

  @Test
  void eventTypeFieldsInOrderAndOverlongOnesRefused() {
    assertThat(one("{\"type\":\"c\",\"event_type\":\"b\",\"eventType\":\"a\"}").eventType())
        .isEqualTo("a");
    assertThat(one("{\"type\":\"c\",\"event_type\":\"b b\"}").eventType()).isEqualTo("b_b");
    assertThat(one("{\"type\":\"" + "x".repeat(64) + "\"}").eventType()).isEqualTo("custom_event");
    assertThat(one("{\"type\":\"" + "x".repeat(63) + "\"}").eventType()).isEqualTo("x".repeat(63));
    assertThat(one("{\"type\":7}").eventType()).isEqualTo("custom_event");
  }

  @Test
  void namespaceSourcesInOrderAndOnlyValidOnes() {
    assertThat(
            one("{\"namespace\":\"a\",\"metadata\":{\"namespace\":\"b\"},\"resource\":{\"namespace\":\"c\"}}")
                .resource()
                .namespace())
        .isEqualTo("a");
    assertThat(
            one("{\"metadata\":{\"namespace\":\"b\"},\"resource\":{\"namespace\":\"c\"}}")
                .resource()
                .namespace())
        .isEqualTo("b");
    assertThat(one("{\"resource\":{\"namespace\":\"c\"}}").resource())
        .isEqualTo(ResourceRef.of(null, null, "c", null));
    Finding bad =
        one(
            "{\"namespace\":\"Not A Namespace\",\"resource\":{\"namespace\":\"c\",\"kind\":\"Pod\"}}");
    assertThat(bad.resource()).isEqualTo(ResourceRef.of(null, "Pod", "c", null));
    assertThat(bad.details()).containsExactly(Map.entry("namespace", "Not A Namespace"));
  }

  @Test
  void topLevelKindAndNameWhenThereIsNoResourceObject() {
    Finding f =
        one(
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\",\"namespace\":\"ops\"}}");
    assertThat(f.resource()).isEqualTo(ResourceRef.of("v1", "ConfigMap", "ops", "cfg"));
    // a resource object wins; the top-level kind/name then stay details
    Finding g =
        one("{\"kind\":\"Alert\",\"name\":\"r1\",\"resource\":{\"kind\":\"Pod\",\"name\":\"p\"}}");
    assertThat(g.resource()).isEqualTo(ResourceRef.of(null, "Pod", null, "p"));
    assertThat(g.details()).containsExactly(Map.entry("kind", "Alert"), Map.entry("name", "r1"));
    // a resource that is a string is not a resource object
    Finding h = one("{\"resource\":\"pod/web-0\"}");
    assertThat(h.resource()).isNull();
    assertThat(h.details()).containsExactly(Map.entry("resource", "pod/web-0"));
  }

  @Test
  void timeFieldsAndFormats() {
    assertThat(
            one("{\"timestamp\":\"2025-03-01T10:00:00Z\",\"time\":\"2025-01-01T00:00:00Z\"}")
                .detectedAt())
        .isEqualTo(Instant.parse("2025-03-01T10:00:00Z"));
    assertThat(one("{\"time\":1740823200.25}").detectedAt())
        .isEqualTo(Instant.parse("2025-03-01T10:00:00.250Z"));
    assertThat(one("{\"@timestamp\":1740823200250}").detectedAt())
        .isEqualTo(Instant.parse("2025-03-01T10:00:00.250Z"));
    assertThat(one("{\"eventTime\":\"2025-03-01T11:00:00.123456789+01:00\"}").detectedAt())
        .isEqualTo(Instant.parse("2025-03-01T10:00:00.123456789Z"));
    // unparsable times fall through to the next field, then to the time of receipt, and stay in the
    // details
    Finding bad =
        one("{\"timestamp\":\"yesterday\",\"time\":-5,\"@timestamp\":0,\"eventTime\":1e400}");
    assertThat(bad.detectedAt()).isEqualTo(RECEIVED);
    assertThat(bad.details()).containsKeys("timestamp", "time", "@timestamp", "eventTime");
    Finding next = one("{\"timestamp\":\"yesterday\",\"time\":\"2025-03-01T10:00:00Z\"}");
    assertThat(next.detectedAt()).isEqualTo(Instant.parse("2025-03-01T10:00:00Z"));
    assertThat(next.details()).containsExactly(Map.entry("timestamp", "yesterday"));
  }

  @Test
  void unicodeIsKeptAsIs() {
    Finding f = normalize("generic/unicode.json").get(0);

    assertThat(f.title()).isEqualTo("Ungültiger Zugriff auf 🔐 Geheimnis «db-password» — 管理者");
    assertThat(f.severity()).isEqualTo(Severity.CRITICAL); // from level: Fatal
    assertThat(f.resource()).isNull(); // prod-ü is no Kubernetes namespace
    assertThat(f.details())
        .containsExactly(
            Map.entry("severity", "критично"),
            Map.entry("namespace", "prod-ü"),
            Map.entry("détail", "données sensibles"),
            Map.entry("emoji", "🚨"));
  }

  @Test
  void anEmptyObjectStillGivesAFindingOfDefaults() {
    Finding f = one("{}");

    assertThat(f.severity()).isEqualTo(Severity.MEDIUM);
    assertThat(f.category()).isEqualTo(Category.SECURITY);
    assertThat(f.eventType()).isEqualTo("custom_event");
    assertThat(f.title()).isEqualTo("custom_event");
    assertThat(f.resource()).isNull();
    assertThat(f.detectedAt()).isEqualTo(RECEIVED);
    assertThat(f.details()).isEmpty();
    assertThat(f.identity())
        .containsExactly("medium", "", "security", "custom_event", "", "", "", "");
  }

  @Test
  void identicalAlertsAtDifferentTimesAreTheSameFinding() {
    ObjectNode a = (ObjectNode) sample("generic/alert.json");
    ObjectNode b = a.deepCopy();
    b.put("timestamp", "2025-03-01T09:15:58Z").put("attempts", 61);

    Finding fa = normalizer.normalize(a, IngestContext.at(RECEIVED)).get(0);
    Finding fb = normalizer.normalize(b, IngestContext.at(RECEIVED.plusSeconds(31))).get(0);

    assertThat(fb.identity()).isEqualTo(fa.identity());
    assertThat(fb.detectedAt()).isNotEqualTo(fa.detectedAt());

    // any mapped field that differs makes another finding
    assertThat(
            one("{\"title\":\"Brute-force login detected\",\"severity\":\"critical\"}").identity())
        .isNotEqualTo(
            one("{\"title\":\"Brute-force login detected\",\"severity\":\"high\"}").identity());
    assertThat(one("{\"title\":\"x\",\"namespace\":\"a\"}").identity())
        .isNotEqualTo(one("{\"title\":\"x\",\"namespace\":\"b\"}").identity());
    assertThat(one("{\"title\":\"x\",\"type\":\"a\"}").identity())
        .isNotEqualTo(one("{\"title\":\"x\",\"type\":\"b\"}").identity());
  }

  @Test
  void detailsStaySmall() {
    StringBuilder sb = new StringBuilder("{\"title\":\"many\"");
    for (int i = 0; i < 100; i++) {
      sb.append(",\"f").append(i).append("\":").append(i);
    }
    sb.append(",\"")
        .append("k".repeat(GenericNormalizer.MAX_DETAIL_KEY + 1))
        .append("\":\"long key\"");
    sb.append(",\"huge\":\"").append("x".repeat(5000)).append("\"}");
    Finding f = one(sb.toString());

    assertThat(f.details())
        .hasSize(Details.MAX_ENTRIES)
        .containsEntry("f0", 0)
        .containsEntry("f23", 23)
        .doesNotContainKey("f24");
    Finding g = one("{\"huge\":\"" + "x".repeat(5000) + "\",\"" + "k".repeat(200) + "\":1}");
    assertThat((String) g.details().get("huge")).hasSize(Details.MAX_STRING);
    assertThat(g.details()).containsOnlyKeys("huge");
    assertThat(one("{\"ratio\":0.25}").details()).containsEntry("ratio", 0.25);
    assertThat(one("{\"big\":123456789012345678901234567890}").details().get("big")).isNotNull();
    assertThat(one("{\"price\":1.5e3}").details().get("price"))
        .isIn(1500.0, new BigDecimal("1.5e3"));
  }

  @Test
  void arraysAndKubernetesListsGiveOneFindingPerObject() {
    assertThat(
            normalizer.normalize(
                parse("[{\"title\":\"a\"},{\"title\":\"b\"}]"), IngestContext.at(RECEIVED)))
        .extracting(Finding::title)
        .containsExactly("a", "b");
    assertThat(
            normalizer.normalize(
                parse("{\"kind\":\"List\",\"items\":[{\"title\":\"a\"}]}"),
                IngestContext.at(RECEIVED)))
        .extracting(Finding::title)
        .containsExactly("a");
    assertThat(normalizer.normalize(parse("[]"), IngestContext.at(RECEIVED))).isEmpty();
  }

  @Test
  void nonObjectsAreRefused() {
    IngestContext ctx = IngestContext.at(RECEIVED);
    for (String bad :
        List.of(
            "\"alert\"", "42", "true", "null", "[{\"title\":\"a\"}, \"b\"]", "[[1]]", "[null]")) {
      assertThatThrownBy(() -> normalizer.normalize(parse(bad), ctx))
          .as(bad)
          .isInstanceOf(InvalidInputException.class);
    }
  }
}
