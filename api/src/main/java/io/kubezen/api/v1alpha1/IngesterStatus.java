package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/**
 * How an Ingester is doing: condition {@code Ready} True when it is valid and running, False with a
 * message saying what is wrong; and per-source activity.
 */
@JsonClassDescription(
    "How the Ingester is doing, written by zen-watcher through the status subresource: whether it is"
        + " valid and running (condition Ready), and what it has received and created. Counts are written every"
        + " INGESTER_STATUS_INTERVAL_SECONDS at most, not per event.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record IngesterStatus(
    @JsonPropertyDescription(
            "The metadata.generation of the spec the conditions describe; lower than"
                + " metadata.generation while a change is not yet applied.")
        Long observedGeneration,
    @JsonPropertyDescription("The Ingester's conditions; zen-watcher writes one, of type Ready.")
        @SchemaFrom(type = ConditionSchema[].class)
        List<Condition> conditions,
    @JsonPropertyDescription(
            "RFC 3339 time of the last input it received (a webhook request or an informer event).")
        String lastEventTime,
    @JsonPropertyDescription(
            "Findings its mapping produced, over its life, all replicas together (each adds what it"
                + " counted).")
        Long eventsTotal,
    @JsonPropertyDescription("Observations it created, over its life, all replicas together.")
        Long observationsCreated) {

  /**
   * The schema of {@link #conditions()}: the fields of a Kubernetes {@link Condition}, described.
   * The Java type stays fabric8's Condition; only the generated CRD reads this.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ConditionSchema(
      @JsonPropertyDescription(
              "The condition's type. zen-watcher writes Ready: the Ingester is valid and serving its"
                  + " path or watching its resource.")
          String type,
      @JsonPropertyDescription("True, False or Unknown.") String status,
      @JsonPropertyDescription(
              "One CamelCase word saying why: Valid when True; when False InvalidSpec, PathConflict,"
                  + " CredentialsUnavailable, ResourceNotFound, WatchFailed or OutOfScope (see docs/ingesters.md).")
          String reason,
      @JsonPropertyDescription(
              "For people: serving /ingest/<path> or watching <resource>.<group>/<version> when True;"
                  + " when False exactly what is wrong, each problem naming its field.")
          String message,
      @JsonPropertyDescription("RFC 3339 time the status last changed from one value to another.")
          String lastTransitionTime,
      @JsonPropertyDescription("The metadata.generation this condition was computed from.")
          Long observedGeneration) {}
}
