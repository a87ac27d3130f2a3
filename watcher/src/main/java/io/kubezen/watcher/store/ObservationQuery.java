package io.kubezen.watcher.store;

/**
 * A filtered, paged read. Null fields do not filter. {@code limit} is 1..{@link #MAX_LIMIT};
 * {@code continueToken} is the opaque token of the previous page, or null for the first page.
 */
public record ObservationQuery(
    String source,
    String severity,
    String category,
    String namespace,
    String eventType,
    int limit,
    String continueToken) {
  public static final int DEFAULT_LIMIT = 100;
  public static final int MAX_LIMIT = 1000;

  public ObservationQuery {
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT + ": " + limit);
    }
  }

  public static ObservationQuery all(int limit) {
    return new ObservationQuery(null, null, null, null, null, limit, null);
  }
}
