package io.kubezen.watcher.store.jdbc;

import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.GroupField;
import java.util.List;

/**
 * The console overview's reads from the roll-up tables that triggers keep beside {@code
 * observations} (SQLite schema v5, PostgreSQL V3), so that a fresh overview reads a few hundred
 * rows instead of every open finding. The same SQL on both databases.
 *
 * <ul>
 *   <li>{@code rollup_counts(resolved, source, severity, category, cluster, namespace, n)}:
 *       findings per combination ({@code resolved} 1 when {@code status.resolved} is true, else 0;
 *       {@code namespace} is {@code spec.resource.namespace}, {@code cluster} {@code
 *       spec.clusterName}).
 *   <li>{@code rollup_resources(namespace, kind, name, critical, high)}: open critical and high
 *       findings per resource that has a name (a ranked resource's total is counted on the rows).
 *   <li>{@code rollup_hours(hour, opened, resolved)}: per hour since the epoch, findings first seen
 *       in it, and resolved findings whose resolvedAt is in it.
 * </ul>
 *
 * <p>Key columns are never null (a unique key with nulls is no key): a null value is stored as
 * {@code ''} and any other value {@code v} as {@code '=' || v}, so that the stored keys sort as the
 * values do with null first. A read the tables cannot answer ({@link #coversCounts} false) goes to
 * {@code observations} as before.
 */
public final class RollupSql {
  private RollupSql() {}

  /** One hour in microseconds: the width of {@code rollup_hours}. */
  public static final long HOUR_MICROS = 3_600_000_000L;

  /** A stored key value. */
  public static String key(String value) {
    return value == null ? "" : "=" + value;
  }

  /** Whether {@code rollup_counts} answers this filter (and these fields). */
  public static boolean coversCounts(FindingFilter f, List<GroupField> fields) {
    return f.eventType() == null
        && f.resourceKind() == null
        && f.resourceName() == null
        && f.firstSeenFrom() == null
        && f.firstSeenTo() == null
        && f.lastSeenFrom() == null
        && f.lastSeenTo() == null
        && !f.hasResolvedRange()
        && f.text() == null
        && !fields.contains(GroupField.EVENT_TYPE);
  }

  /**
   * Whether {@code rollup_resources} answers a ranking of resources under this filter: open
   * findings, nothing else.
   */
  public static boolean coversResources(FindingFilter f) {
    return f.equals(FindingFilter.OPEN);
  }

  /**
   * Whether {@code rollup_hours} answers this timeline: no filter (its state is ignored), whole
   * hours.
   */
  public static boolean coversTimeline(
      FindingFilter f, long fromMicros, long toMicros, long widthMicros) {
    return f.withState(FindingFilter.State.ALL).equals(FindingFilter.NONE)
        && Math.floorMod(fromMicros, HOUR_MICROS) == 0
        && Math.floorMod(toMicros, HOUR_MICROS) == 0
        && widthMicros % HOUR_MICROS == 0;
  }

  /**
   * Whether the per-source counts of {@code rollup_counts} answer {@code sourceActivity(f)}: no
   * filter at all.
   */
  public static boolean coversSourceActivity(FindingFilter f) {
    return f.equals(FindingFilter.NONE);
  }

  private static String column(GroupField f) {
    return switch (f) {
      case SOURCE -> "source";
      case SEVERITY -> "severity";
      case CATEGORY -> "category";
      case NAMESPACE -> "namespace";
      case CLUSTER -> "cluster";
      case RESOLVED -> "resolved";
      case EVENT_TYPE -> throw new IllegalArgumentException("rollup_counts has no event type");
    };
  }

  private static String decoded(String column) {
    return "CASE WHEN " + column + " = '' THEN NULL ELSE substr(" + column + ", 2) END";
  }

  /**
   * The conditions of a filter on rollup_counts (each starting with " AND"), arguments appended.
   */
  static String where(FindingFilter f, List<Object> args) {
    StringBuilder sql = new StringBuilder();
    eq(sql, args, "source", f.source());
    eq(sql, args, "severity", f.severity());
    eq(sql, args, "category", f.category());
    eq(sql, args, "namespace", f.namespace());
    eq(sql, args, "cluster", f.cluster());
    switch (f.state()) {
      case OPEN -> sql.append(" AND resolved = 0");
      case RESOLVED -> sql.append(" AND resolved = 1");
      case ALL -> {}
    }
    return sql.toString();
  }

  private static void eq(StringBuilder sql, List<Object> args, String column, String value) {
    if (value != null) {
      sql.append(" AND ").append(column).append(" = ?");
      args.add(key(value));
    }
  }

  /** countBy: columns k0.., n; count descending, then the keys ascending, null first. */
  public static String countBy(FindingFilter filter, List<GroupField> fields, List<Object> args) {
    ConsoleSql.checkGroupFields(fields);
    StringBuilder cols = new StringBuilder();
    StringBuilder groups = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      String c = column(fields.get(i));
      cols.append(
              fields.get(i) == GroupField.RESOLVED
                  ? "CASE WHEN resolved = 1 THEN 'true' ELSE 'false' END"
                  : decoded(c))
          .append(" AS k")
          .append(i)
          .append(", ");
      groups.append(i == 0 ? "" : ", ").append(c);
    }
    return "SELECT "
        + cols
        + "sum(n) AS n FROM rollup_counts WHERE 1 = 1"
        + where(filter, args)
        + " GROUP BY "
        + groups
        + " HAVING sum(n) > 0 ORDER BY sum(n) DESC, "
        + groups;
  }

  /**
   * The namespaces with the most critical and high findings: resource_namespace, critical, high,
   * total.
   */
  public static String topNamespaces(FindingFilter filter, int limit, List<Object> args) {
    String sql =
        "SELECT substr(namespace, 2) AS resource_namespace,"
            + " sum(CASE WHEN severity = '=critical' THEN n ELSE 0 END) AS critical,"
            + " sum(CASE WHEN severity = '=high' THEN n ELSE 0 END) AS high, sum(n) AS total"
            + " FROM rollup_counts WHERE namespace <> ''"
            + where(filter, args)
            + " GROUP BY namespace HAVING sum(CASE WHEN severity IN ('=critical', '=high') THEN n ELSE 0 END) > 0"
            + " ORDER BY critical DESC, high DESC, namespace LIMIT ?";
    args.add(limit);
    return sql;
  }

  /**
   * The open resources with the most critical and high findings (an index walk of
   * rollup_resources_rank).
   */
  public static String topResources(int limit, List<Object> args) {
    args.add(limit);
    return "SELECT "
        + decoded("namespace")
        + " AS resource_namespace, "
        + decoded("kind")
        + " AS resource_kind,"
        + " substr(name, 2) AS resource_name, critical, high FROM rollup_resources"
        + " WHERE critical > 0 OR high > 0 ORDER BY critical DESC, high DESC, namespace, kind, name LIMIT ?";
  }

  /**
   * The number of open findings of one resource (kind and namespace may be null), on the rows.
   *
   * @param open the SQL condition "not resolved" of the store's table
   */
  public static String resourceTotal(
      String namespace, String kind, String name, String open, List<Object> args) {
    args.add(name);
    StringBuilder sql =
        new StringBuilder("SELECT count(*) FROM observations WHERE resource_name = ?");
    sql.append(kind == null ? " AND resource_kind IS NULL" : " AND resource_kind = ?");
    if (kind != null) {
      args.add(kind);
    }
    sql.append(
        namespace == null ? " AND resource_namespace IS NULL" : " AND resource_namespace = ?");
    if (namespace != null) {
      args.add(namespace);
    }
    return sql.append(" AND ").append(open).toString();
  }

  /** The hours in [fromHour, toHour): hour, opened, resolved. */
  public static String hours(long fromMicros, long toMicros, List<Object> args) {
    args.add(Math.floorDiv(fromMicros, HOUR_MICROS));
    args.add(Math.floorDiv(toMicros, HOUR_MICROS));
    return "SELECT hour, opened, resolved FROM rollup_hours WHERE hour >= ? AND hour < ? AND (opened <> 0 OR resolved <> 0)";
  }

  /** Per source: open and total counts; source ascending. */
  public static final String SOURCE_COUNTS =
      "SELECT substr(source, 2) AS source,"
          + " sum(CASE WHEN resolved = 0 THEN n ELSE 0 END) AS open, sum(n) AS total"
          + " FROM rollup_counts WHERE source <> '' GROUP BY source HAVING sum(n) > 0 ORDER BY source";

  /**
   * The hour of a time in microseconds, in SQL (floor division, also before the epoch).
   *
   * @param micros an SQL expression
   */
  public static String hourOf(String micros) {
    return "(("
        + micros
        + " - (("
        + micros
        + " % "
        + HOUR_MICROS
        + ") + "
        + HOUR_MICROS
        + ") % "
        + HOUR_MICROS
        + ") / "
        + HOUR_MICROS
        + ")";
  }

  /** A stored key of an SQL expression: '' for null, '=' || value otherwise. */
  public static String keyOf(String expression) {
    return "coalesce('=' || " + expression + ", '')";
  }
}
