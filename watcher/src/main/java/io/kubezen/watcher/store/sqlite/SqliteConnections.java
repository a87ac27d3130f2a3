package io.kubezen.watcher.store.sqlite;

import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.jdbc.SqlWork;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.sqlite.SQLiteConfig;

/**
 * The SQLite connections of a {@link SqliteObservationStore}: one write connection used under a
 * fair lock (SQLite has one writer), each write one {@code BEGIN IMMEDIATE ... COMMIT} transaction;
 * a small pool of read-only connections, which WAL mode lets run while a write is in progress; the
 * write-failure state that readiness follows; closing.
 */
final class SqliteConnections {
  /**
   * How long a statement waits for a lock held by someone else, and a read for a free connection.
   */
  static final int BUSY_TIMEOUT_MILLIS = 5_000;

  private final Path path;
  private final ReentrantLock writeLock = new ReentrantLock(true);
  private Connection writer; // guarded by writeLock; null after a failure it could not recover from
  private final BlockingQueue<Connection> idleReaders;
  private final List<Connection> readers = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * The last write failed and none succeeded since (disk full, file-size limit, I/O error): {@link
   * #isReachable()} answers false until a write succeeds again, so /ready follows writes.
   */
  private volatile boolean writesFailing;

  private volatile long lastWriteFailureNanos;

  /**
   * After a failed write, not ready for this long (unless a write succeeds); then a probe write
   * decides.
   */
  static final long WRITE_FAILURE_HOLD_NANOS = TimeUnit.SECONDS.toNanos(10);

  SqliteConnections(Path path, int readerCount) {
    this.path = path;
    this.idleReaders = new ArrayBlockingQueue<>(readerCount);
  }

  /**
   * Opens the write connection, brings the schema up to date, opens {@code readerCount} readers.
   */
  void connect(int readerCount) throws SQLException {
    writer = openWriter();
    Schema.migrate(writer);
    for (int i = 0; i < readerCount; i++) {
      Connection c = openReader();
      readers.add(c);
      idleReaders.add(c);
    }
  }

  Path path() {
    return path;
  }

  private String url() {
    return "jdbc:sqlite:" + path;
  }

  private Connection openWriter() throws SQLException {
    SQLiteConfig config = new SQLiteConfig();
    config.setBusyTimeout(BUSY_TIMEOUT_MILLIS);
    Connection c = config.createConnection(url());
    try (Statement st = c.createStatement()) {
      st.execute("PRAGMA busy_timeout = " + BUSY_TIMEOUT_MILLIS);
      try (ResultSet rs = st.executeQuery("PRAGMA journal_mode = WAL")) {
        String mode = rs.next() ? rs.getString(1) : null;
        if (!"wal".equalsIgnoreCase(mode)) {
          throw new SQLException("could not switch to WAL journal mode (got " + mode + ")");
        }
      }
      st.execute("PRAGMA synchronous = FULL");
      // After a large sweep, the WAL file is truncated back to this size at the next checkpoint.
      st.execute("PRAGMA journal_size_limit = " + (64L << 20));
      return c;
    } catch (SQLException e) {
      closeQuietly(c);
      throw e;
    }
  }

  private Connection openReader() throws SQLException {
    SQLiteConfig config = new SQLiteConfig();
    config.setReadOnly(true);
    config.setBusyTimeout(BUSY_TIMEOUT_MILLIS);
    Connection c = config.createConnection(url());
    try (Statement st = c.createStatement()) {
      st.execute("PRAGMA busy_timeout = " + BUSY_TIMEOUT_MILLIS);
      return c;
    } catch (SQLException e) {
      closeQuietly(c);
      throw e;
    }
  }

  /** Runs {@code work} in one immediate transaction on the write connection; all or nothing. */
  <T> T inWriteTransaction(String what, SqlWork<T> work) {
    ensureOpen();
    writeLock.lock();
    try {
      ensureOpen();
      Connection conn = writer();
      boolean committed = false;
      try (Statement st = conn.createStatement()) {
        st.execute("BEGIN IMMEDIATE");
        try {
          T result = work.run(conn);
          st.execute("COMMIT");
          committed = true;
          writesFailing = false;
          return result;
        } finally {
          if (!committed) {
            rollback(st);
          }
        }
      }
    } catch (SQLException e) {
      writesFailing = true;
      lastWriteFailureNanos = System.nanoTime();
      checkpointAfterFailure();
      throw failure(what, e);
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * After a failed write (the WAL could not grow: disk full, a file-size limit), moves the WAL into
   * the database file and truncates it, so that the next write has room again without a restart.
   * Called with the write lock held.
   */
  private void checkpointAfterFailure() {
    try {
      if (writer != null) {
        try (Statement st = writer.createStatement()) {
          st.execute("PRAGMA wal_checkpoint(TRUNCATE)");
        }
      }
    } catch (SQLException e) {
      // still failing: the next write or readiness probe tries again
    }
  }

  /** Whether the last write failed and none succeeded since. */
  boolean writesFailing() {
    return writesFailing;
  }

  /** A write that changes nothing (the schema version, rewritten): succeeds only when writes do. */
  private boolean probeWrite() {
    if (!writeLock.tryLock()) {
      return !writesFailing; // a write is in progress: it will tell
    }
    try {
      checkpointAfterFailure();
      Connection conn = writer();
      try (Statement st = conn.createStatement()) {
        int version;
        try (ResultSet rs = st.executeQuery("PRAGMA user_version")) {
          version = rs.next() ? rs.getInt(1) : 0;
        }
        st.execute("BEGIN IMMEDIATE");
        boolean committed = false;
        try {
          st.execute("PRAGMA user_version = " + version);
          st.execute("COMMIT");
          committed = true;
        } finally {
          if (!committed) {
            rollback(st);
          }
        }
      }
      writesFailing = false;
      return true;
    } catch (SQLException e) {
      return false;
    } finally {
      writeLock.unlock();
    }
  }

  /** Runs one statement on the write connection, outside any transaction (tests: PRAGMAs). */
  void executeOnWriter(String sql) {
    writeLock.lock();
    try (Statement st = writer().createStatement()) {
      st.execute(sql);
    } catch (SQLException e) {
      throw failure(sql, e);
    } finally {
      writeLock.unlock();
    }
  }

  private Connection writer() throws SQLException {
    if (writer == null) {
      writer = openWriter();
    }
    return writer;
  }

  /**
   * Never leaves a transaction open. SQLite itself rolls back on some errors (disk full, I/O), in
   * which case ROLLBACK reports "no transaction is active"; anything else means the connection is
   * in an unknown state, and it is replaced on the next write.
   */
  private void rollback(Statement st) {
    try {
      st.execute("ROLLBACK");
    } catch (SQLException e) {
      String msg = String.valueOf(e.getMessage());
      if (!msg.contains("no transaction is active")) {
        closeQuietly(writer);
        writer = null;
      }
    }
  }

  <T> T read(String what, SqlWork<T> work) {
    ensureOpen();
    Connection conn;
    try {
      conn = idleReaders.poll(BUSY_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreException("interrupted waiting for a read connection to " + path, e);
    }
    if (conn == null) {
      throw new StoreException(
          "SQLite store "
              + path
              + ": no read connection free after "
              + BUSY_TIMEOUT_MILLIS
              + " ms ("
              + what
              + ")");
    }
    try {
      return work.run(conn);
    } catch (SQLException e) {
      throw failure(what, e);
    } finally {
      if (closed.get()) {
        closeQuietly(conn);
      } else {
        idleReaders.offer(conn);
      }
    }
  }

  boolean isReachable() {
    if (closed.get()) {
      return false;
    }
    if (writesFailing) {
      // A recent write failed: not ready. Later (no write since), a probe write decides, so that
      // the store comes back by itself when there is room again even with no traffic.
      if (System.nanoTime() - lastWriteFailureNanos < WRITE_FAILURE_HOLD_NANOS || !probeWrite()) {
        return false;
      }
    }
    try {
      return read(
          "isReachable",
          conn -> {
            try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery("SELECT 1")) {
              return rs.next() && rs.getInt(1) == 1;
            }
          });
    } catch (RuntimeException e) {
      return false;
    }
  }

  void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (Connection c : readers) {
      closeQuietly(c);
    }
    idleReaders.clear();
    // Wait for a write in progress to finish; the writer is closed last, so that SQLite
    // checkpoints the WAL into the database file and removes it.
    boolean locked = false;
    try {
      locked = writeLock.tryLock(BUSY_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      closeQuietly(writer);
      writer = null;
    } finally {
      if (locked) {
        writeLock.unlock();
      }
    }
  }

  void ensureOpen() {
    if (closed.get()) {
      throw new StoreException("SQLite store " + path + " is closed");
    }
  }

  StoreException failure(String what, SQLException e) {
    if (closed.get()) {
      return new StoreException("SQLite store " + path + " is closed (" + what + ")", e);
    }
    return new StoreException(
        "SQLite store " + path + ": " + what + " failed: " + e.getMessage(), e);
  }

  private static void closeQuietly(Connection c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (SQLException ignored) {
      // closing: nothing left to do with it
    }
  }

  boolean isClosed() {
    return closed.get();
  }
}
