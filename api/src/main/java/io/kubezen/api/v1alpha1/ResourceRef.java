package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;

/**
 * The Kubernetes object a finding is about. Every field may be null: a host-level Falco alert has
 * no resource at all, a cluster-scoped one has no namespace. {@code kubectl get obs} shows its kind
 * and name as the Kind and Resource columns.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ResourceRef(
    @JsonPropertyDescription("The object's API version: v1, apps/v1, batch/v1, ...")
        String apiVersion,
    @JsonPropertyDescription(
            "The object's kind: Pod, Deployment, ReplicaSet, Node, ConfigMap, ... The Kind column of"
                + " kubectl get obs.")
        @PrinterColumn(name = "Kind")
        String kind,
    @JsonPropertyDescription("The object's name. The Resource column of kubectl get obs.")
        @PrinterColumn(name = "Resource")
        String name,
    @JsonPropertyDescription(
            "The object's namespace; absent for a cluster-scoped object. The Observation is stored in"
                + " this namespace, or in zen-watcher's own (POD_NAMESPACE) when there is none or, with"
                + " ACCESS_SCOPE=namespaces, when it is outside the install's namespaces.")
        String namespace) {

  public static ResourceRef of(String apiVersion, String kind, String namespace, String name) {
    return new ResourceRef(
        blankToNull(apiVersion), blankToNull(kind), blankToNull(name), blankToNull(namespace));
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
