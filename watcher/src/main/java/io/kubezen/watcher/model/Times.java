package io.kubezen.watcher.model;

import java.time.Instant;

/**
 * The range of times a finding may carry. Every time read from input is attacker-controlled text:
 * {@code +999999999-12-31T23:59:59Z} parses, but overflows epoch-millisecond arithmetic and is not
 * an RFC 3339 time the API server accepts. Times outside [{@link #MIN}, {@link #MAX}] are treated
 * as missing where they are read (the time the input was received is used instead), and {@link
 * Finding} clamps into the range as a last guard.
 */
public final class Times {
  /** 1970-01-01T00:00:00Z. */
  public static final Instant MIN = Instant.EPOCH;

  /** 9999-12-31T23:59:59Z: the last time with a four-digit year. */
  public static final Instant MAX = Instant.parse("9999-12-31T23:59:59Z");

  private Times() {}

  /** {@code t} when it is inside the range, else null (treated as missing). */
  public static Instant sane(Instant t) {
    return t == null || t.isBefore(MIN) || t.isAfter(MAX) ? null : t;
  }

  /** {@code t} moved into the range. */
  public static Instant clamp(Instant t) {
    return t.isBefore(MIN) ? MIN : t.isAfter(MAX) ? MAX : t;
  }
}
