package io.kubezen.watcher.store;

/** A field findings can be counted by ({@link ObservationStore#countBy}). */
public enum GroupField {
  /** {@code spec.source} */
  SOURCE,
  /** {@code spec.severity} wire form */
  SEVERITY,
  /** {@code spec.category} wire form */
  CATEGORY,
  /** {@code spec.eventType} */
  EVENT_TYPE,
  /** {@code spec.resource.namespace} (null for cluster-scoped or resource-less findings) */
  NAMESPACE,
  /** {@code spec.clusterName} (null when none was configured) */
  CLUSTER,
  /** "true" when {@code status.resolved} is true, else "false" */
  RESOLVED
}
