package io.kubezen.watcher.store.sqlite;

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
import java.util.Base64;
import java.util.List;

/**
 * The SQL of the console's reads, built from plain records (pure, so the query plans can be
 * tested). Only standard SQL plus {@code coalesce}; the arguments are collected in order.
 */
final class FindingsSql {
  private FindingsSql() {}

  /**
   * The key of the last row of a findings page: the sort's two numbers, then namespace and name.
   */
  record After(FindingSort sort, long k1, long k2, String namespace, String name) {
    private static final String VERSION = "f1";

    String encode() {
      String raw =
          VERSION
              + ":"
              + sort.ordinal()
              + ":"
              + k1
              + ":"
              + k2
              + ":"
              + namespace.length()
              + ":"
              + namespace
              + name;
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    static After decode(String token, FindingSort expected) {
      try {
        String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        String[] p = raw.split(":", 6);
        if (p.length != 6 || !VERSION.equals(p[0])) {
          throw new IllegalArgumentException("unknown layout");
        }
        int sort = Integer.parseInt(p[1]);
        if (sort != expected.ordinal()) {
          throw new IllegalArgumentException("it belongs to another sort order");
        }
        int nsLength = Integer.parseInt(p[4]);
        if (nsLength < 0 || nsLength > p[5].length()) {
          throw new IllegalArgumentException("bad namespace length");
        }
        return new After(
            expected,
            Long.parseLong(p[2]),
            Long.parseLong(p[3]),
            p[5].substring(0, nsLength),
            p[5].substring(nsLength));
      } catch (IllegalArgumentException e) {
        throw new InvalidContinueTokenException("invalid continue token: " + e.getMessage());
      }
    }
  }

  /** The WHERE conditions of a filter (starting with " AND"), arguments appended. */
  static String where(FindingFilter f, List<Object> args, boolean withState) {
    return where(f, args, withState, true);
  }

  /**
   * @param stateByIndex the open test in the form the index findings_open has (for aggregates); a
   *     page uses the other form, so that it walks its sort's index instead
   */
  static String where(FindingFilter f, List<Object> args, boolean withState, boolean stateByIndex) {
    StringBuilder sql = new StringBuilder();
    eq(sql, args, "source", f.source());
    eq(sql, args, "severity", f.severity());
    eq(sql, args, "category", f.category());
    eq(sql, args, "event_type", f.eventType());
    eq(sql, args, "resource_namespace", f.namespace());
    eq(sql, args, "cluster", f.cluster());
    eq(sql, args, "resource_kind", f.resourceKind());
    eq(sql, args, "resource_name", f.resourceName());
    if (withState) {
      switch (f.state()) {
        case OPEN ->
            sql.append(stateByIndex ? " AND (resolved IS 1) = 0" : " AND resolved IS NOT 1");
        case RESOLVED -> sql.append(" AND resolved = 1");
        case ALL -> {}
      }
    }
    range(sql, args, "first_seen", f.firstSeenFrom(), f.firstSeenTo());
    range(sql, args, "last_seen", f.lastSeenFrom(), f.lastSeenTo());
    if (f.hasResolvedRange()) {
      sql.append(" AND resolved = 1");
      range(sql, args, "resolved_time", f.resolvedFrom(), f.resolvedTo());
    }
    if (f.textNeedle() != null) {
      String needle = f.textNeedle();
      if (needle.codePointCount(0, needle.length()) >= 3) {
        // The trigram index finds the candidates (a phrase of the needle's trigrams); LIKE keeps
        // the exact substring semantics.
        sql.append(
            " AND rowid IN (SELECT rowid FROM observations_search WHERE observations_search MATCH ?)");
        args.add("\"" + needle.replace("\"", "\"\"") + "\"");
      }
      sql.append(" AND search LIKE ? ESCAPE '\\'");
      args.add(SearchText.likePattern(needle));
    }
    return sql.toString();
  }

  private static void eq(StringBuilder sql, List<Object> args, String column, String value) {
    if (value != null) {
      sql.append(" AND ").append(column).append(" = ?");
      args.add(value);
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

  /** The columns a findings row is read from, plus the sort keys. */
  static final String ROW_COLUMNS =
      "namespace, name, body, created_at, count, first_seen, last_seen, resolved, resolved_at, severity_rank";

  static String page(FindingsQuery q, After after, List<Object> args) {
    StringBuilder sql =
        new StringBuilder("SELECT ").append(ROW_COLUMNS).append(" FROM observations WHERE 1 = 1");
    sql.append(where(q.filter(), args, true, false));
    String tail = "(namespace > ? OR (namespace = ? AND name > ?))";
    if (after != null) {
      switch (q.sort()) {
        case LAST_SEEN -> {
          sql.append(" AND (last_seen < ? OR (last_seen = ? AND ").append(tail).append("))");
          args.add(after.k1());
          args.add(after.k1());
        }
        case SEVERITY, COUNT -> {
          String col = q.sort() == FindingSort.SEVERITY ? "severity_rank" : "count";
          sql.append(" AND (")
              .append(col)
              .append(" < ? OR (")
              .append(col)
              .append(" = ? AND (last_seen < ? OR ")
              .append("(last_seen = ? AND ")
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
        switch (q.sort()) {
          case LAST_SEEN -> " ORDER BY last_seen DESC, namespace ASC, name ASC";
          case SEVERITY -> " ORDER BY severity_rank DESC, last_seen DESC, namespace ASC, name ASC";
          case COUNT -> " ORDER BY count DESC, last_seen DESC, namespace ASC, name ASC";
        });
    sql.append(" LIMIT ?");
    args.add(q.limit() + 1);
    return sql.toString();
  }

  static String column(GroupField f) {
    return switch (f) {
      case SOURCE -> "source";
      case SEVERITY -> "severity";
      case CATEGORY -> "category";
      case EVENT_TYPE -> "event_type";
      case NAMESPACE -> "resource_namespace";
      case CLUSTER -> "cluster";
      case RESOLVED -> "CASE WHEN resolved = 1 THEN 'true' ELSE 'false' END";
    };
  }

  static String countBy(FindingFilter filter, List<GroupField> fields, List<Object> args) {
    if (fields.isEmpty()
        || fields.size() > 3
        || fields.stream().distinct().count() != fields.size()) {
      throw new IllegalArgumentException("group by one to three distinct fields: " + fields);
    }
    StringBuilder cols = new StringBuilder();
    StringBuilder order = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      cols.append(column(fields.get(i))).append(" AS k").append(i).append(", ");
      // Nulls first, on every database.
      order.append(", CASE WHEN k").append(i).append(" IS NULL THEN 0 ELSE 1 END, k").append(i);
    }
    StringBuilder groups = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      groups.append(i == 0 ? "" : ", ").append("k").append(i);
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
   * The top groups by critical then high findings: only critical and high rows are grouped (an
   * index range); the totals of the chosen groups are counted afterwards ({@link #groupTotal}).
   */
  static String top(FindingFilter filter, RankedGroup.By by, int limit, List<Object> args) {
    String keys =
        by == RankedGroup.By.NAMESPACE
            ? "resource_namespace, NULL AS resource_kind, NULL AS resource_name"
            : "resource_namespace, resource_kind, resource_name";
    String present =
        by == RankedGroup.By.NAMESPACE
            ? " AND resource_namespace IS NOT NULL"
            : " AND resource_name IS NOT NULL";
    String group =
        by == RankedGroup.By.NAMESPACE
            ? "resource_namespace"
            : "resource_namespace, resource_kind, resource_name";
    String sql =
        "SELECT "
            + keys
            + ", sum(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END) AS critical,"
            + " sum(CASE WHEN severity = 'high' THEN 1 ELSE 0 END) AS high"
            + " FROM observations WHERE severity IN ('critical', 'high')"
            + where(filter, args, true)
            + present
            + " GROUP BY "
            + group
            + " ORDER BY critical DESC, high DESC, "
            + orderNullsFirst(group)
            + " LIMIT ?";
    args.add(limit);
    return sql;
  }

  /** The number of findings matching the filter in one group of {@link #top}. */
  static String groupTotal(
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

  private static String orderNullsFirst(String columns) {
    StringBuilder b = new StringBuilder();
    for (String c : columns.split(",\\s*")) {
      b.append(b.isEmpty() ? "" : ", ")
          .append("CASE WHEN ")
          .append(c)
          .append(" IS NULL THEN 0 ELSE 1 END, ")
          .append(c);
    }
    return b.toString();
  }

  /** Bucket index of first_seen for findings first seen in [from, to). */
  static String opened(
      FindingFilter filter, long fromMicros, long toMicros, long widthMicros, List<Object> args) {
    String sql =
        "SELECT (first_seen - ?) / ? AS b, count(*) AS n FROM observations WHERE first_seen >= ?"
            + " AND first_seen < ?";
    args.add(fromMicros);
    args.add(widthMicros);
    args.add(fromMicros);
    args.add(toMicros);
    return sql + where(filter, args, false) + " GROUP BY b";
  }

  static String resolvedIn(
      FindingFilter filter, long fromMicros, long toMicros, long widthMicros, List<Object> args) {
    String sql =
        "SELECT (resolved_time - ?) / ? AS b, count(*) AS n FROM observations WHERE resolved_time >= ?"
            + " AND resolved_time < ? AND resolved = 1";
    args.add(fromMicros);
    args.add(widthMicros);
    args.add(fromMicros);
    args.add(toMicros);
    return sql + where(filter, args, false) + " GROUP BY b";
  }

  /** Per source, its newest last_seen (the index findings_source_last_seen answers it). */
  static String sourceLastSeen(FindingFilter filter, List<Object> args) {
    return "SELECT source, max(last_seen) AS last_seen FROM observations WHERE source IS NOT NULL"
        + where(filter, args, true)
        + " GROUP BY source ORDER BY source";
  }

  /** Per source, open and resolved counts (the covering index findings_open answers it). */
  static String sourceStates(FindingFilter filter, List<Object> args) {
    return "SELECT source, (resolved IS 1) AS r, count(*) AS n FROM observations WHERE source IS NOT NULL"
        + where(filter, args, true)
        + " GROUP BY source, (resolved IS 1)";
  }

  /** One row kept by triggers (schema v4). */
  static final String SUMMARY =
      "SELECT total, resolved, count_sum, last_created, last_seen FROM observation_stats WHERE id = 1";
}
