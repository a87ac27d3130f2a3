package io.kubezen.watcher.store.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live count of a {@link PostgresObservationStore}: this cluster's live Observations (every
 * cluster's for a reader), from the rows the triggers keep, refreshed in the background.
 */
final class PostgresLiveCount {
  private static final Logger log = LoggerFactory.getLogger(PostgresObservationStore.class);

  /** How old the live count may be before {@link #liveCount()} refreshes it. */
  static final Duration LIVE_COUNT_AGE = Duration.ofSeconds(5);

  private final PostgresDb db;
  private final PostgresStoreOptions options;
  private final java.util.concurrent.atomic.AtomicLong live =
      new java.util.concurrent.atomic.AtomicLong(-1);
  private volatile long liveAtNanos = System.nanoTime() - LIVE_COUNT_AGE.toNanos() - 1;
  private final AtomicBoolean counting = new AtomicBoolean();

  PostgresLiveCount(PostgresDb db) {
    this.db = db;
    this.options = db.options();
  }

  /** This cluster's live Observations, from the row the triggers keep. */
  long liveCount(Connection conn) throws SQLException {
    try (PreparedStatement st =
        conn.prepareStatement("SELECT total FROM observation_stats WHERE cluster = ?")) {
      st.setString(1, options.cluster());
      try (ResultSet rs = st.executeQuery()) {
        long n = rs.next() ? rs.getLong(1) : 0;
        live.set(n);
        liveAtNanos = System.nanoTime();
        return n;
      }
    }
  }

  /**
   * Live Observations of this store's cluster (every cluster's for a reader), as last counted: -1
   * until the first count. Never waits for the database: a count older than {@link #LIVE_COUNT_AGE}
   * is refreshed in the background (for the gauge {@code zen_watcher_observations_live}).
   */
  long liveCount() {
    if (!db.isClosed()
        && System.nanoTime() - liveAtNanos > LIVE_COUNT_AGE.toNanos()
        && counting.compareAndSet(false, true)) {
      try {
        db.background(
            () -> {
              try (Connection conn = db.connection()) {
                if (options.cluster() == null) {
                  try (java.sql.Statement st = conn.createStatement();
                      ResultSet rs =
                          st.executeQuery(
                              "SELECT coalesce(sum(total), 0) FROM observation_stats")) {
                    rs.next();
                    live.set(rs.getLong(1));
                    liveAtNanos = System.nanoTime();
                  }
                } else {
                  liveCount(conn);
                }
              } catch (SQLException | RuntimeException e) {
                log.debug("counting live Observations failed: {}", e.getMessage());
              } finally {
                counting.set(false);
              }
            });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        counting.set(false);
      }
    }
    return live.get();
  }
}
