package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A source declared as a resource: {@code zen.kube-zen.io/v1alpha1 Ingester}. Either an informer
 * over any resource (by group/version/resource) or a webhook path under {@code /ingest/}, with a
 * mapping from the input to findings, and its own filter and dedup window.
 */
@JsonClassDescription(
    "A source declared as a resource, applied without a restart: a webhook path under /ingest/, or"
        + " an informer over any resource, with a mapping (CEL expressions) from the input to findings, its own filter and"
        + " its own dedup window. Its findings become Observations with spec.source set to this Ingester's spec.source."
        + " See docs/ingesters.md.")
@Group(Observation.GROUP)
@Version(Observation.VERSION)
@Kind("Ingester")
@Plural("ingesters")
@Singular("ingester")
@ShortNames("ing")
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status")
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class Ingester extends CustomResource<IngesterSpec, IngesterStatus> implements Namespaced {}
