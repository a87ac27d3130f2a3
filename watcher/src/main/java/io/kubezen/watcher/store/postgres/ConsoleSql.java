package io.kubezen.watcher.store.postgres;

import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.SearchText;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

/**
 * The SQL of the console's reads on PostgreSQL (schema version 2), built from plain records (pure).
 * Same semantics and orders as the SQLite store's; one more tie-breaker, the row's cluster, since
 * (namespace, name) is unique per cluster only. Text keys compare byte-wise ({@code COLLATE "C"}),
 * as SQLite's do.
 */
final class ConsoleSql {
  private ConsoleSql() {}

  /**
   * The key of the last row of a findings page: the sort's two numbers, then namespace, name,
   * cluster.
   */
  record After(FindingSort sort, long k1, long k2, String namespace, String name, String cluster) {
    private static final String VERSION = "p1";

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
              + name.length()
              + ":"
              + namespace
              + name
              + cluster;
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    static After decode(String token, FindingSort expected) {
      try {
        String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        String[] p = raw.split(":", 7);
        if (p.length != 7 || !VERSION.equals(p[0])) {
          throw new IllegalArgumentException("unknown layout");
        }
        if (Integer.parseInt(p[1]) != expected.ordinal()) {
          throw new IllegalArgumentException("it belongs to another sort order");
        }
        int nsLength = Integer.parseInt(p[4]);
        int nameLength = Integer.parseInt(p[5]);
        if (nsLength < 0 || nameLength < 0 || nsLength > p[6].length() - nameLength) {
          throw new IllegalArgumentException("bad lengths");
        }
        String rest = p[6];
        return new After(
            expected,
            Long.parseLong(p[2]),
            Long.parseLong(p[3]),
            rest.substring(0, nsLength),
            rest.substring(nsLength, nsLength + nameLength),
            rest.substring(nsLength + nameLength));
      } catch (IllegalArgumentException e) {
        throw new InvalidContinueTokenException("invalid continue token: " + e.getMessage());
      }
    }
  }

  /** The WHERE conditions of a filter (each starting with " AND"), arguments appended. */
  static String where(FindingFilter f, List<Object> args, boolean withState) {
    StringBuilder sql = new StringBuilder();
    eq(sql, args, "source", f.source());
    eq(sql, args, "severity", f.severity());
    eq(sql, args, "category", f.category());
    eq(sql, args, "event_type", f.eventType());
    eq(sql, args, "resource_namespace", f.namespace());
    eq(sql, args, "cluster_name", f.cluster());
    eq(sql, args, "resource_kind", f.resourceKind());
    eq(sql, args, "resource_name", f.resourceName());
    if (withState) {
      switch (f.state()) {
        case OPEN -> sql.append(" AND resolved IS NOT TRUE");
        case RESOLVED -> sql.append(" AND resolved IS TRUE");
        case ALL -> {}
      }
    }
    range(sql, args, "first_seen_us", f.firstSeenFrom(), f.firstSeenTo());
    range(sql, args, "last_seen_us", f.lastSeenFrom(), f.lastSeenTo());
    if (f.hasResolvedRange()) {
      sql.append(" AND resolved IS TRUE");
      range(sql, args, "resolved_us", f.resolvedFrom(), f.resolvedTo());
    }
    if (f.textNeedle() != null) {
      // A substring test on the lower-cased search column; the trigram index (when pg_trgm is
      // installed) finds the candidates.
      sql.append(" AND search LIKE ? ESCAPE '\\'");
      args.add(SearchText.likePattern(PostgresObservationStore.text(f.textNeedle())));
    }
    return sql.toString();
  }

  private static void eq(StringBuilder sql, List<Object> args, String column, String value) {
    if (value != null) {
      sql.append(" AND ").append(column).append(" = ?");
      args.add(PostgresObservationStore.text(value));
    }
  }

  private static void range(
      StringBuilder sql, List<Object> args, String column, Instant from, Instant to) {
    if (from != null) {
      sql.append(" AND ").append(column).append(" >= ?");
      args.add(io.kubezen.watcher.store.StoreTimes.micros(from));
    }
    if (to != null) {
      sql.append(" AND ").append(column).append(" < ?");
      args.add(io.kubezen.watcher.store.StoreTimes.micros(to));
    }
  }

  /**
   * The sort keys of a page, ascending, as in the sort's index (findings_last_seen, _severity,
   * _count).
   */
  static String keys(FindingSort sort) {
    return switch (sort) {
      case LAST_SEEN -> "(-last_seen_us), namespace, name, cluster";
      case SEVERITY -> "(-severity_rank), (-last_seen_us), namespace, name, cluster";
      case COUNT -> "(-count), (-last_seen_us), namespace, name, cluster";
    };
  }

  static String page(FindingsQuery q, After after, List<Object> args) {
    StringBuilder sql =
        new StringBuilder(
            "SELECT cluster, namespace, name, created_ms, count, first_seen_us, "
                + "last_seen_us, resolved, resolved_at, severity_rank, metadata::text AS metadata, spec::text AS spec "
                + "FROM observations WHERE true");
    sql.append(where(q.filter(), args, true));
    if (after != null) {
      sql.append(" AND (").append(keys(q.sort())).append(") > (");
      if (q.sort() == FindingSort.LAST_SEEN) {
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
    sql.append(" ORDER BY ").append(keys(q.sort())).append(" LIMIT ?");
    args.add(q.limit() + 1); // one more tells whether there is a next page
    return sql.toString();
  }

  static String column(GroupField f) {
    return switch (f) {
      case SOURCE -> "source";
      case SEVERITY -> "severity";
      case CATEGORY -> "category";
      case EVENT_TYPE -> "event_type";
      case NAMESPACE -> "resource_namespace COLLATE \"C\"";
      case CLUSTER -> "cluster_name";
      case RESOLVED -> "CASE WHEN resolved IS TRUE THEN 'true' ELSE 'false' END COLLATE \"C\"";
    };
  }

  static String countBy(FindingFilter filter, List<GroupField> fields, List<Object> args) {
    if (fields.isEmpty()
        || fields.size() > 3
        || fields.stream().distinct().count() != fields.size()) {
      throw new IllegalArgumentException("group by one to three distinct fields: " + fields);
    }
    StringBuilder cols = new StringBuilder();
    StringBuilder groups = new StringBuilder();
    StringBuilder order = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      cols.append(column(fields.get(i))).append(" AS k").append(i).append(", ");
      groups.append(i == 0 ? "" : ", ").append(i + 1);
      order.append(", ").append(i + 1).append(" NULLS FIRST");
    }
    return "SELECT "
        + cols
        + "count(*) AS n FROM observations WHERE true"
        + where(filter, args, true)
        + " GROUP BY "
        + groups
        + " ORDER BY n DESC"
        + order;
  }

  /**
   * The top groups by critical then high findings, each with its total of findings matching the
   * filter: one pass over the matching rows that have the group's keys.
   */
  static String top(FindingFilter filter, RankedGroup.By by, int limit, List<Object> args) {
    boolean ns = by == RankedGroup.By.NAMESPACE;
    String keys =
        ns
            ? "resource_namespace COLLATE \"C\" AS resource_namespace, NULL::text AS resource_kind,"
                + " NULL::text AS resource_name"
            : "resource_namespace COLLATE \"C\" AS resource_namespace, resource_kind COLLATE \"C\" AS resource_kind,"
                + " resource_name COLLATE \"C\" AS resource_name";
    String present = ns ? " AND resource_namespace IS NOT NULL" : " AND resource_name IS NOT NULL";
    String group = ns ? "1" : "1, 2, 3";
    String order = ns ? "1 NULLS FIRST" : "1 NULLS FIRST, 2 NULLS FIRST, 3 NULLS FIRST";
    String sql =
        "SELECT "
            + keys
            + ", count(*) FILTER (WHERE severity = 'critical') AS critical,"
            + " count(*) FILTER (WHERE severity = 'high') AS high, count(*) AS total"
            + " FROM observations WHERE true"
            + where(filter, args, true)
            + present
            + " GROUP BY "
            + group
            + " HAVING count(*) FILTER (WHERE severity IN ('critical', 'high')) > 0"
            + " ORDER BY critical DESC, high DESC, "
            + order
            + " LIMIT ?";
    args.add(limit);
    return sql;
  }

  /** Bucket index of first_seen_us for findings first seen in [from, to). */
  static String opened(
      FindingFilter filter, long fromMicros, long toMicros, long widthMicros, List<Object> args) {
    String sql =
        "SELECT (first_seen_us - ?) / ? AS b, count(*) AS n FROM observations WHERE first_seen_us >= ?"
            + " AND first_seen_us < ?";
    args.add(fromMicros);
    args.add(widthMicros);
    args.add(fromMicros);
    args.add(toMicros);
    return sql + where(filter, args, false) + " GROUP BY b";
  }

  /** Bucket index of resolved_us for findings resolved now and resolved in [from, to). */
  static String resolvedIn(
      FindingFilter filter, long fromMicros, long toMicros, long widthMicros, List<Object> args) {
    String sql =
        "SELECT (resolved_us - ?) / ? AS b, count(*) AS n FROM observations WHERE resolved_us >= ?"
            + " AND resolved_us < ? AND resolved IS TRUE";
    args.add(fromMicros);
    args.add(widthMicros);
    args.add(fromMicros);
    args.add(toMicros);
    return sql + where(filter, args, false) + " GROUP BY b";
  }

  /** Per source: newest last seen, open and all counts. */
  static String sourceActivity(FindingFilter filter, List<Object> args) {
    return "SELECT source, max(last_seen_us) AS last_seen, count(*) FILTER (WHERE resolved IS NOT TRUE) AS open,"
        + " count(*) AS total FROM observations WHERE source IS NOT NULL"
        + where(filter, args, true)
        + " GROUP BY source ORDER BY source";
  }

  /** The whole store in a few numbers, every cluster: the rows the triggers of schema V2 keep. */
  static final String SUMMARY =
      "SELECT coalesce(sum(total), 0) AS total, coalesce(sum(resolved), 0) AS resolved,"
          + " coalesce(sum(count_sum), 0) AS count_sum, max(last_created) AS last_created, max(last_seen) AS last_seen"
          + " FROM observation_stats WHERE total > 0";
}
