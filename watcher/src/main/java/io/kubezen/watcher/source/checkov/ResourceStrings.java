package io.kubezen.watcher.source.checkov;

import io.kubezen.api.v1alpha1.ResourceRef;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Parses checkov's Kubernetes resource strings. checkov names a manifest object {@code
 * <kind>.<namespace>.<name>}, writing {@code default} when the manifest has no {@code
 * metadata.namespace}, even for cluster-scoped kinds. A kind never contains a dot and a namespace
 * is a DNS-1123 label (no dot either), so the first two dots split kind and namespace and
 * everything after the second dot is the name, dots included ({@code ConfigMap.web.app.config.v2}
 * is the ConfigMap {@code app.config.v2} in namespace {@code web}). A two-part string {@code
 * <kind>.<name>} is read as a cluster-scoped object. For well-known cluster-scoped kinds the
 * namespace is dropped. Anything else gives null: the raw string stays in the details.
 */
final class ResourceStrings {
  private static final Pattern KIND = Pattern.compile("^[A-Za-z][A-Za-z0-9]*$");
  private static final Pattern NAMESPACE = Pattern.compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");

  /**
   * Cluster-scoped kinds of Kubernetes itself: a namespace in their resource string is checkov's
   * default.
   */
  static final Set<String> CLUSTER_SCOPED =
      Set.of(
          "Namespace",
          "Node",
          "PersistentVolume",
          "ClusterRole",
          "ClusterRoleBinding",
          "StorageClass",
          "CustomResourceDefinition",
          "PodSecurityPolicy",
          "PriorityClass",
          "RuntimeClass",
          "IngressClass",
          "CSIDriver",
          "CSINode",
          "VolumeAttachment",
          "APIService",
          "CertificateSigningRequest",
          "MutatingWebhookConfiguration",
          "ValidatingWebhookConfiguration",
          "ValidatingAdmissionPolicy",
          "ValidatingAdmissionPolicyBinding");

  private ResourceStrings() {}

  static ResourceRef parse(String resource) {
    if (resource == null || resource.isBlank()) {
      return null;
    }
    String s = resource.strip();
    int first = s.indexOf('.');
    if (first <= 0 || first == s.length() - 1) {
      return null;
    }
    String kind = s.substring(0, first);
    if (!KIND.matcher(kind).matches()) {
      return null;
    }
    String rest = s.substring(first + 1);
    int second = rest.indexOf('.');
    String namespace;
    String name;
    if (second < 0) {
      namespace = null;
      name = rest;
    } else {
      namespace = rest.substring(0, second);
      name = rest.substring(second + 1);
      if (!NAMESPACE.matcher(namespace).matches() || name.isEmpty()) {
        return null;
      }
    }
    if (CLUSTER_SCOPED.contains(kind)) {
      namespace = null;
    }
    return ResourceRef.of(null, kind, namespace, name);
  }
}
