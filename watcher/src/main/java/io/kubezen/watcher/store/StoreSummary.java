package io.kubezen.watcher.store;

import java.time.Instant;

/**
 * The whole store in a few numbers, cheap to get: the console's "data as of" line and its live
 * check (it changes whenever an Observation is created, repeated, resolved, reopened or deleted,
 * except a deletion that happens to leave every number the same; the console also polls).
 *
 * @param total Observations stored
 * @param resolved of them, those with {@code status.resolved} true
 * @param countSum sum of {@code status.count}
 * @param lastCreated newest creation time, null when empty
 * @param lastSeen newest {@code status.lastSeen}, null when empty
 */
public record StoreSummary(
    long total, long resolved, long countSum, Instant lastCreated, Instant lastSeen) {
  public static final StoreSummary EMPTY = new StoreSummary(0, 0, 0, null, null);

  /** A short tag for this state, to compare or send as an ETag. */
  public String tag() {
    return Long.toString(total, 36)
        + "-"
        + Long.toString(resolved, 36)
        + "-"
        + Long.toString(countSum, 36)
        + "-"
        + (lastCreated == null ? "0" : Long.toString(lastCreated.toEpochMilli(), 36))
        + "-"
        + (lastSeen == null
            ? "0"
            : Long.toString(lastSeen.toEpochMilli() * 1000 + lastSeen.getNano() / 1000 % 1000, 36));
  }
}
