package io.kubezen.watcher.store.sqlite;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The console's reads of a {@link SqliteObservationStore}: findings pages, counts, top resources,
 * the timeline, source activity and the summary, from the rollups when they cover the filter.
 */
final class SqliteConsoleReads {
  private final SqliteConnections db;

  SqliteConsoleReads(SqliteConnections db) {
    this.db = db;
  }

  ObservationPage findings(io.kubezen.watcher.store.FindingsQuery query) {
    FindingsSql.After after =
        query.after() == null ? null : FindingsSql.After.decode(query.after(), query.sort());
    List<Object> args = new ArrayList<>();
    String sql = FindingsSql.page(query, after, args);
    int limit = query.limit();
    return db.read(
        "findings",
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args)) {
            List<Observation> items = new ArrayList<>();
            FindingsSql.After last = null;
            boolean more = false;
            try (ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                if (items.size() == limit) {
                  more = true;
                  break;
                }
                items.add(SqliteReads.observation(rs));
                long lastSeen = rs.getLong("last_seen");
                long k1 =
                    switch (query.sort()) {
                      case LAST_SEEN -> lastSeen;
                      case SEVERITY -> rs.getLong("severity_rank");
                      case COUNT -> rs.getLong("count");
                    };
                last =
                    new FindingsSql.After(
                        query.sort(),
                        k1,
                        lastSeen,
                        rs.getString("namespace"),
                        rs.getString("name"));
              }
            }
            return new ObservationPage(items, more ? last.encode() : null);
          }
        });
  }

  List<io.kubezen.watcher.store.GroupCount> countBy(
      io.kubezen.watcher.store.FindingFilter filter,
      List<io.kubezen.watcher.store.GroupField> fields) {
    if (io.kubezen.watcher.store.jdbc.RollupSql.coversCounts(filter, fields)) {
      return db.read(
          "countBy " + fields,
          conn -> io.kubezen.watcher.store.jdbc.Rollups.countBy(conn, filter, fields));
    }
    List<Object> args = new ArrayList<>();
    String sql = FindingsSql.countBy(filter, fields, args);
    return db.read(
        "countBy " + fields,
        conn ->
            io.kubezen.watcher.store.jdbc.ConsoleRows.groupCounts(conn, sql, args, fields.size()));
  }

  List<io.kubezen.watcher.store.RankedGroup> topByCriticalHigh(
      io.kubezen.watcher.store.FindingFilter filter,
      io.kubezen.watcher.store.RankedGroup.By by,
      int limit) {
    if (limit < 1 || limit > ObservationQuery.MAX_LIMIT) {
      throw new IllegalArgumentException(
          "limit must be between 1 and " + ObservationQuery.MAX_LIMIT + ": " + limit);
    }
    if (by == io.kubezen.watcher.store.RankedGroup.By.NAMESPACE
        ? io.kubezen.watcher.store.jdbc.RollupSql.coversCounts(filter, List.of())
        : io.kubezen.watcher.store.jdbc.RollupSql.coversResources(filter)) {
      return db.read(
          "top " + by,
          conn ->
              io.kubezen.watcher.store.jdbc.Rollups.top(
                  conn, filter, by, limit, "resolved IS NOT 1"));
    }
    List<Object> args = new ArrayList<>();
    String sql = FindingsSql.top(filter, by, limit, args);
    return db.read(
        "top " + by,
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args);
              ResultSet rs = st.executeQuery()) {
            List<io.kubezen.watcher.store.RankedGroup> ranked = new ArrayList<>();
            while (rs.next()) {
              ranked.add(
                  new io.kubezen.watcher.store.RankedGroup(
                      rs.getString("resource_namespace"),
                      rs.getString("resource_kind"),
                      rs.getString("resource_name"),
                      rs.getLong("critical"),
                      rs.getLong("high"),
                      0));
            }
            List<io.kubezen.watcher.store.RankedGroup> out = new ArrayList<>(ranked.size());
            for (io.kubezen.watcher.store.RankedGroup g : ranked) {
              List<Object> totalArgs = new ArrayList<>();
              String totalSql = FindingsSql.groupTotal(filter, g, by, totalArgs);
              try (PreparedStatement t =
                      io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, totalSql, totalArgs);
                  ResultSet trs = t.executeQuery()) {
                long total = trs.next() ? trs.getLong("n") : 0;
                out.add(
                    new io.kubezen.watcher.store.RankedGroup(
                        g.namespace(), g.kind(), g.name(), g.critical(), g.high(), total));
              }
            }
            return out;
          }
        });
  }

  List<io.kubezen.watcher.store.TimeBucket> timeline(
      io.kubezen.watcher.store.FindingFilter filter,
      Instant from,
      Instant to,
      java.time.Duration width) {
    io.kubezen.watcher.store.jdbc.ConsoleRows.Span span =
        io.kubezen.watcher.store.jdbc.ConsoleRows.Span.of(from, to, width);
    long[] opened = new long[span.buckets()];
    long[] resolved = new long[span.buckets()];
    if (io.kubezen.watcher.store.jdbc.RollupSql.coversTimeline(
        filter, span.from(), span.to(), span.width())) {
      db.read(
          "timeline",
          conn -> {
            io.kubezen.watcher.store.jdbc.Rollups.timeline(
                conn, span.from(), span.to(), span.width(), opened, resolved);
            return null;
          });
      return span.buckets(opened, resolved);
    }
    List<Object> openedArgs = new ArrayList<>();
    String openedSql = FindingsSql.opened(filter, span.from(), span.to(), span.width(), openedArgs);
    List<Object> resolvedArgs = new ArrayList<>();
    String resolvedSql =
        FindingsSql.resolvedIn(filter, span.from(), span.to(), span.width(), resolvedArgs);
    db.read(
        "timeline",
        conn -> {
          io.kubezen.watcher.store.jdbc.ConsoleRows.fillBuckets(
              conn, openedSql, openedArgs, opened);
          io.kubezen.watcher.store.jdbc.ConsoleRows.fillBuckets(
              conn, resolvedSql, resolvedArgs, resolved);
          return null;
        });
    return span.buckets(opened, resolved);
  }

  List<io.kubezen.watcher.store.SourceActivity> sourceActivity(
      io.kubezen.watcher.store.FindingFilter filter) {
    if (io.kubezen.watcher.store.jdbc.RollupSql.coversSourceActivity(filter)) {
      return db.read(
          "sourceActivity",
          conn ->
              io.kubezen.watcher.store.jdbc.Rollups.sourceActivity(
                  conn, "SELECT max(last_seen) FROM observations WHERE source = ?"));
    }
    List<Object> lastArgs = new ArrayList<>();
    String lastSql = FindingsSql.sourceLastSeen(filter, lastArgs);
    List<Object> stateArgs = new ArrayList<>();
    String stateSql = FindingsSql.sourceStates(filter, stateArgs);
    return db.read(
        "sourceActivity",
        conn -> {
          java.util.Map<String, long[]> counts = new java.util.HashMap<>(); // open, total
          try (PreparedStatement st =
                  io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, stateSql, stateArgs);
              ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              long[] c = counts.computeIfAbsent(rs.getString("source"), k -> new long[2]);
              if (rs.getInt("r") == 0) {
                c[0] += rs.getLong("n");
              }
              c[1] += rs.getLong("n");
            }
          }
          List<io.kubezen.watcher.store.SourceActivity> out = new ArrayList<>();
          try (PreparedStatement st =
                  io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, lastSql, lastArgs);
              ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              long[] c = counts.getOrDefault(rs.getString("source"), new long[2]);
              out.add(
                  new io.kubezen.watcher.store.SourceActivity(
                      rs.getString("source"),
                      Instant.EPOCH.plus(
                          rs.getLong("last_seen"), java.time.temporal.ChronoUnit.MICROS),
                      c[0],
                      c[1]));
            }
          }
          return out;
        });
  }

  io.kubezen.watcher.store.StoreSummary summary() {
    return db.read(
        "summary",
        conn -> io.kubezen.watcher.store.jdbc.ConsoleRows.summary(conn, FindingsSql.SUMMARY));
  }
}
