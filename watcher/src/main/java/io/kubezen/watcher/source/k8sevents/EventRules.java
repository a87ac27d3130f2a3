package io.kubezen.watcher.source.k8sevents;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The one place that decides which Warning Events are security relevant, and what they are. An
 * ordered table: the first rule whose conditions all hold wins; a Warning that matches no rule is
 * not a finding. Documented, rule for rule, in docs/sources/k8s-events.md (keep both in step).
 */
public final class EventRules {

  /** eventTypes this source produces. */
  public static final String ACCESS_CONTROL_VIOLATION = "access_control_violation";

  public static final String POLICY_VIOLATION = "policy_violation";
  public static final String RESOURCE_EXHAUSTION = "resource_exhaustion";
  public static final String IMAGE_PULL_FAILURE = "image_pull_failure";
  public static final String STORAGE_FAILURE = "storage_failure";
  public static final String WORKLOAD_FAILURE = "workload_failure";

  /**
   * One row of the table. Every condition that is set must hold: {@code reason} matches the whole
   * reason, {@code message} is found anywhere in the message (both case-insensitive), and the
   * involved object's kind is one of {@code kinds}.
   *
   * @param name a stable name, kept in the finding's details ({@code rule})
   */
  public record Rule(
      String name,
      Pattern reason,
      Pattern message,
      Set<String> kinds,
      String eventType,
      Severity severity) {

    public boolean matches(String eventReason, String eventMessage, String involvedKind) {
      if (reason != null && (eventReason == null || !reason.matcher(eventReason).matches())) {
        return false;
      }
      if (message != null && (eventMessage == null || !message.matcher(eventMessage).find())) {
        return false;
      }
      return kinds == null || (involvedKind != null && kinds.contains(involvedKind));
    }

    /** security for access and policy violations, operations for the rest. */
    public Category category() {
      return categoryOf(eventType);
    }
  }

  static final Set<String> ACCESS_KINDS =
      Set.of(
          "Secret", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding");

  // What the kubelet writes when a pull fails: "Failed to pull image ...", "Error: ErrImagePull",
  // "Back-off pulling image ...", "Failed to inspect image ...", "Failed to apply default image tag
  // ...".
  private static final String IMAGE_PULL_WORDS =
      "pull(ing)? image|image pull|ErrImagePull|ImagePullBackOff|ErrImageNeverPull|inspect image|image reference|InvalidImageName";

  /** The table, in order. */
  public static final List<Rule> RULES =
      List.of(
          // 1. Admission: policies that refused an object (PodSecurity, webhooks such as Kyverno or
          // Gatekeeper).
          rule(
              "pod-security-violation",
              null,
              "violates PodSecurity",
              null,
              POLICY_VIOLATION,
              Severity.HIGH),
          rule(
              "admission-webhook-denied",
              null,
              "admission webhook .{0,200}denied",
              null,
              POLICY_VIOLATION,
              Severity.HIGH),
          rule(
              "admission-policy-denied",
              null,
              "ValidatingAdmissionPolicy .{0,200}denied",
              null,
              POLICY_VIOLATION,
              Severity.HIGH),
          rule(
              "policy-violation",
              "PolicyViolation|FailedAdmission|AuditViolation|DryrunViolation",
              null,
              null,
              POLICY_VIOLATION,
              Severity.MEDIUM),
          rule(
              "limit-range-violation",
              null,
              "forbidden: (maximum|minimum) .{0,80}usage per",
              null,
              POLICY_VIOLATION,
              Severity.MEDIUM),
          rule(
              "run-as-non-root-refused",
              "Failed",
              "runAsNonRoot",
              null,
              POLICY_VIOLATION,
              Severity.MEDIUM),
          // 2. Quota refusals (the API answers 403 "forbidden: exceeded quota", so before the
          // access rules).
          rule(
              "quota-exceeded",
              null,
              "exceeded quota|failed quota",
              null,
              RESOURCE_EXHAUSTION,
              Severity.MEDIUM),
          // 3. Access control.
          rule(
              "forbidden-reason",
              ".*(Forbidden|Unauthori[sz]ed).*",
              null,
              null,
              ACCESS_CONTROL_VIOLATION,
              Severity.HIGH),
          rule(
              "forbidden-write",
              "Failed(Create|Delete|Update|Patch|Get|List)\\w*",
              "\\bforbidden\\b|\\bunauthori[sz]ed\\b|\\bRBAC\\b|cannot (get|list|watch|create|update|patch|delete)",
              null,
              ACCESS_CONTROL_VIOLATION,
              Severity.HIGH),
          // 4. Any Warning about the objects that grant or hold access, or restrict the network.
          rule(
              "access-object-warning",
              null,
              null,
              ACCESS_KINDS,
              ACCESS_CONTROL_VIOLATION,
              Severity.MEDIUM),
          rule(
              "network-policy-warning",
              null,
              null,
              Set.of("NetworkPolicy"),
              POLICY_VIOLATION,
              Severity.MEDIUM),
          // 5. Resource exhaustion.
          rule("oom", "OOMKill\\w*|SystemOOM", null, null, RESOURCE_EXHAUSTION, Severity.HIGH),
          rule(
              "evicted",
              "Evicted|Evicting|EvictionThresholdMet|Preempted|Preempting",
              null,
              null,
              RESOURCE_EXHAUSTION,
              Severity.MEDIUM),
          rule(
              "insufficient-resources",
              "FailedScheduling",
              "Insufficient \\S+|Too many pods|node\\(s\\) didn't have free ports",
              null,
              RESOURCE_EXHAUSTION,
              Severity.MEDIUM),
          rule(
              "node-disk-pressure",
              "FreeDiskSpaceFailed|ImageGCFailed|ContainerGCFailed",
              null,
              null,
              RESOURCE_EXHAUSTION,
              Severity.LOW),
          // 6. Images (before the workload rules: "Failed" and "BackOff" also name image pulls).
          rule(
              "image-pull-reason",
              "ErrImagePull|ImagePullBackOff|ErrImageNeverPull|InspectFailed|InvalidImageName|"
                  + "FailedToRetrieveImagePullSecret",
              null,
              null,
              IMAGE_PULL_FAILURE,
              Severity.MEDIUM),
          rule(
              "image-pull-failed",
              "Failed|BackOff",
              IMAGE_PULL_WORDS,
              null,
              IMAGE_PULL_FAILURE,
              Severity.MEDIUM),
          // 7. Storage.
          rule(
              "storage",
              "FailedMount|FailedAttachVolume|FailedDetachVolume|FailedMapVolume|FailedUnMount|"
                  + "FailedBinding|ProvisioningFailed|VolumeResizeFailed|FileSystemResizeFailed|VolumeFailedDelete|"
                  + "FailedUnmapDevice",
              null,
              null,
              STORAGE_FAILURE,
              Severity.MEDIUM),
          // 8. Workloads.
          rule(
              "crash-loop",
              "BackOff|CrashLoopBackOff",
              null,
              null,
              WORKLOAD_FAILURE,
              Severity.MEDIUM),
          rule(
              "job-failed",
              "BackoffLimitExceeded|DeadlineExceeded|FailedIndexes",
              null,
              null,
              WORKLOAD_FAILURE,
              Severity.MEDIUM),
          rule(
              "container-failed",
              "Failed|FailedCreate|FailedDaemonPod",
              null,
              null,
              WORKLOAD_FAILURE,
              Severity.MEDIUM),
          rule("unhealthy", "Unhealthy|ProbeWarning", null, null, WORKLOAD_FAILURE, Severity.LOW),
          rule(
              "pod-lifecycle",
              "FailedKillPod|FailedPreStopHook|FailedPostStartHook|ExceededGracePeriod|"
                  + "FailedCreatePodSandBox|FailedCreatePodContainer|FailedPodSandBoxStatus|FailedSync|FailedValidation|"
                  + "FailedDelete|FailedScheduling",
              null,
              null,
              WORKLOAD_FAILURE,
              Severity.LOW));

  private EventRules() {}

  /** The first rule that matches, or empty: the Warning is not security relevant. */
  public static Optional<Rule> match(String reason, String message, String involvedKind) {
    for (Rule r : RULES) {
      if (r.matches(reason, message, involvedKind)) {
        return Optional.of(r);
      }
    }
    return Optional.empty();
  }

  static Category categoryOf(String eventType) {
    return ACCESS_CONTROL_VIOLATION.equals(eventType) || POLICY_VIOLATION.equals(eventType)
        ? Category.SECURITY
        : Category.OPERATIONS;
  }

  private static Rule rule(
      String name,
      String reason,
      String message,
      Set<String> kinds,
      String eventType,
      Severity severity) {
    return new Rule(
        name,
        reason == null ? null : Pattern.compile(reason, Pattern.CASE_INSENSITIVE),
        message == null ? null : Pattern.compile(message, Pattern.CASE_INSENSITIVE),
        kinds,
        eventType,
        severity);
  }
}
