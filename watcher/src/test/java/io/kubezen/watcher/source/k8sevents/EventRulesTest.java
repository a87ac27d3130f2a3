package io.kubezen.watcher.source.k8sevents;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.watcher.model.Finding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EventRulesTest {

  @ParameterizedTest(name = "{0} / {1} / {2} -> {3}")
  @CsvSource(
      delimiter = '|',
      nullValues = "-",
      textBlock =
          """
      FailedCreate      | pods "x" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes  | ReplicaSet | pod-security-violation
      FailedCreate      | admission webhook "validation.gatekeeper.sh" denied the request: [psp] no     | DaemonSet  | admission-webhook-denied
      FailedCreate      | ValidatingAdmissionPolicy 'no-latest' with binding 'b' denied request: tag      | ReplicaSet | admission-policy-denied
      PolicyViolation   | policy disallow-latest-tag/validate-image-tag fail                             | Pod        | policy-violation
      FailedAdmission   | Gatekeeper denied the request                                                   | Pod        | policy-violation
      FailedCreate      | pods "x" is forbidden: maximum cpu usage per Container is 2, but limit is 4     | ReplicaSet | limit-range-violation
      Failed            | Error: container has runAsNonRoot and image will run as root (pod: "p")         | Pod        | run-as-non-root-refused
      FailedCreate      | pods "x" is forbidden: exceeded quota: q, requested: pods=1                      | Job        | quota-exceeded
      ProvisioningFailed| persistentvolumeclaims "d" is forbidden: exceeded quota: storage               | PersistentVolumeClaim | quota-exceeded
      Forbidden         | -                                                                               | -          | forbidden-reason
      Unauthorized      | token expired                                                                   | Pod        | forbidden-reason
      FailedCreate      | pods "x" is forbidden: error looking up service account a/b                     | ReplicaSet | forbidden-write
      FailedGet         | User "u" cannot get resource "configmaps"; RBAC: role "r" not found             | Deployment | forbidden-write
      SyncFailed        | anything                                                                        | Secret     | access-object-warning
      Anything          | -                                                                               | ClusterRoleBinding | access-object-warning
      Anything          | -                                                                               | NetworkPolicy | network-policy-warning
      OOMKilling        | Memory cgroup out of memory: Killed process 1 (java)                            | Node       | oom
      SystemOOM         | System OOM encountered, victim process: java, pid: 42                           | Node       | oom
      Evicted           | The node was low on resource: ephemeral-storage.                                | Pod        | evicted
      EvictionThresholdMet | Attempting to reclaim memory                                                 | Node       | evicted
      FailedScheduling  | 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.                        | Pod        | insufficient-resources
      FailedScheduling  | 0/3 nodes are available: 3 Too many pods.                                       | Pod        | insufficient-resources
      FailedScheduling  | 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.  | Pod        | pod-lifecycle
      ImageGCFailed     | failed to garbage collect required amount of images                             | Node       | node-disk-pressure
      ErrImagePull      | -                                                                               | Pod        | image-pull-reason
      InspectFailed     | Failed to apply default image tag "Nginx": couldn't parse image reference       | Pod        | image-pull-reason
      Failed            | Error: ImagePullBackOff                                                         | Pod        | image-pull-failed
      Failed            | Error: ErrImagePull                                                             | Pod        | image-pull-failed
      BackOff           | Back-off pulling image "busybox:nope"                                           | Pod        | image-pull-failed
      FailedAttachVolume| AttachVolume.Attach failed for volume "pvc-1" : rpc error: timed out            | Pod        | storage
      FailedBinding     | no persistent volumes available for this claim and no storage class is set      | PersistentVolumeClaim | storage
      BackOff           | Back-off restarting failed container app in pod app-0_ns(uid)                   | Pod        | crash-loop
      BackoffLimitExceeded | Job has reached the specified backoff limit                                  | Job        | job-failed
      Failed            | Error: failed to create containerd task: exec: "app": not found                 | Pod        | container-failed
      FailedCreate      | Error creating: Pod "x" is invalid: spec.containers[0].image: Required value    | ReplicaSet | container-failed
      Unhealthy         | Liveness probe failed: Get "http://10.0.0.1:8080/healthz": connection refused   | Pod        | unhealthy
      FailedKillPod     | error killing pod: failed to "KillPodSandbox"                                   | Pod        | pod-lifecycle
      FailedCreatePodSandBox | Failed to create pod sandbox: rpc error                                    | Pod        | pod-lifecycle
      """)
  void ruleTable(String reason, String message, String kind, String rule) {
    assertThat(EventRules.match(reason, message, kind)).map(EventRules.Rule::name).contains(rule);
  }

  @ParameterizedTest(name = "{0} / {1} -> none")
  @CsvSource(
      delimiter = '|',
      nullValues = "-",
      textBlock =
          """
      DNSConfigForming        | Nameserver limits were exceeded                       | Pod
      FailedGetResourceMetric | failed to get cpu utilization: missing request for cpu | HorizontalPodAutoscaler
      Rebooted                | Node worker-1 has been rebooted                        | Node
      -                       | -                                                      | -
      """)
  void warningsOfNoRuleAreNotFindings(String reason, String message, String kind) {
    assertThat(EventRules.match(reason, message, kind)).isEqualTo(Optional.empty());
  }

  @Test
  void everyRuleHasAUniqueNameAValidEventTypeAndTheDocumentedCategory() {
    assertThat(EventRules.RULES).extracting(EventRules.Rule::name).doesNotHaveDuplicates();
    assertThat(EventRules.RULES)
        .allSatisfy(
            r -> {
              assertThat(r.eventType()).matches(Finding.EVENT_TYPE);
              assertThat(r.category())
                  .isEqualTo(
                      r.eventType().equals("access_control_violation")
                              || r.eventType().equals("policy_violation")
                          ? Category.SECURITY
                          : Category.OPERATIONS);
            });
  }

  @Test
  void theDocumentedTableListsEveryRuleInOrderWithItsEventTypeAndSeverity() throws IOException {
    List<String> rows =
        Files.readAllLines(Path.of("../docs/sources/k8s-events.md")).stream()
            .filter(l -> l.matches("\\| \\d+ \\| `[a-z0-9-]+` \\|.*"))
            .toList();

    assertThat(rows).hasSize(EventRules.RULES.size());
    for (int i = 0; i < rows.size(); i++) {
      EventRules.Rule r = EventRules.RULES.get(i);
      assertThat(rows.get(i))
          .as("row %d", i + 1)
          .startsWith("| " + (i + 1) + " | `" + r.name() + "` |")
          .endsWith("| " + r.eventType() + " | " + r.severity().wire() + " |");
    }
  }
}
