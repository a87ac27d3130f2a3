package io.kubezen.watcher.store;

import java.util.Objects;

/**
 * One keyset page of findings: the filter, the order, the page size (1..{@link
 * ObservationQuery#MAX_LIMIT}) and {@code after}, the opaque continue token of the previous page of
 * the same filter and sort (null for the first page). A token of another sort is refused with
 * {@link InvalidContinueTokenException}.
 */
public record FindingsQuery(FindingFilter filter, FindingSort sort, int limit, String after) {
  public FindingsQuery {
    Objects.requireNonNull(filter, "filter");
    sort = sort == null ? FindingSort.LAST_SEEN : sort;
    if (limit < 1 || limit > ObservationQuery.MAX_LIMIT) {
      throw new IllegalArgumentException(
          "limit must be between 1 and " + ObservationQuery.MAX_LIMIT + ": " + limit);
    }
  }

  public static FindingsQuery first(FindingFilter filter, FindingSort sort, int limit) {
    return new FindingsQuery(filter, sort, limit, null);
  }
}
