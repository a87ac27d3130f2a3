package io.kubezen.watcher.store;

/**
 * A filtered, paged read. Null fields do not filter. {@code limit} is 1..{@link #MAX_LIMIT}; {@code
 * continueToken} is the opaque token of the previous page, or null for the first page. {@code
 * cluster} ({@code spec.clusterName}) filters only in stores that hold several clusters ({@link
 * ObservationStore#holdsClusters()}); the others refuse it.
 */
public record ObservationQuery(
    String source,
    String severity,
    String category,
    String namespace,
    String eventType,
    int limit,
    String continueToken,
    String cluster) {
  public static final int DEFAULT_LIMIT = 100;
  public static final int MAX_LIMIT = 1000;

  public ObservationQuery {
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT + ": " + limit);
    }
  }

  /** Every cluster. */
  public ObservationQuery(
      String source,
      String severity,
      String category,
      String namespace,
      String eventType,
      int limit,
      String continueToken) {
    this(source, severity, category, namespace, eventType, limit, continueToken, null);
  }

  public static ObservationQuery all(int limit) {
    return new ObservationQuery(null, null, null, null, null, limit, null, null);
  }

  public ObservationQuery withCluster(String value) {
    return new ObservationQuery(
        source, severity, category, namespace, eventType, limit, continueToken, value);
  }

  public ObservationQuery withContinue(String token) {
    return new ObservationQuery(
        source, severity, category, namespace, eventType, limit, token, cluster);
  }
}
