package io.kubezen.watcher.store.kubernetes;

/**
 * Limits of the {@link KubernetesObservationStore}.
 *
 * @param writeQps the highest write rate (create, status update, delete), per second; 0 for no
 *     ceiling (the adaptive limiter alone decides)
 * @param writeBurst writes allowed at once after a quiet period; at least 1
 * @param maxInFlight API requests of one batch running at once (the store's worker threads); at
 *     least 1
 * @param maxObservations live Observations kept at most (lowest severities shed first); 0 for no
 *     cap
 * @param maxDetailsBytes {@code spec.details} larger than this (as JSON) is cut; at least 64
 * @param clusterName written into {@code spec.clusterName} when an Observation has none; null for
 *     none
 * @param namespaces the only namespaces the store reads (every list is made in each of them, none
 *     across all namespaces), for a service account with namespaced Roles ({@code
 *     ACCESS_SCOPE=namespaces}); the first is where the readiness probe lists. Empty: all
 *     namespaces.
 */
public record KubernetesStoreOptions(
    double writeQps,
    int writeBurst,
    int maxInFlight,
    long maxObservations,
    int maxDetailsBytes,
    String clusterName,
    java.util.List<String> namespaces) {
  /** No ceiling: the adaptive limiter finds the rate the API server allows. */
  public static final double DEFAULT_WRITE_QPS = 0;

  public static final int DEFAULT_WRITE_BURST = 40;
  public static final int DEFAULT_MAX_IN_FLIGHT = 32;
  public static final int DEFAULT_MAX_DETAILS_BYTES = 8192;

  /** The smallest details cap: room for a few small facts and the {@code truncated} marker. */
  public static final int MIN_DETAILS_BYTES = 64;

  public KubernetesStoreOptions {
    if (!(writeQps >= 0) || Double.isInfinite(writeQps)) {
      throw new IllegalArgumentException(
          "writeQps must be 0 (no ceiling) or a positive number: " + writeQps);
    }
    if (writeBurst < 1) {
      throw new IllegalArgumentException("writeBurst must be at least 1: " + writeBurst);
    }
    if (maxInFlight < 1) {
      throw new IllegalArgumentException("maxInFlight must be at least 1: " + maxInFlight);
    }
    if (maxObservations < 0) {
      throw new IllegalArgumentException(
          "maxObservations must be 0 (no cap) or positive: " + maxObservations);
    }
    if (maxDetailsBytes < MIN_DETAILS_BYTES) {
      throw new IllegalArgumentException(
          "maxDetailsBytes must be at least " + MIN_DETAILS_BYTES + ": " + maxDetailsBytes);
    }
    if (clusterName != null && clusterName.isBlank()) {
      clusterName = null;
    }
    namespaces =
        namespaces == null
            ? java.util.List.of()
            : java.util.List.copyOf(new java.util.LinkedHashSet<>(namespaces));
  }

  public KubernetesStoreOptions(
      double writeQps,
      int writeBurst,
      int maxInFlight,
      long maxObservations,
      int maxDetailsBytes,
      String clusterName) {
    this(
        writeQps,
        writeBurst,
        maxInFlight,
        maxObservations,
        maxDetailsBytes,
        clusterName,
        java.util.List.of());
  }

  public static KubernetesStoreOptions defaults() {
    return new KubernetesStoreOptions(
        DEFAULT_WRITE_QPS,
        DEFAULT_WRITE_BURST,
        DEFAULT_MAX_IN_FLIGHT,
        0,
        DEFAULT_MAX_DETAILS_BYTES,
        null);
  }

  public KubernetesStoreOptions withWriteRate(double qps, int burst) {
    return new KubernetesStoreOptions(
        qps, burst, maxInFlight, maxObservations, maxDetailsBytes, clusterName, namespaces);
  }

  public KubernetesStoreOptions withMaxInFlight(int n) {
    return new KubernetesStoreOptions(
        writeQps, writeBurst, n, maxObservations, maxDetailsBytes, clusterName, namespaces);
  }

  public KubernetesStoreOptions withMaxObservations(long n) {
    return new KubernetesStoreOptions(
        writeQps, writeBurst, maxInFlight, n, maxDetailsBytes, clusterName, namespaces);
  }

  public KubernetesStoreOptions withMaxDetailsBytes(int n) {
    return new KubernetesStoreOptions(
        writeQps, writeBurst, maxInFlight, maxObservations, n, clusterName, namespaces);
  }

  /** Only these namespaces are read (see {@link #namespaces()}); empty for all. */
  public KubernetesStoreOptions withNamespaces(java.util.List<String> ns) {
    return new KubernetesStoreOptions(
        writeQps, writeBurst, maxInFlight, maxObservations, maxDetailsBytes, clusterName, ns);
  }
}
