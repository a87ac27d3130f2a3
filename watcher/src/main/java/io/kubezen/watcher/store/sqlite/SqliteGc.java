package io.kubezen.watcher.store.sqlite;

import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.StoreException;
import java.sql.PreparedStatement;
import java.time.Instant;

/**
 * The TTL sweep of a {@link SqliteObservationStore}: expired and resolved-expired rows deleted in
 * chunks of {@link #GC_CHUNK}, one transaction each, so that writes interleave.
 */
final class SqliteGc {
  /** Rows deleted per GC transaction, so that a large sweep never holds the write lock for long. */
  static final int GC_CHUNK = 1_000;

  /** A GC sweep gives up after this many chunks failing in a row (the next sweep tries again). */
  static final int GC_MAX_CONSECUTIVE_FAILURES = 3;

  static final String GC =
      """
      DELETE FROM observations WHERE rowid IN
        (SELECT rowid FROM observations WHERE expires_at < ?1 AND coalesce(resolved, 0) = 0
           AND (origin_uid IS NULL OR source NOT IN (SELECT value FROM json_each(?2)))
         UNION ALL
         SELECT rowid FROM observations WHERE resolved_expires_at < ?1
         LIMIT ?3)""";

  private final SqliteConnections db;

  SqliteGc(SqliteConnections db) {
    this.db = db;
  }

  GcResult deleteExpired(Instant now, java.util.Set<String> stateLikeSources) {
    String stateLike = toJsonArray(stateLikeSources);
    long cutoff = now.toEpochMilli();
    int deleted = 0;
    int errors = 0;
    int failuresInARow = 0;
    while (failuresInARow < GC_MAX_CONSECUTIVE_FAILURES) {
      int n;
      try {
        // One chunk per transaction: the lock is released between chunks, so writes interleave.
        n =
            db.inWriteTransaction(
                "deleteExpired",
                conn -> {
                  try (PreparedStatement st = conn.prepareStatement(GC)) {
                    st.setLong(1, cutoff);
                    st.setString(2, stateLike);
                    st.setInt(3, GC_CHUNK);
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
      if (n < GC_CHUNK) {
        break;
      }
    }
    return new GcResult(deleted, errors);
  }

  private static String toJsonArray(java.util.Set<String> values) {
    try {
      return new com.fasterxml.jackson.databind.ObjectMapper()
          .writeValueAsString(new java.util.TreeSet<>(values));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
