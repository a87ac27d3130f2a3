package io.kubezen.watcher.store;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;

/**
 * Status times are kept as epoch microseconds (the precision of a Kubernetes MicroTime), so that
 * SQLite can take min/max of them; they are written back as RFC 3339 in UTC.
 */
public final class StoreTimes {
  /** Times outside 0001-01-01 .. 9999-12-31 are clamped to these bounds. */
  public static final Instant MIN = Instant.parse("0001-01-01T00:00:00Z");

  public static final Instant MAX = Instant.parse("9999-12-31T23:59:59.999999Z");

  private StoreTimes() {}

  /**
   * RFC 3339 (any offset) to epoch microseconds; throws IllegalArgumentException when unparseable.
   */
  public static long parseMicros(String rfc3339) {
    Instant t;
    try {
      t = OffsetDateTime.parse(rfc3339).toInstant();
    } catch (DateTimeException e) {
      try {
        t = Instant.parse(rfc3339);
      } catch (DateTimeException e2) {
        throw new IllegalArgumentException("not an RFC 3339 time: " + rfc3339, e);
      }
    }
    return micros(t);
  }

  public static long micros(Instant t) {
    Instant c = t.isBefore(MIN) ? MIN : t.isAfter(MAX) ? MAX : t;
    return c.getEpochSecond() * 1_000_000L + c.getNano() / 1_000;
  }

  public static String formatMicros(long micros) {
    return Instant.EPOCH.plus(micros, ChronoUnit.MICROS).toString();
  }

  /** Kubernetes style creationTimestamp: RFC 3339, UTC, whole seconds. */
  public static String formatCreation(long epochMillis) {
    return Instant.ofEpochMilli(epochMillis).truncatedTo(ChronoUnit.SECONDS).toString();
  }
}
