package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
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
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ObservationSpec(
    @Required @Pattern(SOURCE_PATTERN) @Size(max = SOURCE_MAX_LENGTH) @PrinterColumn(name = "Source") String source,
    @Required @PrinterColumn(name = "Category") Category category,
    @Required @PrinterColumn(name = "Severity") Severity severity,
    @Required @Pattern(EVENT_TYPE_PATTERN) @PrinterColumn(name = "Type") String eventType,
    ResourceRef resource,
    String title,
    @PreserveUnknownFields @SchemaFrom(type = Object.class) Map<String, Object> details,
    @Required String detectedAt,
    @Required @Pattern(FINGERPRINT_PATTERN) String fingerprint,
    Long ttlSecondsAfterCreation,
    String clusterName) {

  /** A DNS-1123 label. */
  public static final String SOURCE_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
  public static final int SOURCE_MAX_LENGTH = 40;
  public static final String EVENT_TYPE_PATTERN = "^[a-z0-9_]+$";
  /** Lower-case SHA-256 hex. */
  public static final String FINGERPRINT_PATTERN = "^[0-9a-f]{64}$";
}
