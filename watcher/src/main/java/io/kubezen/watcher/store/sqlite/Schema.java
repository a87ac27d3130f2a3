package io.kubezen.watcher.store.sqlite;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The database layout, versioned with {@code PRAGMA user_version}. Each entry of {@link #MIGRATIONS}
 * moves the schema one version up; a database newer than this program is refused.
 */
final class Schema {
  /** Index i holds the statements that move a database from version i to version i + 1. */
  static final List<List<String>> MIGRATIONS = List.of(
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
          // The list order (newest first, then name, then namespace) and one index per filter that
          // also serves that order, so a filtered page is an index range scan.
          "CREATE INDEX observations_order ON observations (created_at DESC, name, namespace)",
          "CREATE INDEX observations_source ON observations (source, created_at DESC, name, namespace)",
          "CREATE INDEX observations_severity ON observations (severity, created_at DESC, name, namespace)",
          "CREATE INDEX observations_category ON observations (category, created_at DESC, name, namespace)",
          "CREATE INDEX observations_event_type ON observations (event_type, created_at DESC, name, namespace)",
          "CREATE INDEX observations_namespace ON observations (namespace, created_at DESC, name)",
          "CREATE INDEX observations_expires ON observations (expires_at) WHERE expires_at IS NOT NULL"),
      List.of(
          // Version 2: the uid of the watched object an Observation came from (label origin-uid).
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
          // Overview counts of open findings read only this index (covering).
          "CREATE INDEX findings_open ON observations (coalesce(resolved, 0), source, severity, category, resource_namespace)",
          "CREATE INDEX findings_resource ON observations (resource_name, resource_kind, resource_namespace)",
          "CREATE INDEX findings_namespace ON observations (resource_namespace, severity)",
          "CREATE INDEX findings_source_last_seen ON observations (source, last_seen)",
          "CREATE INDEX findings_first_seen ON observations (first_seen)",
          "CREATE INDEX findings_resolved_time ON observations (resolved_time) WHERE resolved_time IS NOT NULL",
          "CREATE INDEX findings_cluster ON observations (cluster) WHERE cluster IS NOT NULL"));

  static final int VERSION = MIGRATIONS.size();

  private Schema() {}

  /** Brings the database to {@link #VERSION}, in one transaction per step. */
  static void migrate(Connection conn) throws SQLException {
    int current = userVersion(conn);
    if (current > VERSION) {
      throw new SQLException("database schema version " + current
          + " is newer than this program's version " + VERSION);
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
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("PRAGMA user_version")) {
      return rs.next() ? rs.getInt(1) : 0;
    }
  }
}
