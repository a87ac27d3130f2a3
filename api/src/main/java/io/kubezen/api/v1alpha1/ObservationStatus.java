package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;

/**
 * How often and when the finding was seen. {@code count} is the number of times it was reported,
 * the first included; repeats move {@code lastSeen}.
 */
@JsonClassDescription(
    "How often and when the finding was seen, and whether it is resolved. Written by zen-watcher"
        + " through the status subresource, from the first repeat on. A new Observation has the schema default {count: 1}"
        + " (seen once, at spec.detectedAt).")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ObservationStatus(
    @JsonPropertyDescription(
            "How many times the finding was reported, the first time included (1 or more). Repeats"
                + " are added in batches, one update per Observation per DEDUP_FLUSH_INTERVAL_MILLIS. The Count column of"
                + " kubectl get obs; 1 from creation (the schema default).")
        @PrinterColumn(name = "Count")
        Long count,
    @JsonPropertyDescription(
            "RFC 3339 time of the first report: the spec.detectedAt of the first one.")
        String firstSeen,
    @JsonPropertyDescription(
            "RFC 3339 time of the latest report (its detectedAt); equal to firstSeen until a repeat"
                + " with a later time arrives.")
        String lastSeen,
    @JsonPropertyDescription(
            "true when the finding is gone from its report, or the report was deleted (watched,"
                + " state-like sources only: trivy, kyverno, kube-bench, checkov, informer Ingesters); false or absent while it"
                + " is open. Set back to false when the finding comes back.")
        Boolean resolved,
    @JsonPropertyDescription(
            "RFC 3339 time the finding was marked resolved; absent while it is open. The Observation"
                + " is deleted at this time plus spec.ttlSecondsAfterCreation.")
        String resolvedAt) {

  public static ObservationStatus seen(long count, String firstSeen, String lastSeen) {
    return new ObservationStatus(count, firstSeen, lastSeen, null, null);
  }
}
