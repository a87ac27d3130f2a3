package io.kubezen.watcher.store.jdbc;

import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.GroupCount;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.SourceActivity;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/**
 * The overview's reads from the roll-up tables ({@link RollupSql}), on a connection of either SQL
 * store.
 */
public final class Rollups {
  private Rollups() {}

  public static List<GroupCount> countBy(
      Connection conn, FindingFilter filter, List<GroupField> fields) throws SQLException {
    List<Object> args = new ArrayList<>();
    String sql = RollupSql.countBy(filter, fields, args);
    return ConsoleRows.groupCounts(conn, sql, args, fields.size());
  }

  /**
   * Call only when {@link RollupSql#coversCounts} (namespaces) or {@link RollupSql#coversResources}
   * (resources).
   *
   * @param open the SQL condition "not resolved" of the store's table (a ranked resource's total)
   */
  public static List<RankedGroup> top(
      Connection conn, FindingFilter filter, RankedGroup.By by, int limit, String open)
      throws SQLException {
    List<Object> args = new ArrayList<>();
    String sql =
        by == RankedGroup.By.NAMESPACE
            ? RollupSql.topNamespaces(filter, limit, args)
            : RollupSql.topResources(limit, args);
    try (PreparedStatement st = Jdbc.prepare(conn, sql, args);
        ResultSet rs = st.executeQuery()) {
      List<RankedGroup> out = new ArrayList<>();
      while (rs.next()) {
        boolean ns = by == RankedGroup.By.NAMESPACE;
        out.add(
            new RankedGroup(
                rs.getString("resource_namespace"),
                ns ? null : rs.getString("resource_kind"),
                ns ? null : rs.getString("resource_name"),
                rs.getLong("critical"),
                rs.getLong("high"),
                ns ? rs.getLong("total") : 0));
      }
      if (by == RankedGroup.By.NAMESPACE) {
        return out;
      }
      return ConsoleRows.withTotals(
          conn,
          out,
          (g, totalArgs) ->
              RollupSql.resourceTotal(g.namespace(), g.kind(), g.name(), open, totalArgs));
    }
  }

  /**
   * Adds each hour's counts in [from, to) to its bucket. Call only when {@link
   * RollupSql#coversTimeline}.
   */
  public static void timeline(
      Connection conn,
      long fromMicros,
      long toMicros,
      long widthMicros,
      long[] opened,
      long[] resolved)
      throws SQLException {
    List<Object> args = new ArrayList<>();
    String sql = RollupSql.hours(fromMicros, toMicros, args);
    long hoursPerBucket = widthMicros / RollupSql.HOUR_MICROS;
    long fromHour = Math.floorDiv(fromMicros, RollupSql.HOUR_MICROS);
    try (PreparedStatement st = Jdbc.prepare(conn, sql, args);
        ResultSet rs = st.executeQuery()) {
      while (rs.next()) {
        long b = (rs.getLong("hour") - fromHour) / hoursPerBucket;
        if (b >= 0 && b < opened.length) {
          opened[(int) b] += rs.getLong("opened");
          resolved[(int) b] += rs.getLong("resolved");
        }
      }
    }
  }

  /**
   * Every source's counts from the roll-up, and its newest last sighting from {@code lastSeenSql}
   * (one index seek per source; its one argument is the source).
   */
  public static List<SourceActivity> sourceActivity(Connection conn, String lastSeenSql)
      throws SQLException {
    List<SourceActivity> out = new ArrayList<>();
    try (PreparedStatement counts = conn.prepareStatement(RollupSql.SOURCE_COUNTS);
        PreparedStatement last = conn.prepareStatement(lastSeenSql);
        ResultSet rs = counts.executeQuery()) {
      while (rs.next()) {
        String source = rs.getString("source");
        last.setString(1, source);
        try (ResultSet l = last.executeQuery()) {
          if (l.next()) {
            long micros = l.getLong(1);
            if (!l.wasNull()) {
              out.add(
                  new SourceActivity(
                      source,
                      Instant.EPOCH.plus(micros, ChronoUnit.MICROS),
                      rs.getLong("open"),
                      rs.getLong("total")));
            }
          }
        }
      }
    }
    return out;
  }
}
