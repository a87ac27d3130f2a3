package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.crd.generator.annotation.PrinterColumn;

/**
 * The Kubernetes object a finding is about. Every field may be null: a host-level Falco alert has
 * no resource at all, a cluster-scoped one has no namespace. {@code kubectl get obs} shows its kind
 * and name as the Kind and Resource columns.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ResourceRef(
    String apiVersion,
    @PrinterColumn(name = "Kind") String kind,
    @PrinterColumn(name = "Resource") String name,
    String namespace) {

  public static ResourceRef of(String apiVersion, String kind, String namespace, String name) {
    return new ResourceRef(blankToNull(apiVersion), blankToNull(kind), blankToNull(name), blankToNull(namespace));
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
