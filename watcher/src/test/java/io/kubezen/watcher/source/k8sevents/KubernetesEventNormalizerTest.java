package io.kubezen.watcher.source.k8sevents;

import static io.kubezen.watcher.source.Samples.parse;
import static io.kubezen.watcher.source.Samples.sample;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
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

class KubernetesEventNormalizerTest {
  private static final Instant RECEIVED = Instant.parse("2025-03-01T13:00:00Z");
  private final KubernetesEventNormalizer normalizer = new KubernetesEventNormalizer();

  private List<Finding> normalize(String sample) {
    return normalizer.normalize(sample(sample), IngestContext.at(RECEIVED));
  }

  private static String summary(Finding f) {
    return f.details().get("reason")
        + " -> "
        + f.eventType()
        + "/"
        + f.severity().wire()
        + "/"
        + f.category().wire()
        + " ["
        + f.details().get("rule")
        + "]";
  }

  @Test
  void isAnEventSourceNamedK8sEvents() {
    assertThat(normalizer.source()).isEqualTo("k8s-events");
    assertThat(normalizer.kind()).isEqualTo(SourceKind.EVENT);
  }

  @Test
  void coreV1WarningsOfEveryRuleAndNothingForNormalOrIrrelevantOnes() {
    List<Finding> findings = normalize("k8s-events/core-v1-list.json");

    assertThat(findings)
        .extracting(KubernetesEventNormalizerTest::summary)
        .containsExactly(
            "FailedCreate -> policy_violation/high/security [pod-security-violation]",
            "FailedCreate -> policy_violation/high/security [admission-webhook-denied]",
            "PolicyViolation -> policy_violation/medium/security [policy-violation]",
            "FailedCreate -> resource_exhaustion/medium/operations [quota-exceeded]",
            "FailedCreate -> access_control_violation/high/security [forbidden-write]",
            "FailedScheduling -> resource_exhaustion/medium/operations [insufficient-resources]",
            "OOMKilling -> resource_exhaustion/high/operations [oom]",
            "Evicted -> resource_exhaustion/medium/operations [evicted]",
            "Failed -> image_pull_failure/medium/operations [image-pull-failed]",
            "BackOff -> image_pull_failure/medium/operations [image-pull-failed]",
            "FailedMount -> storage_failure/medium/operations [storage]",
            "BackOff -> workload_failure/medium/operations [crash-loop]",
            "Unhealthy -> workload_failure/low/operations [unhealthy]");
    assertThat(findings).allSatisfy(f -> assertThat(f.source()).isEqualTo("k8s-events"));
  }

  @Test
  void podSecurityRefusalInFull() {
    Finding f = normalize("k8s-events/core-v1-list.json").get(0);

    assertThat(f.resource())
        .isEqualTo(ResourceRef.of("apps/v1", "ReplicaSet", "web", "nginx-7c5ddbdf54"));
    assertThat(f.detectedAt()).isEqualTo(Instant.parse("2025-03-01T10:05:00Z"));
    assertThat(f.title())
        .startsWith(
            "FailedCreate on ReplicaSet web/nginx-7c5ddbdf54: Error creating: pods \"nginx-7c5ddbdf54-x2v7k\" is forbidden: violates PodSecurity");
    assertThat(f.details())
        .containsOnlyKeys(
            "reason",
            "message",
            "rule",
            "reportingComponent",
            "count",
            "firstTimestamp",
            "lastTimestamp",
            "involvedObjectUid");
    assertThat(f.details())
        .contains(
            Map.entry("reason", "FailedCreate"),
            Map.entry("rule", "pod-security-violation"),
            Map.entry("reportingComponent", "replicaset-controller"),
            Map.entry("count", 14L),
            Map.entry("firstTimestamp", "2025-03-01T10:00:00Z"),
            Map.entry("lastTimestamp", "2025-03-01T10:05:00Z"),
            Map.entry("involvedObjectUid", "6f1c1d2e-0001-4a5b-9c8d-000000000001"));
    assertThat((String) f.details().get("message"))
        .startsWith("Error creating: pods")
        .contains("runAsNonRoot != true");
    assertThat(f.identity())
        .containsExactly(
            "uid:6f1c1d2e-0001-4a5b-9c8d-000000000001", "FailedCreate", "policy_violation");
    // the example Observation in docs/sources/k8s-events.md (60 s dedup window)
    assertThat(Fingerprint.of("k8s-events", f.identity(), f.detectedAt().getEpochSecond() / 60))
        .isEqualTo("e1cf43daa0c87923fbe90b4c399c22d86fd58757f4c7fe522f0f6014a4aec86d");
  }

  @Test
  void multiLineWebhookDenialGivesAOneLineTitle() {
    Finding f = normalize("k8s-events/core-v1-list.json").get(1);

    assertThat(f.title())
        .doesNotContain("\n")
        .contains(
            "admission webhook \"validate.kyverno.svc-fail\" denied the request: resource Pod/web/api-5d8f7b9c6-abcde");
  }

  @Test
  void schedulerEventWithOnlyEventTimeAndReportingComponent() {
    Finding f = normalize("k8s-events/core-v1-list.json").get(5);

    assertThat(f.detectedAt()).isEqualTo(Instant.parse("2025-03-01T10:02:03.412345Z"));
    assertThat(f.details())
        .containsEntry("reportingComponent", "default-scheduler")
        .containsEntry("firstTimestamp", "2025-03-01T10:02:03.412345Z")
        .doesNotContainKey("count");
  }

  @Test
  void nodeEventsAreClusterScoped() {
    Finding oom = normalize("k8s-events/core-v1-list.json").get(6);

    assertThat(oom.resource()).isEqualTo(ResourceRef.of("v1", "Node", null, "worker-2"));
    assertThat(oom.title()).startsWith("OOMKilling on Node worker-2: Memory cgroup out of memory");
    assertThat(oom.details()).containsEntry("reportingComponent", "kernel-monitor");
  }

  @Test
  void containerFieldPathIsKept() {
    Finding pull = normalize("k8s-events/core-v1-list.json").get(8);

    assertThat(pull.details())
        .containsEntry("fieldPath", "spec.containers{api}")
        .containsEntry("count", 4L);
  }

  @Test
  void warningsAboutAccessObjectsAndNetworkPolicies() {
    List<Finding> findings = normalize("k8s-events/access-objects.json");

    assertThat(findings)
        .extracting(KubernetesEventNormalizerTest::summary)
        .containsExactly(
            "ReflectionFailed -> access_control_violation/medium/security [access-object-warning]",
            "TokenRequestFailed -> access_control_violation/medium/security [access-object-warning]",
            "PolicyInvalid -> policy_violation/medium/security [network-policy-warning]");
    assertThat(findings.get(0).resource())
        .isEqualTo(ResourceRef.of("v1", "Secret", "web", "tls-web"));
    assertThat(findings.get(2).resource())
        .isEqualTo(ResourceRef.of("networking.k8s.io/v1", "NetworkPolicy", "web", "default-deny"));
  }

  @Test
  void eventsK8sIoListWhoseItemsCarryNoKind() {
    List<Finding> findings = normalize("k8s-events/events-v1-list.json");

    assertThat(findings)
        .extracting(KubernetesEventNormalizerTest::summary)
        .containsExactly(
            "FailedScheduling -> resource_exhaustion/medium/operations [insufficient-resources]",
            "BackoffLimitExceeded -> workload_failure/medium/operations [job-failed]");

    Finding sched = findings.get(0);
    assertThat(sched.resource()).isEqualTo(ResourceRef.of("v1", "Pod", "web", "web-2"));
    assertThat(sched.detectedAt()).isEqualTo(Instant.parse("2025-03-01T11:07:30.000001Z"));
    assertThat(sched.details())
        .contains(
            Map.entry(
                "message",
                "0/4 nodes are available: 4 Insufficient memory. preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod."),
            Map.entry("reportingComponent", "default-scheduler"),
            Map.entry("count", 8L),
            Map.entry("firstTimestamp", "2025-03-01T11:00:00.103456Z"),
            Map.entry("lastTimestamp", "2025-03-01T11:07:30.000001Z"));

    Finding job = findings.get(1);
    assertThat(job.detectedAt()).isEqualTo(Instant.parse("2025-03-01T10:52:10Z"));
    assertThat(job.details())
        .contains(
            Map.entry("reportingComponent", "job-controller"),
            Map.entry("count", 1L),
            Map.entry("firstTimestamp", "2025-03-01T10:50:00Z"));
    assertThat(job.identity())
        .containsExactly(
            "uid:c7d1e2f3-4444-4a5b-9c8d-0000000000b4", "BackoffLimitExceeded", "workload_failure");
  }

  @Test
  void singleEventsK8sIoEventAboutAClusterRoleBinding() {
    List<Finding> findings = normalize("k8s-events/events-v1-single.json");

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.eventType()).isEqualTo("access_control_violation");
              assertThat(f.severity()).isEqualTo(Severity.HIGH);
              assertThat(f.category()).isEqualTo(Category.SECURITY);
              assertThat(f.resource())
                  .isEqualTo(
                      ResourceRef.of(
                          "rbac.authorization.k8s.io/v1",
                          "ClusterRoleBinding",
                          null,
                          "deployer-admin"));
              assertThat(f.detectedAt()).isEqualTo(Instant.parse("2025-03-01T12:00:00.500Z"));
              assertThat(f.details())
                  .containsEntry("rule", "forbidden-reason")
                  .containsEntry("reportingComponent", "argocd-application-controller");
            });
  }

  @Test
  void aRepeatOfTheSameEventHasTheSameIdentityAndAnotherReasonDoesNot() {
    ObjectNode first = (ObjectNode) sample("k8s-events/core-v1-list.json").at("/items/11");
    ObjectNode repeat = first.deepCopy();
    repeat.put("count", 123).put("lastTimestamp", "2025-03-01T10:05:30Z");
    repeat.with("metadata").put("resourceVersion", "48400");

    Finding a = normalizer.normalize(first, IngestContext.at(RECEIVED)).get(0);
    Finding b = normalizer.normalize(repeat, IngestContext.at(RECEIVED.plusSeconds(30))).get(0);

    assertThat(b.identity()).isEqualTo(a.identity());
    assertThat(b.details()).containsEntry("count", 123L);
    assertThat(b.detectedAt()).isEqualTo(Instant.parse("2025-03-01T10:05:30Z"));

    List<Finding> all = normalize("k8s-events/core-v1-list.json");
    assertThat(all.get(8).resource()).isEqualTo(all.get(9).resource());
    assertThat(all.get(8).identity()).isNotEqualTo(all.get(9).identity());
  }

  @Test
  void withoutAUidTheIdentityIsKindNamespaceName() {
    List<Finding> findings =
        normalizer.normalize(
            parse(
                """
        {"apiVersion":"v1","kind":"Event","type":"Warning","reason":"BackOff",
         "message":"Back-off restarting failed container app in pod app-0_shop(…)",
         "involvedObject":{"kind":"Pod","namespace":"shop","name":"app-0"}}
        """),
            IngestContext.at(RECEIVED));

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.identity())
                  .containsExactly("Pod/shop/app-0", "BackOff", "workload_failure");
              assertThat(f.detectedAt()).isEqualTo(RECEIVED);
              assertThat(f.details())
                  .doesNotContainKeys(
                      "involvedObjectUid", "firstTimestamp", "lastTimestamp", "count");
            });
  }

  @Test
  void missingFieldsAreTolerated() {
    assertThat(
            normalizer.normalize(
                parse(
                    """
        {"apiVersion":"v1","kind":"Event","type":"Warning","reason":"Forbidden"}
        """),
                IngestContext.at(RECEIVED)))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.resource()).isNull();
              assertThat(f.title()).isEqualTo("Forbidden");
              assertThat(f.identity()).containsExactly("", "Forbidden", "access_control_violation");
            });
    // no type, no reason: not a Warning, nothing to say
    assertThat(
            normalizer.normalize(
                parse("{\"apiVersion\":\"v1\",\"kind\":\"Event\"}"), IngestContext.at(RECEIVED)))
        .isEmpty();
    assertThat(normalizer.normalize(parse("[]"), IngestContext.at(RECEIVED))).isEmpty();
    assertThat(
            normalizer.normalize(
                parse("{\"apiVersion\":\"v1\",\"kind\":\"EventList\",\"items\":[]}"),
                IngestContext.at(RECEIVED)))
        .isEmpty();
  }

  @Test
  void unparsableTimesFallBackToTheTimeOfReceipt() {
    Finding f =
        normalizer
            .normalize(
                parse(
                    """
        {"apiVersion":"v1","kind":"Event","type":"Warning","reason":"FailedMount","message":"timed out",
         "lastTimestamp":"yesterday","involvedObject":{"kind":"Pod","namespace":"a","name":"b","uid":"u1"}}
        """),
                IngestContext.at(RECEIVED))
            .get(0);

    assertThat(f.detectedAt()).isEqualTo(RECEIVED);
  }

  @Test
  void anythingButAnEventIsRefusedNamingWhatWasFound() {
    IngestContext ctx = IngestContext.at(RECEIVED);
    assertThatThrownBy(() -> normalizer.normalize(sample("k8s-events/audit-event.json"), ctx))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("found Event audit.k8s.io/v1")
        .hasMessageContaining("/ingest/k8s-audit");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    parse("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{}}"), ctx))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("found Pod v1");
    assertThatThrownBy(
            () -> normalizer.normalize(parse("{\"output\":\"x\",\"priority\":\"Warning\"}"), ctx))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("no apiVersion/kind and fields [output, priority]");
    assertThatThrownBy(
            () ->
                normalizer.normalize(
                    parse("[{\"apiVersion\":\"v1\",\"kind\":\"Event\"}, 42]"), ctx))
        .isInstanceOf(InvalidInputException.class);
    assertThatThrownBy(() -> normalizer.normalize(parse("\"Warning\""), ctx))
        .isInstanceOf(InvalidInputException.class);
  }

  @Test
  void oneBadItemRefusesTheWholeBatch() {
    String batch =
        """
        {"kind":"List","apiVersion":"v1","items":[
          {"apiVersion":"v1","kind":"Event","type":"Warning","reason":"Forbidden","involvedObject":{"kind":"Pod","name":"a"}},
          {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}
        ]}""";
    assertThatThrownBy(() -> normalizer.normalize(parse(batch), IngestContext.at(RECEIVED)))
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("found ConfigMap v1");
  }
}
