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
          // The free-text search: a trigram index over the search column (substring matches of 3+
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
          // The store's summary (the console's "as of" and live check) in one row, kept by triggers.
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
          END"""));

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
