package io.kubezen.watcher.store.postgres;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/**
 * The console's reads of a {@link PostgresObservationStore}: findings pages, counts, top resources,
 * the timeline, source activity and the summary.
 */
final class PostgresConsoleReads {
  private final PostgresDb db;
  private final PostgresStoreOptions options;

  PostgresConsoleReads(PostgresDb db) {
    this.db = db;
    this.options = db.options();
  }

  // ---------------------------------------------------------------- console reads
  // Every cluster's Observations unless the filter names a cluster (spec.clusterName); see
  // ConsoleSql.

  ObservationPage findings(io.kubezen.watcher.store.FindingsQuery query) {
    ConsoleSql.After after =
        query.after() == null ? null : ConsoleSql.After.decode(query.after(), query.sort());
    List<Object> args = new ArrayList<>();
    String sql = ConsoleSql.page(query, after, args);
    int limit = query.limit();
    return db.read(
        "findings",
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args)) {
            List<Observation> items = new ArrayList<>();
            ConsoleSql.After last = null;
            boolean more = false;
            try (ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                if (items.size() == limit) {
                  more = true;
                  break;
                }
                items.add(PostgresReads.observation(rs));
                long lastSeen = rs.getLong("last_seen_us");
                long k1 =
                    switch (query.sort()) {
                      case LAST_SEEN -> lastSeen;
                      case SEVERITY -> rs.getLong("severity_rank");
                      case COUNT -> rs.getLong("count");
                    };
                last =
                    new ConsoleSql.After(
                        query.sort(),
                        k1,
                        lastSeen,
                        rs.getString("namespace"),
                        rs.getString("name"),
                        rs.getString("cluster"));
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
    String sql = ConsoleSql.countBy(filter, fields, args);
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
                  conn, filter, by, limit, "resolved IS NOT TRUE"));
    }
    List<Object> args = new ArrayList<>();
    String sql = ConsoleSql.top(filter, by, limit, args);
    return db.read(
        "top " + by,
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args);
              ResultSet rs = st.executeQuery()) {
            List<io.kubezen.watcher.store.RankedGroup> out = new ArrayList<>();
            while (rs.next()) {
              out.add(
                  new io.kubezen.watcher.store.RankedGroup(
                      rs.getString("resource_namespace"),
                      rs.getString("resource_kind"),
                      rs.getString("resource_name"),
                      rs.getLong("critical"),
                      rs.getLong("high"),
                      rs.getLong("total")));
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
    String openedSql = ConsoleSql.opened(filter, span.from(), span.to(), span.width(), openedArgs);
    List<Object> resolvedArgs = new ArrayList<>();
    String resolvedSql =
        ConsoleSql.resolvedIn(filter, span.from(), span.to(), span.width(), resolvedArgs);
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
                  conn, "SELECT max(last_seen_us) FROM observations WHERE source = ?"));
    }
    List<Object> args = new ArrayList<>();
    String sql = ConsoleSql.sourceActivity(filter, args);
    return db.read(
        "sourceActivity",
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args);
              ResultSet rs = st.executeQuery()) {
            List<io.kubezen.watcher.store.SourceActivity> out = new ArrayList<>();
            while (rs.next()) {
              out.add(
                  new io.kubezen.watcher.store.SourceActivity(
                      rs.getString("source"),
                      Instant.EPOCH.plus(rs.getLong("last_seen"), ChronoUnit.MICROS),
                      rs.getLong("open"),
                      rs.getLong("total")));
            }
            return out;
          }
        });
  }

  io.kubezen.watcher.store.StoreSummary summary() {
    return db.read(
        "summary",
        conn -> io.kubezen.watcher.store.jdbc.ConsoleRows.summary(conn, ConsoleSql.SUMMARY));
  }
}
