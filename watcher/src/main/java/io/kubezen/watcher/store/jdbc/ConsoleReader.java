package io.kubezen.watcher.store.jdbc;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupCount;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.SourceActivity;
import io.kubezen.watcher.store.StoreSummary;
import io.kubezen.watcher.store.TimeBucket;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The console's reads of a SQL store: findings pages, counts, top resources, the timeline, source
 * activity and the summary, from the roll-up tables when they cover the filter ({@link RollupSql}),
 * otherwise from {@code observations} ({@link ConsoleSql}). The store gives its connections and how
 * it reads an Observation from a page's row.
 */
public final class ConsoleReader {
  /** A store's read connections: runs the work on one, {@code what} naming it in errors. */
  public interface Reads {
    <T> T read(String what, SqlWork<T> work);
  }

  /** An Observation from the current row of a findings page ({@link SqlDialect#rowColumns}). */
  @FunctionalInterface
  public interface RowReader {
    Observation observation(ResultSet rs) throws SQLException;
  }

  private final ConsoleSql sql;
  private final SqlDialect d;
  private final Reads db;
  private final RowReader rows;

  public ConsoleReader(SqlDialect dialect, Reads db, RowReader rows) {
    this.sql = new ConsoleSql(dialect);
    this.d = dialect;
    this.db = db;
    this.rows = rows;
  }

  /** A page of findings in the query's sort, with a continue token when there are more. */
  public ObservationPage findings(FindingsQuery query) {
    ConsoleSql.After after = query.after() == null ? null : sql.decode(query.after(), query.sort());
    List<Object> args = new ArrayList<>();
    String page = sql.page(query, after, args);
    return db.read(
        "findings",
        conn ->
            Jdbc.page(
                conn,
                page,
                args,
                query.limit(),
                rows::observation,
                rs -> {
                  long lastSeen = rs.getLong(d.lastSeen);
                  long k1 =
                      switch (query.sort()) {
                        case LAST_SEEN -> lastSeen;
                        case SEVERITY -> rs.getLong("severity_rank");
                        case COUNT -> rs.getLong("count");
                      };
                  return new ConsoleSql.After(
                      query.sort(),
                      k1,
                      lastSeen,
                      rs.getString("namespace"),
                      rs.getString("name"),
                      d.rowValuePages ? rs.getString("cluster") : null);
                },
                sql::encode));
  }

  /** The number of matching findings per combination of the fields' values. */
  public List<GroupCount> countBy(FindingFilter filter, List<GroupField> fields) {
    if (RollupSql.coversCounts(filter, fields)) {
      return db.read("countBy " + fields, conn -> Rollups.countBy(conn, filter, fields));
    }
    List<Object> args = new ArrayList<>();
    String counts = sql.countBy(filter, fields, args);
    return db.read(
        "countBy " + fields, conn -> ConsoleRows.groupCounts(conn, counts, args, fields.size()));
  }

  /** The namespaces or resources with the most critical, then high, matching findings. */
  public List<RankedGroup> topByCriticalHigh(FindingFilter filter, RankedGroup.By by, int limit) {
    if (limit < 1 || limit > ObservationQuery.MAX_LIMIT) {
      throw new IllegalArgumentException(
          "limit must be between 1 and " + ObservationQuery.MAX_LIMIT + ": " + limit);
    }
    if (by == RankedGroup.By.NAMESPACE
        ? RollupSql.coversCounts(filter, List.of())
        : RollupSql.coversResources(filter)) {
      return db.read("top " + by, conn -> Rollups.top(conn, filter, by, limit, d.openInPage));
    }
    List<Object> args = new ArrayList<>();
    String top = sql.top(filter, by, limit, args);
    return db.read(
        "top " + by,
        conn -> {
          List<RankedGroup> ranked = new ArrayList<>();
          try (PreparedStatement st = Jdbc.prepare(conn, top, args);
              ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              ranked.add(
                  new RankedGroup(
                      rs.getString("resource_namespace"),
                      rs.getString("resource_kind"),
                      rs.getString("resource_name"),
                      rs.getLong("critical"),
                      rs.getLong("high"),
                      d.onePassAggregates ? rs.getLong("total") : 0));
            }
          }
          if (d.onePassAggregates) {
            return ranked;
          }
          return ConsoleRows.withTotals(
              conn, ranked, (g, totalArgs) -> sql.groupTotal(filter, g, by, totalArgs));
        });
  }

  /** Per bucket of [from, to): findings first seen in it, and findings resolved in it. */
  public List<TimeBucket> timeline(FindingFilter filter, Instant from, Instant to, Duration width) {
    ConsoleRows.Span span = ConsoleRows.Span.of(from, to, width);
    long[] opened = new long[span.buckets()];
    long[] resolved = new long[span.buckets()];
    if (RollupSql.coversTimeline(filter, span.from(), span.to(), span.width())) {
      db.read(
          "timeline",
          conn -> {
            Rollups.timeline(conn, span.from(), span.to(), span.width(), opened, resolved);
            return null;
          });
      return span.buckets(opened, resolved);
    }
    List<Object> openedArgs = new ArrayList<>();
    String openedSql = sql.opened(filter, span.from(), span.to(), span.width(), openedArgs);
    List<Object> resolvedArgs = new ArrayList<>();
    String resolvedSql = sql.resolvedIn(filter, span.from(), span.to(), span.width(), resolvedArgs);
    db.read(
        "timeline",
        conn -> {
          ConsoleRows.fillBuckets(conn, openedSql, openedArgs, opened);
          ConsoleRows.fillBuckets(conn, resolvedSql, resolvedArgs, resolved);
          return null;
        });
    return span.buckets(opened, resolved);
  }

  /** Per source: its newest last sighting, its open and all matching findings. */
  public List<SourceActivity> sourceActivity(FindingFilter filter) {
    if (RollupSql.coversSourceActivity(filter)) {
      return db.read(
          "sourceActivity", conn -> Rollups.sourceActivity(conn, sql.lastSeenOfSource()));
    }
    List<Object> lastArgs = new ArrayList<>();
    String lastSql = sql.sourceLastSeen(filter, lastArgs);
    List<Object> stateArgs = new ArrayList<>();
    String stateSql = d.onePassAggregates ? null : sql.sourceStates(filter, stateArgs);
    return db.read(
        "sourceActivity",
        conn -> {
          Map<String, long[]> counts = new HashMap<>(); // open, total
          if (stateSql != null) {
            try (PreparedStatement st = Jdbc.prepare(conn, stateSql, stateArgs);
                ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                long[] c = counts.computeIfAbsent(rs.getString("source"), k -> new long[2]);
                if (rs.getInt("r") == 0) {
                  c[0] += rs.getLong("n");
                }
                c[1] += rs.getLong("n");
              }
            }
          }
          List<SourceActivity> out = new ArrayList<>();
          try (PreparedStatement st = Jdbc.prepare(conn, lastSql, lastArgs);
              ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              String source = rs.getString("source");
              long[] c =
                  d.onePassAggregates
                      ? new long[] {rs.getLong("open"), rs.getLong("total")}
                      : counts.getOrDefault(source, new long[2]);
              out.add(
                  new SourceActivity(
                      source,
                      Instant.EPOCH.plus(rs.getLong("last_seen"), ChronoUnit.MICROS),
                      c[0],
                      c[1]));
            }
          }
          return out;
        });
  }

  /** The whole store in a few numbers. */
  public StoreSummary summary() {
    return db.read("summary", conn -> ConsoleRows.summary(conn, d.summary));
  }
}
