package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.crd.generator.annotation.PrinterColumn;

/**
 * How often and when the finding was seen. {@code count} is the number of times it was reported,
 * the first included; repeats move {@code lastSeen}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ObservationStatus(
    @PrinterColumn(name = "Count") Long count, String firstSeen, String lastSeen, Boolean resolved, String resolvedAt) {

  public static ObservationStatus seen(long count, String firstSeen, String lastSeen) {
    return new ObservationStatus(count, firstSeen, lastSeen, null, null);
  }
}
