package io.kubezen.watcher.source;

import java.util.Objects;

/**
 * One kind of Kubernetes object a source reads, as plain data: the watch engine ({@code kube/})
 * turns it into an informer. No discovery is needed: group, version, plural, kind and scope are all
 * given.
 *
 * @param group the API group, empty for the core group
 * @param version the API version
 * @param plural the resource name in URLs ({@code vulnerabilityreports})
 * @param kind the object kind ({@code VulnerabilityReport})
 * @param namespaced whether the objects live in namespaces
 * @param needsCrd whether a CRD ({@code <plural>.<group>}) must be installed before it can be
 *     watched (false for types every cluster serves)
 * @param labelSelector a label selector for the watch, or null for all objects
 * @param reader turns one object (its JSON) into the normalizer's input
 */
public record WatchedResource(
    String group,
    String version,
    String plural,
    String kind,
    boolean namespaced,
    boolean needsCrd,
    String labelSelector,
    ObjectReader reader) {

  public WatchedResource {
    group = group == null ? "" : group;
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(plural, "plural");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(reader, "reader");
  }

  /** A custom resource (its CRD must be installed), read as it is. */
  public static WatchedResource customResource(
      String group, String version, String plural, String kind, boolean namespaced) {
    return new WatchedResource(
        group, version, plural, kind, namespaced, true, null, ObjectReader.asIs());
  }

  /** A type every cluster serves (no CRD check), read as it is. */
  public static WatchedResource builtIn(
      String group, String version, String plural, String kind, boolean namespaced) {
    return new WatchedResource(
        group, version, plural, kind, namespaced, false, null, ObjectReader.asIs());
  }

  /**
   * ConfigMaps with a label selector, read by {@code reader} (e.g. {@link
   * ObjectReader#configMapKey}).
   */
  public static WatchedResource configMaps(String labelSelector, ObjectReader reader) {
    return new WatchedResource(
        "", "v1", "configmaps", "ConfigMap", true, false, labelSelector, reader);
  }

  /** The CRD that must exist first ({@code <plural>.<group>}), or null when none is needed. */
  public String crdName() {
    return needsCrd ? plural + "." + group : null;
  }
}
