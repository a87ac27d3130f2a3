package io.kubezen.watcher.store.postgres;

import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.StoreException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sweeps of a {@link PostgresObservationStore}: the TTL sweep of this cluster's rows, in
 * chunks, and the shedding of rows beyond MAX_OBSERVATIONS (lowest severities, oldest first).
 */
final class PostgresGc {
  private static final Logger log = LoggerFactory.getLogger(PostgresObservationStore.class);

  /** Rows deleted per GC statement, so that a large sweep never holds many row locks for long. */
  static final int GC_CHUNK = 5_000;

  /** A GC sweep gives up after this many chunks failing in a row (the next sweep tries again). */
  static final int GC_MAX_CONSECUTIVE_FAILURES = 3;

  /**
   * One chunk of the TTL sweep of this cluster: open rows past creation + TTL, resolved ones past
   * resolvedAt + TTL.
   */
  static final String GC =
      """
      DELETE FROM observations o USING (
        (SELECT namespace, name FROM observations
          WHERE cluster = ? AND expires_ms < ? AND resolved IS NOT TRUE
            AND (origin_uid IS NULL OR NOT (source = ANY (?::text[])))
          LIMIT ?)
        UNION
        (SELECT namespace, name FROM observations
          WHERE cluster = ? AND resolved_expires_ms < ? LIMIT ?)) d
      WHERE o.cluster = ? AND o.namespace = d.namespace AND o.name = d.name""";

  /** Beyond MAX_OBSERVATIONS: the lowest severities first, the oldest first among them. */
  static final String SHED =
      """
      DELETE FROM observations o USING (
        SELECT namespace, name FROM observations WHERE cluster = ?
        ORDER BY CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1
          ELSE 0 END, created_ms, name, namespace
        LIMIT ?) d
      WHERE o.cluster = ? AND o.namespace = d.namespace AND o.name = d.name""";

  private final PostgresDb db;
  private final PostgresStoreOptions options;

  PostgresGc(PostgresDb db) {
    this.db = db;
    this.options = db.options();
  }

  GcResult deleteExpired(Instant now, Set<String> stateLikeSources) {
    db.ensureWritable();
    String[] stateLike =
        stateLikeSources.stream().map(PostgresText::text).sorted().toArray(String[]::new);
    long cutoff = now.toEpochMilli();
    int deleted = 0;
    int errors = 0;
    int failuresInARow = 0;
    while (failuresInARow < GC_MAX_CONSECUTIVE_FAILURES) {
      int n;
      try {
        n =
            db.write(
                "deleteExpired",
                conn -> {
                  try (PreparedStatement st = conn.prepareStatement(GC)) {
                    st.setString(1, options.cluster());
                    st.setLong(2, cutoff);
                    st.setArray(3, conn.createArrayOf("text", stateLike));
                    st.setInt(4, GC_CHUNK);
                    st.setString(5, options.cluster());
                    st.setLong(6, cutoff);
                    st.setInt(7, GC_CHUNK);
                    st.setString(8, options.cluster());
                    return st.executeUpdate();
                  }
                });
      } catch (StoreException e) {
        if (db.isClosed()) {
          throw e;
        }
        errors++;
        failuresInARow++;
        continue;
      }
      failuresInARow = 0;
      deleted += n;
      if (n == 0) {
        break;
      }
    }
    if (options.maxObservations() > 0 && failuresInARow == 0) {
      try {
        deleted += shed();
      } catch (StoreException e) {
        if (db.isClosed()) {
          throw e;
        }
        errors++;
      }
    }
    return new GcResult(deleted, errors);
  }

  /** Deletes this cluster's Observations beyond MAX_OBSERVATIONS, in chunks; returns how many. */
  private int shed() {
    long live =
        db.read(
            "count",
            conn -> {
              try (PreparedStatement st =
                  conn.prepareStatement("SELECT count(*) FROM observations WHERE cluster = ?")) {
                st.setString(1, options.cluster());
                try (ResultSet rs = st.executeQuery()) {
                  rs.next();
                  return rs.getLong(1);
                }
              }
            });
    long excess = live - options.maxObservations();
    int deleted = 0;
    while (excess > 0) {
      int chunk = (int) Math.min(excess, GC_CHUNK);
      int n =
          db.write(
              "shed beyond MAX_OBSERVATIONS",
              conn -> {
                try (PreparedStatement st = conn.prepareStatement(SHED)) {
                  st.setString(1, options.cluster());
                  st.setInt(2, chunk);
                  st.setString(3, options.cluster());
                  return st.executeUpdate();
                }
              });
      if (n == 0) {
        break;
      }
      deleted += n;
      excess -= n;
    }
    if (deleted > 0) {
      log.info(
          "deleted {} Observations of cluster {} beyond MAX_OBSERVATIONS={} (lowest severities, oldest first)",
          deleted,
          options.cluster(),
          options.maxObservations());
    }
    return deleted;
  }
}
