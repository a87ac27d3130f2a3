package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/**
 * How an Ingester is doing: condition {@code Ready} True when it is valid and running, False with a
 * message saying what is wrong; and per-source activity.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record IngesterStatus(
    Long observedGeneration,
    List<Condition> conditions,
    String lastEventTime,
    Long eventsTotal,
    Long observationsCreated) {}
