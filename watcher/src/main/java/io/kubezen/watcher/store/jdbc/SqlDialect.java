package io.kubezen.watcher.store.jdbc;

/**
 * What differs between the two SQL stores' console queries ({@link ConsoleSql}): column names, the
 * form of the resolved tests (some indexes are on the exact expression), the free-text search, the
 * form of a page's continue condition and of two aggregates, and the summary. Everything else in
 * {@link ConsoleSql} is the same text on both databases.
 */
public enum SqlDialect {
  /**
   * The SQLite store (schema {@code sqlite/Schema.java}, version 4 and later). Its pages walk
   * {@code DESC} indexes ({@code findings_last_seen (last_seen DESC, namespace, name)}, ...), so a
   * continue condition is the expanded comparison; (namespace, name) is unique, no cluster
   * tie-breaker.
   */
  SQLITE(
      "f1",
      "cluster",
      "first_seen",
      "last_seen",
      "resolved_time",
      "resolved IS NOT 1",
      "(resolved IS 1) = 0",
      "resolved = 1",
      "",
      "namespace, name, body, created_at, count, first_seen, last_seen, resolved, resolved_at,"
          + " severity_rank",
      "SELECT total, resolved, count_sum, last_created, last_seen FROM observation_stats WHERE id = 1",
      true,
      false,
      false),

  /**
   * The PostgreSQL store (migrations {@code db/zen-watcher/postgres/V*.sql}, V2 and later). Its
   * pages walk ascending indexes on negated numbers ({@code findings_last_seen ((-last_seen_us),
   * namespace, name, cluster)}, ...), so a continue condition is one row-value comparison, with the
   * row's cluster as the last tie-breaker since (namespace, name) is unique per cluster only.
   */
  POSTGRES(
      "p1",
      "cluster_name",
      "first_seen_us",
      "last_seen_us",
      "resolved_us",
      "resolved IS NOT TRUE",
      "resolved IS NOT TRUE",
      "resolved IS TRUE",
      " COLLATE \"C\"",
      "cluster, namespace, name, created_ms, count, first_seen_us, last_seen_us, resolved,"
          + " resolved_at, severity_rank, metadata::text AS metadata, spec::text AS spec",
      "SELECT coalesce(sum(total), 0) AS total, coalesce(sum(resolved), 0) AS resolved,"
          + " coalesce(sum(count_sum), 0) AS count_sum, max(last_created) AS last_created,"
          + " max(last_seen) AS last_seen FROM observation_stats WHERE total > 0",
      false,
      true,
      true);

  /** The version tag at the start of a continue token (a token of the other store is refused). */
  final String tokenVersion;

  /** The column of {@code spec.clusterName} ({@code cluster} is the row's key on PostgreSQL). */
  final String clusterName;

  /** The first sighting, epoch microseconds. */
  final String firstSeen;

  /** The last sighting, epoch microseconds (the findings pages' first sort key). */
  final String lastSeen;

  /** {@code status.resolvedAt}, epoch microseconds. */
  final String resolvedTime;

  /**
   * "Not resolved" in a findings page (SQLite: not the index expression, so the page walks its
   * sort's index).
   */
  final String openInPage;

  /**
   * "Not resolved" in an aggregate. SQLite: {@code (resolved IS 1) = 0}, the leading expression of
   * the covering indexes {@code findings_open} and {@code findings_open_rank}.
   */
  final String openInAggregate;

  /** "Resolved". */
  final String resolved;

  /**
   * Appended to the namespace and resolved group keys of {@code countBy}: PostgreSQL compares them
   * byte-wise ({@code COLLATE "C"}), as SQLite does, so both stores order groups alike.
   */
  final String byteOrder;

  /** The columns a findings page reads: what the store's row reader needs, plus the sort keys. */
  final String rowColumns;

  /**
   * The summary row (total, resolved, count_sum, last_created, last_seen) that triggers keep: one
   * row on SQLite, one per cluster (summed) on PostgreSQL.
   */
  final String summary;

  /**
   * Free text: SQLite finds the candidates in the FTS5 trigram table {@code observations_search}
   * (MATCH on a phrase of the needle, at least 3 characters) before the exact {@code LIKE}; on
   * PostgreSQL the pg_trgm GIN index {@code findings_search} serves the {@code LIKE} itself.
   */
  final boolean trigramTable;

  /**
   * Whether a ranking's totals and a source's open and total counts are counted in the same pass
   * ({@code count(*) FILTER (WHERE ...)}, PostgreSQL). SQLite reads them in separate queries
   * instead, each answered by one covering index ({@code findings_open_rank} for the critical and
   * high rows, then one count per ranked group; {@code findings_source_last_seen} and {@code
   * findings_open} for the sources).
   */
  final boolean onePassAggregates;

  /** Whether a page's continue condition is a row-value comparison with the cluster (see above). */
  final boolean rowValuePages;

  SqlDialect(
      String tokenVersion,
      String clusterName,
      String firstSeen,
      String lastSeen,
      String resolvedTime,
      String openInPage,
      String openInAggregate,
      String resolved,
      String byteOrder,
      String rowColumns,
      String summary,
      boolean trigramTable,
      boolean onePassAggregates,
      boolean rowValuePages) {
    this.tokenVersion = tokenVersion;
    this.clusterName = clusterName;
    this.firstSeen = firstSeen;
    this.lastSeen = lastSeen;
    this.resolvedTime = resolvedTime;
    this.openInPage = openInPage;
    this.openInAggregate = openInAggregate;
    this.resolved = resolved;
    this.byteOrder = byteOrder;
    this.rowColumns = rowColumns;
    this.summary = summary;
    this.trigramTable = trigramTable;
    this.onePassAggregates = onePassAggregates;
    this.rowValuePages = rowValuePages;
  }

  /** The summary query (see {@link ConsoleRows#summary}). */
  public String summarySql() {
    return summary;
  }

  /**
   * A text argument as the store holds it: PostgreSQL text cannot hold U+0000, which the store
   * writes as U+FFFD, so a filter value is compared the same way; SQLite keeps it.
   */
  String text(String value) {
    return this == POSTGRES && value != null && value.indexOf('\0') >= 0
        ? value.replace('\0', '\uFFFD')
        : value;
  }

  /**
   * An ascending order on an expression with nulls first: SQLite's {@code CASE} form (nulls sort
   * first there anyway, the form states it), PostgreSQL's {@code NULLS FIRST} (they sort last by
   * default).
   */
  String nullsFirst(String expression) {
    return this == POSTGRES
        ? expression + " NULLS FIRST"
        : "CASE WHEN " + expression + " IS NULL THEN 0 ELSE 1 END, " + expression;
  }
}
