package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/**
 * What was found. Written once, when the Observation is created; never changed afterwards.
 *
 * @param source the tool that reported it (falco, k8s-audit, trivy, ...)
 * @param eventType what kind of finding, {@code ^[a-z0-9_]+$}
 * @param title one human line
 * @param details small, source specific facts; never the whole raw input
 * @param detectedAt RFC 3339, from the input's own time when it has one
 * @param fingerprint SHA-256 hex of the source and the finding's identity
 * @param clusterName the cluster it was found in, when configured
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ObservationSpec(
    String source,
    Category category,
    Severity severity,
    String eventType,
    ResourceRef resource,
    String title,
    Map<String, Object> details,
    String detectedAt,
    String fingerprint,
    Long ttlSecondsAfterCreation,
    String clusterName) {}
