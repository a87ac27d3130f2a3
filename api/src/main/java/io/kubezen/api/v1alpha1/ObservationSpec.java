package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.crd.generator.annotation.PrinterColumn;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.Map;

/**
 * What was found. Written once, when the Observation is created; never changed afterwards.
 *
 * <p>The annotations shape the generated CRD schema (charts/zen-watcher/crds/, see docs/crds.md):
 * the API server rejects an Observation that breaks them with 422.
 *
 * @param source the tool that reported it (falco, k8s-audit, trivy, ...): a DNS-1123 label of at
 *     most 40 characters, so that {@code <source>-<16 hex>} is a valid object name
 * @param eventType what kind of finding, {@code ^[a-z0-9_]+$}
 * @param title one human line
 * @param details small, source specific facts; never the whole raw input
 * @param detectedAt RFC 3339, from the input's own time when it has one
 * @param fingerprint SHA-256 hex of the source and the finding's identity
 * @param clusterName the cluster it was found in, when configured
 */
@JsonClassDescription(
    "What was found: the finding, normalized from the reporting tool's own format. Written once, when"
        + " the Observation is created, and never changed afterwards; repeats and resolution are in status.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ObservationSpec(
    @JsonPropertyDescription(
            "The source that reported the finding: a built-in one (falco, k8s-audit, trivy, kyverno,"
                + " kube-bench, checkov, k8s-events), a generic webhook source (the <name> of POST /ingest/<name>) or the"
                + " spec.source of an Ingester. A DNS-1123 label of at most 40 characters, so that the Observation's name"
                + " <source>-<first 16 hex digits of the fingerprint> is a valid object name. Copied to the label"
                + " zen.kube-zen.io/source.")
        @Required
        @Pattern(SOURCE_PATTERN)
        @Size(max = SOURCE_MAX_LENGTH)
        @PrinterColumn(name = "Source")
        String source,
    @JsonPropertyDescription(
            "The area the finding belongs to: security, compliance, performance, operations or cost."
                + " Copied to the label zen.kube-zen.io/category.")
        @Required
        @PrinterColumn(name = "Category")
        Category category,
    @JsonPropertyDescription(
            "How serious the finding is, on zen-watcher's scale, most serious first: critical, high,"
                + " medium, low, info. Each source maps its own levels onto it (Falco priorities, Trivy severities, ...: see"
                + " docs/sources/). Copied to the label zen.kube-zen.io/severity, so kubectl get obs -l"
                + " zen.kube-zen.io/severity=critical selects on it.")
        @Required
        @PrinterColumn(name = "Severity")
        Severity severity,
    @JsonPropertyDescription(
            "What kind of finding it is, in lower-case snake case (^[a-z0-9_]+$): runtime_threat"
                + " (Falco), vulnerability (Trivy), policy_violation (Kyverno), cis_benchmark_fail (kube-bench),"
                + " static_analysis (Checkov), pod_exec and others (k8s-audit), image_pull_failure and others (k8s-events);"
                + " custom_event when a generic source or an Ingester gives none that fits. The Type column of kubectl get obs.")
        @Required
        @Pattern(EVENT_TYPE_PATTERN)
        @PrinterColumn(name = "Type")
        String eventType,
    @JsonPropertyDescription(
            "The Kubernetes object the finding is about. Absent when there is none (a host-level Falco"
                + " alert, a kube-bench result that names no node).")
        ResourceRef resource,
    @JsonPropertyDescription(
            "One human-readable line saying what was found, built from the input's own text (for"
                + " example a Falco rule with the pod or host it fired on; a CVE with its package, version and image for"
                + " Trivy; see docs/sources/). Untrusted text from the reporting tool.")
        String title,
    @JsonPropertyDescription(
            "Small, source-specific facts about the finding as JSON values (for example the Falco"
                + " rule and output fields; the CVE id, package, installed and fixed version of a Trivy vulnerability; the"
                + " policy and rule of a Kyverno result); the keys of each source are listed in docs/sources/. Never the whole"
                + " raw input: in Kubernetes mode cut to OBSERVATION_MAX_DETAILS_BYTES (default 8192 bytes of JSON), largest"
                + " values first, with truncated: true when cut. Untrusted text from the reporting tool.")
        @PreserveUnknownFields
        @SchemaFrom(type = Object.class)
        Map<String, Object> details,
    @JsonPropertyDescription(
            "When the finding was detected, an RFC 3339 timestamp in UTC (for example"
                + " 2026-11-22T10:15:30.123456789Z): the input's own time when it carries one, else the time zen-watcher"
                + " received it.")
        @Required
        String detectedAt,
    @JsonPropertyDescription(
            "The finding's identity: lower-case hex SHA-256 (64 digits) of the source and the fields"
                + " that make two reports the same finding, plus the dedup time bucket for event-like sources (falco,"
                + " k8s-audit, k8s-events, generic and webhook Ingesters). Reports with the same fingerprint are one"
                + " Observation (status.count); its first 16 digits are in the Observation's name.")
        @Required
        @Pattern(FINGERPRINT_PATTERN)
        String fingerprint,
    @JsonPropertyDescription(
            "Time to live in seconds (OBSERVATION_TTL_SECONDS when the Observation was created; default"
                + " 604800, 7 days). The garbage collector deletes a resolved Observation at status.resolvedAt plus this, an"
                + " open one from a watched report (trivy, kyverno, kube-bench, checkov, informer Ingesters) never while its"
                + " finding is still in the report, and any other at metadata.creationTimestamp plus this, however recent its"
                + " last repeat.")
        Long ttlSecondsAfterCreation,
    @JsonPropertyDescription(
            "The name of the cluster the finding was made in (the CLUSTER_NAME setting), to tell"
                + " clusters apart where findings of several are gathered; absent when not configured.")
        String clusterName) {

  /** A DNS-1123 label. */
  public static final String SOURCE_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

  public static final int SOURCE_MAX_LENGTH = 40;
  public static final String EVENT_TYPE_PATTERN = "^[a-z0-9_]+$";

  /** Lower-case SHA-256 hex. */
  public static final String FINGERPRINT_PATTERN = "^[0-9a-f]{64}$";
}
