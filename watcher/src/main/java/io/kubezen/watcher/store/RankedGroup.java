package io.kubezen.watcher.store;

/**
 * A namespace or a resource with its number of critical and high findings ({@link
 * ObservationStore#topByCriticalHigh}). For a namespace, {@code kind} and {@code name} are null.
 */
public record RankedGroup(
    String namespace, String kind, String name, long critical, long high, long total) {
  /** What is ranked. */
  public enum By {
    NAMESPACE,
    RESOURCE
  }
}
