package io.kubezen.watcher.store.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.jdbc.SqlWork;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The connection pool of a {@link PostgresObservationStore} and how statements run on it: reads,
 * writes retried after a deadlock or a serialization failure, the readiness probe (one at a time,
 * on a background thread), closing.
 */
final class PostgresDb {
  /** How long readiness waits for the database's answer. */
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  /** Attempts of a write that met a deadlock or a serialization failure. */
  private static final int WRITE_ATTEMPTS = 5;

  private final PostgresStoreOptions options;
  private final HikariDataSource pool;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final ExecutorService prober;
  private Future<Boolean> probe; // guarded by this

  PostgresDb(PostgresStoreOptions options, HikariDataSource pool) {
    this.options = options;
    this.pool = pool;
    this.prober =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "postgres-probe");
              t.setDaemon(true);
              return t;
            });
  }

  PostgresStoreOptions options() {
    return options;
  }

  boolean isClosed() {
    return closed.get();
  }

  Connection connection() throws SQLException {
    return pool.getConnection();
  }

  /** Runs {@code task} on the probe thread (the live count's refresh). */
  void background(Runnable task) {
    prober.execute(task);
  }

  boolean isReachable() {
    if (closed.get()) {
      return false;
    }
    Future<Boolean> f;
    synchronized (this) {
      // One probe at a time: while the database is silent, callers share the one in flight.
      if (probe == null || probe.isDone()) {
        try {
          probe = prober.submit(this::probeOnce);
        } catch (java.util.concurrent.RejectedExecutionException e) {
          return false;
        }
      }
      f = probe;
    }
    try {
      return f.get(PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | TimeoutException e) {
      return false;
    }
  }

  private boolean probeOnce() {
    try (Connection c = pool.getConnection()) {
      return c.isValid((int) Math.max(1, PROBE_TIMEOUT.toSeconds()));
    } catch (SQLException | RuntimeException e) {
      return false;
    }
  }

  // ---------------------------------------------------------------- plumbing

  /**
   * One write statement (its own transaction), retried after a deadlock or a serialization failure.
   */
  <T> T write(String what, SqlWork<T> work) {
    ensureOpen();
    SQLException last = null;
    for (int attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
      try (Connection conn = pool.getConnection()) {
        return work.run(conn);
      } catch (SQLException e) {
        last = e;
        String state = e.getSQLState();
        if (!"40P01".equals(state) && !"40001".equals(state)) {
          break;
        }
        sleep(attempt * 5L);
      }
    }
    throw failure(what, last);
  }

  <T> T read(String what, SqlWork<T> work) {
    ensureOpen();
    try (Connection conn = pool.getConnection()) {
      return work.run(conn);
    } catch (SQLException e) {
      throw failure(what, e);
    }
  }

  void ensureWritable() {
    ensureOpen();
    if (options.readOnly()) {
      throw new StoreException("the PostgreSQL store is read-only here (MODE=reader)");
    }
  }

  void ensureOpen() {
    if (closed.get()) {
      throw new StoreException("PostgreSQL store " + options.url() + " is closed");
    }
  }

  StoreException failure(String what, SQLException e) {
    if (closed.get()) {
      return new StoreException(
          "PostgreSQL store " + options.url() + " is closed (" + what + ")", e);
    }
    return new StoreException(
        "PostgreSQL store " + options.url() + ": " + what + " failed: " + e.getMessage(), e);
  }

  void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    prober.shutdownNow();
    pool.close();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
