package io.kubezen.watcher.store.jdbc;

import io.kubezen.watcher.store.GroupCount;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.StoreSummary;
import io.kubezen.watcher.store.StoreTimes;
import io.kubezen.watcher.store.TimeBucket;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** The console reads' result rows, read the same way from either SQL store. */
public final class ConsoleRows {
  private ConsoleRows() {}

  /** Rows {@code k0.., n} as group counts of {@code fields} keys. */
  public static List<GroupCount> groupCounts(
      Connection conn, String sql, List<Object> args, int fields) throws SQLException {
    try (PreparedStatement st = Jdbc.prepare(conn, sql, args);
        ResultSet rs = st.executeQuery()) {
      List<GroupCount> out = new ArrayList<>();
      while (rs.next()) {
        List<String> key = new ArrayList<>(fields);
        for (int i = 0; i < fields; i++) {
          key.add(rs.getString("k" + i));
        }
        out.add(new GroupCount(key, rs.getLong("n")));
      }
      return out;
    }
  }

  /**
   * The summary row (total, resolved, count_sum, last_created in ms, last_seen in µs); EMPTY when
   * none.
   */
  public static StoreSummary summary(Connection conn, String sql) throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(sql)) {
      if (!rs.next() || rs.getLong("total") <= 0) {
        return StoreSummary.EMPTY;
      }
      return new StoreSummary(
          rs.getLong("total"),
          rs.getLong("resolved"),
          rs.getLong("count_sum"),
          Instant.ofEpochMilli(rs.getLong("last_created")),
          Instant.EPOCH.plus(rs.getLong("last_seen"), ChronoUnit.MICROS));
    }
  }

  /** A timeline's bounds in microseconds, checked: from, to, width, and the number of buckets. */
  public record Span(long from, long to, long width, int buckets) {
    public static Span of(Instant from, Instant to, Duration width) {
      long fromMicros = StoreTimes.micros(from);
      long toMicros = StoreTimes.micros(to);
      long widthMicros = width.toNanos() / 1000;
      if (widthMicros <= 0 || toMicros <= fromMicros) {
        throw new IllegalArgumentException("timeline needs from < to and a positive width");
      }
      long n = (toMicros - fromMicros + widthMicros - 1) / widthMicros;
      if (n > 1000) {
        throw new IllegalArgumentException("timeline of " + n + " buckets: at most 1000");
      }
      return new Span(fromMicros, toMicros, widthMicros, (int) n);
    }

    /** The buckets with these counts, oldest first. */
    public List<TimeBucket> buckets(long[] opened, long[] resolved) {
      List<TimeBucket> out = new ArrayList<>(buckets);
      for (int i = 0; i < buckets; i++) {
        out.add(
            new TimeBucket(
                Instant.EPOCH.plus(from + i * width, ChronoUnit.MICROS), opened[i], resolved[i]));
      }
      return out;
    }
  }

  /** Adds rows {@code b, n} (bucket index, count) to {@code into}. */
  public static void fillBuckets(Connection conn, String sql, List<Object> args, long[] into)
      throws SQLException {
    try (PreparedStatement st = Jdbc.prepare(conn, sql, args);
        ResultSet rs = st.executeQuery()) {
      while (rs.next()) {
        long b = rs.getLong("b");
        if (b >= 0 && b < into.length) {
          into[(int) b] += rs.getLong("n");
        }
      }
    }
  }

  /**
   * The query that counts one ranked group's findings (one row, the count first), args appended.
   */
  @FunctionalInterface
  public interface GroupTotal {
    String sql(RankedGroup group, List<Object> args);
  }

  /** The groups again, each with the total its query counts (0 when it returns no row). */
  public static List<RankedGroup> withTotals(
      Connection conn, List<RankedGroup> groups, GroupTotal total) throws SQLException {
    List<RankedGroup> out = new ArrayList<>(groups.size());
    for (RankedGroup g : groups) {
      List<Object> args = new ArrayList<>();
      String sql = total.sql(g, args);
      try (PreparedStatement st = Jdbc.prepare(conn, sql, args);
          ResultSet rs = st.executeQuery()) {
        out.add(
            new RankedGroup(
                g.namespace(),
                g.kind(),
                g.name(),
                g.critical(),
                g.high(),
                rs.next() ? rs.getLong(1) : 0));
      }
    }
    return out;
  }
}
