package io.kubezen.watcher.store.sqlite;

import io.kubezen.watcher.store.jdbc.RollupSql;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The database layout, versioned with {@code PRAGMA user_version}. Each entry of {@link
 * #MIGRATIONS} moves the schema one version up; a database newer than this program is refused.
 */
final class Schema {
  /** Index i holds the statements that move a database from version i to version i + 1. */
  static final List<List<String>> MIGRATIONS =
      List.of(
          List.of(
              """
          CREATE TABLE observations (
            namespace   TEXT    NOT NULL,
            name        TEXT    NOT NULL,
            source      TEXT,
            category    TEXT,
            severity    TEXT,
            event_type  TEXT,
            fingerprint TEXT,
            created_at  INTEGER NOT NULL,
            expires_at  INTEGER,
            first_seen  INTEGER NOT NULL,
            last_seen   INTEGER NOT NULL,
            count       INTEGER NOT NULL,
            resolved    INTEGER,
            resolved_at TEXT,
            body        TEXT    NOT NULL,
            PRIMARY KEY (namespace, name)
          )""",
              // The list order (newest first, then name, then namespace) and one index per filter
              // that
              // also serves that order, so a filtered page is an index range scan.
              "CREATE INDEX observations_order ON observations (created_at DESC, name, namespace)",
              "CREATE INDEX observations_source ON observations (source, created_at DESC, name, namespace)",
              "CREATE INDEX observations_severity ON observations (severity, created_at DESC, name, namespace)",
              "CREATE INDEX observations_category ON observations (category, created_at DESC, name, namespace)",
              "CREATE INDEX observations_event_type ON observations (event_type, created_at DESC, name, namespace)",
              "CREATE INDEX observations_namespace ON observations (namespace, created_at DESC, name)",
              "CREATE INDEX observations_expires ON observations (expires_at) WHERE expires_at IS NOT NULL"),
          List.of(
              // Version 2: the uid of the watched object an Observation came from (label
              // origin-uid).
              "ALTER TABLE observations ADD COLUMN origin_uid TEXT",
              "CREATE INDEX observations_origin ON observations (origin_uid) WHERE origin_uid IS NOT NULL"),
          List.of(
              // Version 3: a resolved Observation expires at resolvedAt + TTL (not creation + TTL).
              "ALTER TABLE observations ADD COLUMN resolved_expires_at INTEGER",
              """
          UPDATE observations SET resolved_expires_at =
            CAST(strftime('%s', resolved_at) AS INTEGER) * 1000
              + json_extract(body, '$.spec.ttlSecondsAfterCreation') * 1000
          WHERE resolved = 1 AND resolved_at IS NOT NULL""",
              "CREATE INDEX observations_resolved_expires ON observations (resolved_expires_at) "
                  + "WHERE resolved_expires_at IS NOT NULL"),
          List.of(
              // Version 4: the console's filters, sorts, free-text search and aggregates.
              "ALTER TABLE observations ADD COLUMN resource_namespace TEXT",
              "ALTER TABLE observations ADD COLUMN resource_kind TEXT",
              "ALTER TABLE observations ADD COLUMN resource_name TEXT",
              "ALTER TABLE observations ADD COLUMN cluster TEXT",
              "ALTER TABLE observations ADD COLUMN severity_rank INTEGER NOT NULL DEFAULT 0",
              // status.resolvedAt in epoch microseconds, for the new-versus-resolved timeline.
              "ALTER TABLE observations ADD COLUMN resolved_time INTEGER",
              // SearchText.of(spec): lower-cased title, resource name, rule/policy/CVE/check ids.
              "ALTER TABLE observations ADD COLUMN search TEXT",
              """
          UPDATE observations SET
            resource_namespace = json_extract(body, '$.spec.resource.namespace'),
            resource_kind = json_extract(body, '$.spec.resource.kind'),
            resource_name = json_extract(body, '$.spec.resource.name'),
            cluster = json_extract(body, '$.spec.clusterName'),
            severity_rank = CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
              WHEN 'low' THEN 1 ELSE 0 END,
            resolved_time = CASE WHEN resolved_at IS NOT NULL
              THEN CAST(strftime('%s', resolved_at) AS INTEGER) * 1000000 END,
            search = lower(concat_ws(char(10), json_extract(body, '$.spec.title'),
              json_extract(body, '$.spec.resource.name'), json_extract(body, '$.spec.details.rule'),
              json_extract(body, '$.spec.details.policy'), json_extract(body, '$.spec.details.vulnerabilityID'),
              json_extract(body, '$.spec.details.check_id'), json_extract(body, '$.spec.details.check_name'),
              json_extract(body, '$.spec.details.test_number')))""",
              // The three sort orders of the findings list, each with its keyset tie-breakers.
              "CREATE INDEX findings_last_seen ON observations (last_seen DESC, namespace, name)",
              "CREATE INDEX findings_severity ON observations (severity_rank DESC, last_seen DESC, namespace, name)",
              "CREATE INDEX findings_count ON observations (count DESC, last_seen DESC, namespace, name)",
              // Overview counts of open findings read only these indexes (covering).
              "CREATE INDEX findings_open ON observations ((resolved IS 1), source, severity, category, "
                  + "resource_namespace, cluster)",
              "CREATE INDEX findings_open_rank ON observations ((resolved IS 1), severity, resource_namespace, "
                  + "resource_kind, resource_name)",
              "CREATE INDEX findings_resource ON observations (resource_name, resource_kind, resource_namespace)",
              "CREATE INDEX findings_namespace ON observations (resource_namespace, severity)",
              "CREATE INDEX findings_source_last_seen ON observations (source, last_seen)",
              "CREATE INDEX findings_first_seen ON observations (first_seen)",
              "CREATE INDEX findings_resolved_time ON observations (resolved_time) WHERE resolved_time IS NOT NULL",
              "CREATE INDEX findings_cluster ON observations (cluster) WHERE cluster IS NOT NULL",
              // The free-text search: a trigram index over the search column (substring matches of
              // 3+
              // characters), kept in step by triggers. External content: its rowids are the table's
              // (the table is never VACUUMed, which could renumber them).
              "CREATE VIRTUAL TABLE observations_search USING fts5(search, content='observations', "
                  + "content_rowid='rowid', tokenize='trigram')",
              "INSERT INTO observations_search(observations_search) VALUES ('rebuild')",
              """
          CREATE TRIGGER observations_search_insert AFTER INSERT ON observations BEGIN
            INSERT INTO observations_search(rowid, search) VALUES (new.rowid, new.search);
          END""",
              """
          CREATE TRIGGER observations_search_delete AFTER DELETE ON observations BEGIN
            INSERT INTO observations_search(observations_search, rowid, search) VALUES ('delete', old.rowid, old.search);
          END""",
              """
          CREATE TRIGGER observations_search_update AFTER UPDATE OF search ON observations BEGIN
            INSERT INTO observations_search(observations_search, rowid, search) VALUES ('delete', old.rowid, old.search);
            INSERT INTO observations_search(rowid, search) VALUES (new.rowid, new.search);
          END""",
              // The store's summary (the console's "as of" and live check) in one row, kept by
              // triggers.
              """
          CREATE TABLE observation_stats (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            total INTEGER NOT NULL, resolved INTEGER NOT NULL, count_sum INTEGER NOT NULL,
            last_created INTEGER, last_seen INTEGER)""",
              """
          INSERT INTO observation_stats SELECT 1, count(*), coalesce(sum(resolved IS 1), 0), coalesce(sum(count), 0),
            max(created_at), max(last_seen) FROM observations""",
              """
          CREATE TRIGGER observation_stats_insert AFTER INSERT ON observations BEGIN
            UPDATE observation_stats SET total = total + 1, resolved = resolved + (new.resolved IS 1),
              count_sum = count_sum + new.count, last_created = max(coalesce(last_created, new.created_at), new.created_at),
              last_seen = max(coalesce(last_seen, new.last_seen), new.last_seen) WHERE id = 1;
          END""",
              """
          CREATE TRIGGER observation_stats_update AFTER UPDATE ON observations BEGIN
            UPDATE observation_stats SET resolved = resolved + (new.resolved IS 1) - (old.resolved IS 1),
              count_sum = count_sum + new.count - old.count,
              last_seen = max(coalesce(last_seen, new.last_seen), new.last_seen) WHERE id = 1;
          END""",
              """
          CREATE TRIGGER observation_stats_delete AFTER DELETE ON observations BEGIN
            UPDATE observation_stats SET total = total - 1, resolved = resolved - (old.resolved IS 1),
              count_sum = count_sum - old.count,
              last_created = CASE WHEN total = 1 THEN NULL ELSE last_created END,
              last_seen = CASE WHEN total = 1 THEN NULL ELSE last_seen END WHERE id = 1;
          END"""),
          rollups());

  /**
   * Version 5: the console overview's counts in small tables kept by triggers (see {@link
   * io.kubezen.watcher.store.jdbc.RollupSql}), filled from the rows present.
   */
  private static List<String> rollups() {
    String rsv = "(new.resolved IS 1)";
    String ok = "(old.resolved IS 1)";
    String keysNew =
        RollupSql.keyOf("new.source")
            + ", "
            + RollupSql.keyOf("new.severity")
            + ", "
            + RollupSql.keyOf("new.category")
            + ", "
            + RollupSql.keyOf("new.cluster")
            + ", "
            + RollupSql.keyOf("new.resource_namespace");
    String matchOld =
        "source = "
            + RollupSql.keyOf("old.source")
            + " AND severity = "
            + RollupSql.keyOf("old.severity")
            + " AND category = "
            + RollupSql.keyOf("old.category")
            + " AND cluster = "
            + RollupSql.keyOf("old.cluster")
            + " AND namespace = "
            + RollupSql.keyOf("old.resource_namespace");
    String resNew =
        RollupSql.keyOf("new.resource_namespace")
            + ", "
            + RollupSql.keyOf("new.resource_kind")
            + ", "
            + RollupSql.keyOf("new.resource_name");
    String resOld =
        "namespace = "
            + RollupSql.keyOf("old.resource_namespace")
            + " AND kind = "
            + RollupSql.keyOf("old.resource_kind")
            + " AND name = "
            + RollupSql.keyOf("old.resource_name");
    String crit = "(%s.severity = 'critical')";
    String high = "(%s.severity = 'high')";
    String hourFirstNew = RollupSql.hourOf("new.first_seen");
    String hourFirstOld = RollupSql.hourOf("old.first_seen");
    String hourResNew = RollupSql.hourOf("new.resolved_time");
    String hourResOld = RollupSql.hourOf("old.resolved_time");
    String countsNew =
        "INSERT INTO rollup_counts VALUES ("
            + rsv
            + ", "
            + keysNew
            + ", 1)"
            + " ON CONFLICT (resolved, source, severity, category, cluster, namespace) DO UPDATE SET n = n + 1;";
    String countsOld =
        "UPDATE rollup_counts SET n = n - 1 WHERE resolved = " + ok + " AND " + matchOld + ";";
    String resourceNew =
        "INSERT INTO rollup_resources SELECT "
            + resNew
            + ", "
            + crit.formatted("new")
            + ", "
            + high.formatted("new")
            + " WHERE new.resolved IS NOT 1 AND new.resource_name IS NOT NULL"
            + " AND new.severity IN ('critical', 'high')"
            + " ON CONFLICT (namespace, kind, name) DO UPDATE SET critical = critical + excluded.critical, high = high + excluded.high;";
    String resourceOld =
        "UPDATE rollup_resources SET critical = critical - "
            + crit.formatted("old")
            + ", high = high - "
            + high.formatted("old")
            + " WHERE old.resolved IS NOT 1 AND old.resource_name IS NOT NULL"
            + " AND old.severity IN ('critical', 'high') AND "
            + resOld
            + ";";
    String openedNew =
        "INSERT INTO rollup_hours VALUES ("
            + hourFirstNew
            + ", 1, 0)"
            + " ON CONFLICT (hour) DO UPDATE SET opened = opened + 1;";
    String openedOld =
        "UPDATE rollup_hours SET opened = opened - 1 WHERE hour = " + hourFirstOld + ";";
    String resolvedNew =
        "INSERT INTO rollup_hours SELECT "
            + hourResNew
            + ", 0, 1"
            + " WHERE new.resolved IS 1 AND new.resolved_time IS NOT NULL ON CONFLICT (hour) DO UPDATE SET resolved = resolved + 1;";
    String resolvedOld =
        "UPDATE rollup_hours SET resolved = resolved - 1 WHERE hour = "
            + hourResOld
            + " AND old.resolved IS 1 AND old.resolved_time IS NOT NULL;";
    return List.of(
        """
        CREATE TABLE rollup_counts (
          resolved INTEGER NOT NULL, source TEXT NOT NULL, severity TEXT NOT NULL, category TEXT NOT NULL,
          cluster TEXT NOT NULL, namespace TEXT NOT NULL, n INTEGER NOT NULL,
          PRIMARY KEY (resolved, source, severity, category, cluster, namespace)) WITHOUT ROWID""",
        """
        CREATE TABLE rollup_resources (
          namespace TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
          critical INTEGER NOT NULL, high INTEGER NOT NULL,
          PRIMARY KEY (namespace, kind, name)) WITHOUT ROWID""",
        "CREATE INDEX rollup_resources_rank ON rollup_resources (critical DESC, high DESC, namespace, kind, name)",
        "CREATE TABLE rollup_hours (hour INTEGER PRIMARY KEY, opened INTEGER NOT NULL, resolved INTEGER NOT NULL)",
        "INSERT INTO rollup_counts SELECT (resolved IS 1), "
            + keysNew.replace("new.", "")
            + ", count(*)"
            + " FROM observations WHERE true GROUP BY 1, 2, 3, 4, 5, 6",
        "INSERT INTO rollup_resources SELECT "
            + resNew.replace("new.", "")
            + ", sum(severity = 'critical'),"
            + " sum(severity = 'high') FROM observations WHERE resolved IS NOT 1 AND resource_name IS NOT NULL"
            + " AND severity IN ('critical', 'high') GROUP BY 1, 2, 3",
        "INSERT INTO rollup_hours SELECT h, sum(o), sum(r) FROM ("
            + "SELECT "
            + hourFirstNew.replace("new.", "")
            + " AS h, 1 AS o, 0 AS r FROM observations UNION ALL "
            + "SELECT "
            + hourResNew.replace("new.", "")
            + ", 0, 1 FROM observations"
            + " WHERE resolved IS 1 AND resolved_time IS NOT NULL) WHERE true GROUP BY h",
        "CREATE TRIGGER rollup_insert AFTER INSERT ON observations BEGIN "
            + countsNew
            + " "
            + resourceNew
            + " "
            + openedNew
            + " "
            + resolvedNew
            + " END",
        "CREATE TRIGGER rollup_delete AFTER DELETE ON observations BEGIN "
            + countsOld
            + " "
            + resourceOld
            + " "
            + openedOld
            + " "
            + resolvedOld
            + " END",
        // The spec's fields never change; an update moves a finding between open and resolved, its
        // first sighting earlier, or its resolvedAt.
        "CREATE TRIGGER rollup_resolved AFTER UPDATE OF resolved ON observations"
            + " WHEN (old.resolved IS 1) <> (new.resolved IS 1) BEGIN "
            + countsOld
            + " "
            + countsNew
            + " "
            + resourceOld
            + " "
            + resourceNew
            + " END",
        "CREATE TRIGGER rollup_first_seen AFTER UPDATE OF first_seen ON observations"
            + " WHEN old.first_seen <> new.first_seen BEGIN "
            + openedOld
            + " "
            + openedNew
            + " END",
        "CREATE TRIGGER rollup_resolved_time AFTER UPDATE OF resolved, resolved_time ON observations"
            + " WHEN (old.resolved IS 1 AND old.resolved_time IS NOT NULL) IS NOT (new.resolved IS 1"
            + " AND new.resolved_time IS NOT NULL) OR old.resolved_time IS NOT new.resolved_time BEGIN "
            + resolvedOld
            + " "
            + resolvedNew
            + " END",
        // The console's namespace filter: the resource's namespace, newest sighting first (the
        // first list page's order), instead of every row of the namespace sorted.
        // MAX_OBSERVATIONS: the lowest severity, oldest first, is evicted for a new one of a higher
        // severity.
        "CREATE INDEX observations_shed_order ON observations (severity_rank, created_at, name, namespace)",
        "CREATE INDEX findings_namespace_last_seen ON observations (resource_namespace, last_seen DESC, namespace, name)",
        // One resource's findings (a filter of the list, the detail's "same resource"): its three
        // fields, then the list's order, so that the planner has no reason to prefer the index
        // above.
        "DROP INDEX findings_resource",
        "CREATE INDEX findings_resource ON observations (resource_name, resource_kind, resource_namespace, "
            + "last_seen DESC, namespace, name)");
  }

  static final int VERSION = MIGRATIONS.size();

  private Schema() {}

  /** Brings the database to {@link #VERSION}, in one transaction per step. */
  static void migrate(Connection conn) throws SQLException {
    int current = userVersion(conn);
    if (current > VERSION) {
      throw new SQLException(
          "database schema version "
              + current
              + " is newer than this program's version "
              + VERSION);
    }
    try (Statement st = conn.createStatement()) {
      for (int v = current; v < VERSION; v++) {
        st.execute("BEGIN IMMEDIATE");
        boolean done = false;
        try {
          for (String sql : MIGRATIONS.get(v)) {
            st.execute(sql);
          }
          st.execute("PRAGMA user_version = " + (v + 1));
          st.execute("COMMIT");
          done = true;
        } finally {
          if (!done) {
            st.execute("ROLLBACK");
          }
        }
      }
    }
  }

  static int userVersion(Connection conn) throws SQLException {
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("PRAGMA user_version")) {
      return rs.next() ? rs.getInt(1) : 0;
    }
  }
}
