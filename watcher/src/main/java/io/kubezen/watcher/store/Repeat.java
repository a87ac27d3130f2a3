package io.kubezen.watcher.store;

import java.time.Instant;

/**
 * {@code delta} more sightings of the Observation namespace/name, the latest at {@code lastSeen}.
 */
public record Repeat(String namespace, String name, long delta, Instant lastSeen) {
  public Repeat {
    if (delta <= 0) {
      throw new IllegalArgumentException("delta must be positive: " + delta);
    }
  }
}
