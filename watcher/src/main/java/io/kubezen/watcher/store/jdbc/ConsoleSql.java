package io.kubezen.watcher.store.jdbc;

import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.SearchText;
import io.kubezen.watcher.store.StoreTimes;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The SQL of the console's reads on the {@code observations} table of either SQL store, built from
 * plain records (pure, so the query plans can be tested); the arguments are collected in order.
 * What differs between SQLite and PostgreSQL is in its {@link SqlDialect}; the semantics and the
 * orders are the same. Text keys compare byte-wise on both (PostgreSQL's are {@code COLLATE "C"}).
 */
public final class ConsoleSql {
  private final SqlDialect d;

  public ConsoleSql(SqlDialect dialect) {
    this.d = dialect;
  }

  public SqlDialect dialect() {
    return d;
  }

  /**
   * The key of the last row of a findings page: the sort's two numbers (k1 the sort's own, k2 the
   * last sighting; both the last sighting for {@link FindingSort#LAST_SEEN}), then namespace, name
   * and, on PostgreSQL, the row's cluster (null on SQLite).
   */
  public record After(
      FindingSort sort, long k1, long k2, String namespace, String name, String cluster) {}

  /**
   * A continue token: {@code version:sort:k1:k2:}, the length of each text key but the last, then
   * the text keys one after the other; Base64url.
   */
  public String encode(After a) {
    List<String> texts = texts(a.namespace(), a.name(), a.cluster());
    StringBuilder raw =
        new StringBuilder(d.tokenVersion)
            .append(':')
            .append(a.sort().ordinal())
            .append(':')
            .append(a.k1())
            .append(':')
            .append(a.k2())
            .append(':');
    for (int i = 0; i < texts.size() - 1; i++) {
      raw.append(texts.get(i).length()).append(':');
    }
    texts.forEach(raw::append);
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(raw.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** The key a token of {@link #encode} holds; refused when it is not one, or of another sort. */
  public After decode(String token, FindingSort expected) {
    try {
      String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      int textCount = d.rowValuePages ? 3 : 2;
      int fields = 4 + textCount;
      String[] p = raw.split(":", fields);
      if (p.length != fields || !d.tokenVersion.equals(p[0])) {
        throw new IllegalArgumentException("unknown layout");
      }
      if (Integer.parseInt(p[1]) != expected.ordinal()) {
        throw new IllegalArgumentException("it belongs to another sort order");
      }
      String rest = p[fields - 1];
      List<String> texts = new ArrayList<>();
      int start = 0;
      for (int i = 0; i < textCount - 1; i++) {
        int length = Integer.parseInt(p[4 + i]);
        if (length < 0 || length > rest.length() - start) {
          throw new IllegalArgumentException("bad lengths");
        }
        texts.add(rest.substring(start, start + length));
        start += length;
      }
      texts.add(rest.substring(start));
      return new After(
          expected,
          Long.parseLong(p[2]),
          Long.parseLong(p[3]),
          texts.get(0),
          texts.get(1),
          d.rowValuePages ? texts.get(2) : null);
    } catch (IllegalArgumentException e) {
      throw new InvalidContinueTokenException("invalid continue token: " + e.getMessage());
    }
  }

  private List<String> texts(String namespace, String name, String cluster) {
    return d.rowValuePages ? List.of(namespace, name, cluster) : List.of(namespace, name);
  }

  // ---------------------------------------------------------------- the filter

  /** The WHERE conditions of a filter (each starting with " AND"), arguments appended. */
  public String where(FindingFilter f, List<Object> args, boolean withState) {
    return where(f, args, withState, d.openInAggregate);
  }

  /**
   * @param open the "not resolved" test: {@link SqlDialect#openInPage} or {@code openInAggregate}
   */
  private String where(FindingFilter f, List<Object> args, boolean withState, String open) {
    StringBuilder sql = new StringBuilder();
    eq(sql, args, "source", f.source());
    eq(sql, args, "severity", f.severity());
    eq(sql, args, "category", f.category());
    eq(sql, args, "event_type", f.eventType());
    eq(sql, args, "resource_namespace", f.namespace());
    eq(sql, args, d.clusterName, f.cluster());
    eq(sql, args, "resource_kind", f.resourceKind());
    eq(sql, args, "resource_name", f.resourceName());
    if (withState) {
      switch (f.state()) {
        case OPEN -> sql.append(" AND ").append(open);
        case RESOLVED -> sql.append(" AND ").append(d.resolved);
        case ALL -> {}
      }
    }
    range(sql, args, d.firstSeen, f.firstSeenFrom(), f.firstSeenTo());
    range(sql, args, d.lastSeen, f.lastSeenFrom(), f.lastSeenTo());
    if (f.hasResolvedRange()) {
      sql.append(" AND ").append(d.resolved);
      range(sql, args, d.resolvedTime, f.resolvedFrom(), f.resolvedTo());
    }
    if (f.textNeedle() != null) {
      String needle = d.text(f.textNeedle());
      if (d.trigramTable && needle.codePointCount(0, needle.length()) >= 3) {
        // The trigram table finds the candidates (a phrase of the needle's trigrams); LIKE keeps
        // the exact substring semantics.
        sql.append(
            " AND rowid IN (SELECT rowid FROM observations_search WHERE observations_search MATCH ?)");
        args.add("\"" + needle.replace("\"", "\"\"") + "\"");
      }
      // A substring test on the lower-cased search column.
      sql.append(" AND search LIKE ? ESCAPE '\\'");
      args.add(SearchText.likePattern(needle));
    }
    return sql.toString();
  }

  private void eq(StringBuilder sql, List<Object> args, String column, String value) {
    if (value != null) {
      sql.append(" AND ").append(column).append(" = ?");
      args.add(d.text(value));
    }
  }

  private static void range(
      StringBuilder sql, List<Object> args, String column, Instant from, Instant to) {
    if (from != null) {
      sql.append(" AND ").append(column).append(" >= ?");
      args.add(StoreTimes.micros(from));
    }
    if (to != null) {
      sql.append(" AND ").append(column).append(" < ?");
      args.add(StoreTimes.micros(to));
    }
  }

  // ---------------------------------------------------------------- findings pages

  /** One page of findings, one row more than the limit (it tells whether there is a next page). */
  public String page(FindingsQuery q, After after, List<Object> args) {
    StringBuilder sql =
        new StringBuilder("SELECT ")
            .append(d.rowColumns)
            .append(" FROM observations WHERE 1 = 1")
            .append(where(q.filter(), args, true, d.openInPage));
    if (d.rowValuePages) {
      rowValuePage(sql, q.sort(), after, args);
    } else {
      expandedPage(sql, q.sort(), after, args);
    }
    sql.append(" LIMIT ?");
    args.add(q.limit() + 1);
    return sql.toString();
  }

  /**
   * PostgreSQL: the sort keys ascending, as in the sort's index (findings_last_seen, _severity,
   * _count), so that the rows after a key are one row-value comparison.
   */
  private void rowValuePage(StringBuilder sql, FindingSort sort, After after, List<Object> args) {
    String l = d.lastSeen;
    String keys =
        switch (sort) {
          case LAST_SEEN -> "(-" + l + "), namespace, name, cluster";
          case SEVERITY -> "(-severity_rank), (-" + l + "), namespace, name, cluster";
          case COUNT -> "(-count), (-" + l + "), namespace, name, cluster";
        };
    if (after != null) {
      sql.append(" AND (").append(keys).append(") > (");
      if (sort == FindingSort.LAST_SEEN) {
        sql.append("?, ?, ?, ?)");
        args.add(-after.k1());
      } else {
        sql.append("?, ?, ?, ?, ?)");
        args.add(-after.k1());
        args.add(-after.k2());
      }
      args.add(after.namespace());
      args.add(after.name());
      args.add(after.cluster());
    }
    sql.append(" ORDER BY ").append(keys);
  }

  /**
   * SQLite: the sort's index is DESC on the numbers and ASC on the names (findings_last_seen,
   * _severity, _count), so the rows after a key are the expanded comparison.
   */
  private void expandedPage(StringBuilder sql, FindingSort sort, After after, List<Object> args) {
    String l = d.lastSeen;
    if (after != null) {
      String tail = "(namespace > ? OR (namespace = ? AND name > ?))";
      switch (sort) {
        case LAST_SEEN -> {
          sql.append(" AND (" + l + " < ? OR (" + l + " = ? AND ").append(tail).append("))");
          args.add(after.k1());
          args.add(after.k1());
        }
        case SEVERITY, COUNT -> {
          String col = sort == FindingSort.SEVERITY ? "severity_rank" : "count";
          sql.append(" AND (" + col + " < ? OR (" + col + " = ? AND (" + l + " < ? OR ")
              .append("(" + l + " = ? AND ")
              .append(tail)
              .append("))))");
          args.add(after.k1());
          args.add(after.k1());
          args.add(after.k2());
          args.add(after.k2());
        }
      }
      args.add(after.namespace());
      args.add(after.namespace());
      args.add(after.name());
    }
    sql.append(
        switch (sort) {
          case LAST_SEEN -> " ORDER BY " + l + " DESC, namespace ASC, name ASC";
          case SEVERITY -> " ORDER BY severity_rank DESC, " + l + " DESC, namespace ASC, name ASC";
          case COUNT -> " ORDER BY count DESC, " + l + " DESC, namespace ASC, name ASC";
        });
  }

  // ---------------------------------------------------------------- aggregates

  private String column(GroupField f) {
    return switch (f) {
      case SOURCE -> "source";
      case SEVERITY -> "severity";
      case CATEGORY -> "category";
      case EVENT_TYPE -> "event_type";
      case NAMESPACE -> "resource_namespace" + d.byteOrder;
      case CLUSTER -> d.clusterName;
      case RESOLVED -> "CASE WHEN " + d.resolved + " THEN 'true' ELSE 'false' END" + d.byteOrder;
    };
  }

  /** Refuses a grouping other than by one to three distinct fields. */
  static void checkGroupFields(List<GroupField> fields) {
    if (fields.isEmpty()
        || fields.size() > 3
        || fields.stream().distinct().count() != fields.size()) {
      throw new IllegalArgumentException("group by one to three distinct fields: " + fields);
    }
  }

  /** Rows k0.., n: count descending, then the keys ascending, nulls first. */
  public String countBy(FindingFilter filter, List<GroupField> fields, List<Object> args) {
    checkGroupFields(fields);
    StringBuilder cols = new StringBuilder();
    StringBuilder groups = new StringBuilder();
    StringBuilder order = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      cols.append(column(fields.get(i))).append(" AS k").append(i).append(", ");
      groups.append(i == 0 ? "" : ", ").append("k").append(i);
      order.append(", ").append(d.nullsFirst("k" + i));
    }
    return "SELECT "
        + cols
        + "count(*) AS n FROM observations WHERE 1 = 1"
        + where(filter, args, true)
        + " GROUP BY "
        + groups
        + " ORDER BY n DESC"
        + order;
  }

  /**
   * The top groups by critical then high findings: rows resource_namespace, resource_kind,
   * resource_name, critical, high, and, when {@link SqlDialect#onePassAggregates}, total; otherwise
   * only critical and high rows are grouped (an index range) and each group's total is counted
   * afterwards ({@link #groupTotal}).
   */
  public String top(FindingFilter filter, RankedGroup.By by, int limit, List<Object> args) {
    boolean ns = by == RankedGroup.By.NAMESPACE;
    String sql;
    if (d.onePassAggregates) {
      String keys =
          ns
              ? "resource_namespace COLLATE \"C\" AS resource_namespace, NULL::text AS resource_kind,"
                  + " NULL::text AS resource_name"
              : "resource_namespace COLLATE \"C\" AS resource_namespace, resource_kind COLLATE \"C\""
                  + " AS resource_kind, resource_name COLLATE \"C\" AS resource_name";
      sql =
          "SELECT "
              + keys
              + ", count(*) FILTER (WHERE severity = 'critical') AS critical,"
              + " count(*) FILTER (WHERE severity = 'high') AS high, count(*) AS total"
              + " FROM observations WHERE 1 = 1"
              + where(filter, args, true)
              + present(ns)
              + " GROUP BY "
              + (ns ? "1" : "1, 2, 3")
              + " HAVING count(*) FILTER (WHERE severity IN ('critical', 'high')) > 0"
              + " ORDER BY critical DESC, high DESC, "
              + (ns ? "1 NULLS FIRST" : "1 NULLS FIRST, 2 NULLS FIRST, 3 NULLS FIRST");
    } else {
      String keys =
          ns
              ? "resource_namespace, NULL AS resource_kind, NULL AS resource_name"
              : "resource_namespace, resource_kind, resource_name";
      List<String> group =
          ns
              ? List.of("resource_namespace")
              : List.of("resource_namespace", "resource_kind", "resource_name");
      List<String> order = new ArrayList<>();
      group.forEach(c -> order.add(d.nullsFirst(c)));
      sql =
          "SELECT "
              + keys
              + ", sum(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END) AS critical,"
              + " sum(CASE WHEN severity = 'high' THEN 1 ELSE 0 END) AS high"
              + " FROM observations WHERE severity IN ('critical', 'high')"
              + where(filter, args, true)
              + present(ns)
              + " GROUP BY "
              + String.join(", ", group)
              + " ORDER BY critical DESC, high DESC, "
              + String.join(", ", order);
    }
    args.add(limit);
    return sql + " LIMIT ?";
  }

  private static String present(boolean ns) {
    return ns ? " AND resource_namespace IS NOT NULL" : " AND resource_name IS NOT NULL";
  }

  /**
   * The number of findings matching the filter in one group of {@link #top} (row n); only without
   * {@link SqlDialect#onePassAggregates} (SQLite: {@code IS ?} is its null-safe equality).
   */
  public String groupTotal(
      FindingFilter filter, RankedGroup g, RankedGroup.By by, List<Object> args) {
    StringBuilder sql =
        new StringBuilder("SELECT count(*) AS n FROM observations WHERE resource_namespace IS ?");
    args.add(g.namespace());
    if (by == RankedGroup.By.RESOURCE) {
      sql.append(" AND resource_name = ? AND resource_kind IS ?");
      args.add(g.name());
      args.add(g.kind());
    }
    return sql.append(where(filter, args, true)).toString();
  }

  /** Rows b, n: the bucket index of the first sighting of findings first seen in [from, to). */
  public String opened(
      FindingFilter filter, long fromMicros, long toMicros, long widthMicros, List<Object> args) {
    return buckets(d.firstSeen, "", filter, fromMicros, toMicros, widthMicros, args);
  }

  /** Rows b, n: the bucket index of the resolution of findings resolved now and in [from, to). */
  public String resolvedIn(
      FindingFilter filter, long fromMicros, long toMicros, long widthMicros, List<Object> args) {
    return buckets(
        d.resolvedTime, " AND " + d.resolved, filter, fromMicros, toMicros, widthMicros, args);
  }

  private String buckets(
      String time,
      String condition,
      FindingFilter filter,
      long fromMicros,
      long toMicros,
      long widthMicros,
      List<Object> args) {
    String sql =
        "SELECT ("
            + time
            + " - ?) / ? AS b, count(*) AS n FROM observations WHERE "
            + time
            + " >= ? AND "
            + time
            + " < ?"
            + condition;
    args.add(fromMicros);
    args.add(widthMicros);
    args.add(fromMicros);
    args.add(toMicros);
    return sql + where(filter, args, false) + " GROUP BY b";
  }

  /**
   * Per source, source ascending: its newest last sighting (last_seen) and, when {@link
   * SqlDialect#onePassAggregates}, its open and total counts (otherwise {@link #sourceStates}).
   */
  public String sourceLastSeen(FindingFilter filter, List<Object> args) {
    String counts =
        d.onePassAggregates
            ? ", count(*) FILTER (WHERE " + d.openInPage + ") AS open, count(*) AS total"
            : "";
    return "SELECT source, max("
        + d.lastSeen
        + ") AS last_seen"
        + counts
        + " FROM observations WHERE source IS NOT NULL"
        + where(filter, args, true)
        + " GROUP BY source ORDER BY source";
  }

  /**
   * Per source and state: rows source, r (1 when resolved), n; only without {@link
   * SqlDialect#onePassAggregates} (SQLite: the covering index findings_open answers it).
   */
  public String sourceStates(FindingFilter filter, List<Object> args) {
    return "SELECT source, (resolved IS 1) AS r, count(*) AS n FROM observations WHERE source IS NOT NULL"
        + where(filter, args, true)
        + " GROUP BY source, (resolved IS 1)";
  }

  /** The newest last sighting of one source (its one argument), for the roll-up's sources. */
  public String lastSeenOfSource() {
    return "SELECT max(" + d.lastSeen + ") FROM observations WHERE source = ?";
  }
}
