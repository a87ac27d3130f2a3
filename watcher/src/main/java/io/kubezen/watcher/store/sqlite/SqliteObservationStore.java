package io.kubezen.watcher.store.sqlite;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.Observations;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.StoreTimes;
import io.kubezen.watcher.store.WriteOutcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.sqlite.SQLiteConfig;

/**
 * {@link ObservationStore} in one SQLite file, for standalone mode.
 *
 * <p>One write connection, used under a fair lock (SQLite has one writer); each write call is one
 * {@code BEGIN IMMEDIATE ... COMMIT} transaction for the whole batch, with {@code synchronous=FULL}
 * so that a committed (acknowledged) Observation survives a crash or power loss. Reads use a small
 * pool of read-only connections, which WAL mode lets run while a write is in progress.
 *
 * <p>Rows keep the Observation's metadata and spec as JSON; the status, the creation time and the
 * columns the list filters on are columns of their own.
 */
public final class SqliteObservationStore implements ObservationStore {
  /** Read connections opened by {@link #open(Path, Clock)}. */
  public static final int DEFAULT_READERS = 4;

  /**
   * How long a statement waits for a lock held by someone else, and a read for a free connection.
   */
  static final int BUSY_TIMEOUT_MILLIS = 5_000;

  /** Rows deleted per GC transaction, so that a large sweep never holds the write lock for long. */
  static final int GC_CHUNK = 1_000;

  /** A GC sweep gives up after this many chunks failing in a row (the next sweep tries again). */
  static final int GC_MAX_CONSECUTIVE_FAILURES = 3;

  private static final String COLUMNS =
      "namespace, name, body, created_at, count, first_seen, last_seen, resolved, resolved_at";

  private static final String INSERT =
      """
      INSERT INTO observations (namespace, name, source, category, severity, event_type, fingerprint,
        created_at, expires_at, first_seen, last_seen, count, resolved, resolved_at, body, origin_uid,
        resource_namespace, resource_kind, resource_name, cluster, severity_rank, resolved_time, search)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (namespace, name) DO NOTHING""";
  private static final String MERGE =
      """
      UPDATE observations SET count = count + ?, first_seen = min(first_seen, ?), last_seen = max(last_seen, ?),
        resolved = CASE WHEN resolved = 1 THEN 0 ELSE resolved END, resolved_expires_at = NULL
      WHERE namespace = ? AND name = ?""";
  private static final String UNRESOLVE =
      """
      UPDATE observations SET resolved = 0, resolved_expires_at = NULL
      WHERE namespace = ? AND name = ? AND resolved = 1""";
  private static final String RESOLVE =
      """
      UPDATE observations SET resolved = 1, resolved_at = coalesce(CASE WHEN resolved = 1 THEN resolved_at END, ?),
        resolved_time = CASE WHEN resolved = 1 AND resolved_time IS NOT NULL THEN resolved_time ELSE ? END,
        resolved_expires_at = CASE WHEN resolved = 1 THEN resolved_expires_at
          ELSE ? + max(0, json_extract(body, '$.spec.ttlSecondsAfterCreation')) * 1000 END
      WHERE namespace = ? AND name = ?""";
  private static final String REPEAT =
      """
      UPDATE observations SET count = count + ?, last_seen = max(last_seen, coalesce(?, last_seen))
      WHERE namespace = ? AND name = ?""";
  static final String GC =
      """
      DELETE FROM observations WHERE rowid IN
        (SELECT rowid FROM observations WHERE expires_at < ?1 AND coalesce(resolved, 0) = 0
           AND (origin_uid IS NULL OR source NOT IN (SELECT value FROM json_each(?2)))
         UNION ALL
         SELECT rowid FROM observations WHERE resolved_expires_at < ?1
         LIMIT ?3)""";

  private final Path path;
  private final Clock clock;
  private final ReentrantLock writeLock = new ReentrantLock(true);
  private final long maxObservations;
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

  private SqliteObservationStore(Path path, Clock clock, int readerCount, long maxObservations) {
    this.path = path;
    this.clock = clock;
    this.maxObservations = maxObservations;
    this.idleReaders = new ArrayBlockingQueue<>(readerCount);
  }

  /** Opens (creating when needed) the database at {@code dbPath}, with {@link #DEFAULT_READERS}. */
  public static SqliteObservationStore open(Path dbPath, Clock clock) {
    return open(dbPath, clock, DEFAULT_READERS);
  }

  /**
   * Opens (creating when needed) the database at {@code dbPath} and its parent directories, and
   * brings its schema up to date.
   *
   * @throws StoreException naming the path and the cause when it cannot be created or opened
   */
  public static SqliteObservationStore open(Path dbPath, Clock clock, int readerCount) {
    return open(dbPath, clock, readerCount, 0);
  }

  /**
   * As {@link #open(Path, Clock, int)}, keeping at most {@code maxObservations} live Observations
   * (0: no cap). At the cap a new Observation evicts one of a lower severity (the lowest there is,
   * the oldest first among them) or, when there is none, is refused: its outcome is {@link
   * WriteOutcome#MISSING}. Existing ones are merged as always.
   */
  public static SqliteObservationStore open(
      Path dbPath, Clock clock, int readerCount, long maxObservations) {
    Objects.requireNonNull(dbPath, "dbPath");
    if (maxObservations < 0) {
      throw new IllegalArgumentException(
          "maxObservations must not be negative: " + maxObservations);
    }
    Objects.requireNonNull(clock, "clock");
    if (readerCount < 1) {
      throw new IllegalArgumentException("readerCount must be at least 1: " + readerCount);
    }
    Path path = dbPath.toAbsolutePath().normalize();
    try {
      Path parent = path.getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
    } catch (IOException | SecurityException e) {
      throw new StoreException(
          "cannot create the directory of SQLite database " + path + ": " + e, e);
    }
    SqliteObservationStore store =
        new SqliteObservationStore(path, clock, readerCount, maxObservations);
    try {
      store.writer = store.openWriter();
      Schema.migrate(store.writer);
      for (int i = 0; i < readerCount; i++) {
        Connection c = store.openReader();
        store.readers.add(c);
        store.idleReaders.add(c);
      }
      return store;
    } catch (SQLException | RuntimeException e) {
      store.close();
      throw new StoreException("cannot open SQLite database " + path + ": " + e.getMessage(), e);
    }
  }

  public Path path() {
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

  // ---------------------------------------------------------------- writes

  /** One Observation ready to be written: everything computed outside the write lock. */
  private record Row(
      String namespace,
      String name,
      ObservationSpec spec,
      Long ttlSeconds,
      long count,
      long firstSeen,
      long lastSeen,
      Boolean resolved,
      String resolvedAt,
      String body,
      String originUid) {}

  @Override
  public List<WriteOutcome> createOrMerge(List<Observation> observations) {
    if (observations.isEmpty()) {
      return List.of();
    }
    List<Row> rows = new ArrayList<>(observations.size());
    for (Observation o : observations) {
      rows.add(row(o));
    }
    return inWriteTransaction(
        "createOrMerge of " + rows.size(),
        conn -> {
          long now = clock.millis();
          List<WriteOutcome> outcomes = new ArrayList<>(rows.size());
          try (PreparedStatement insert = conn.prepareStatement(INSERT);
              PreparedStatement merge = conn.prepareStatement(MERGE)) {
            for (Row r : rows) {
              if (!admit(conn, r)) {
                outcomes.add(WriteOutcome.MISSING);
                continue;
              }
              if (insert(insert, r, now) == 1) {
                outcomes.add(WriteOutcome.CREATED);
                continue;
              }
              merge.setLong(1, r.count());
              merge.setLong(2, r.firstSeen());
              merge.setLong(3, r.lastSeen());
              merge.setString(4, r.namespace());
              merge.setString(5, r.name());
              if (merge.executeUpdate() != 1) {
                throw new SQLException(
                    "row " + r.namespace() + "/" + r.name() + " vanished inside a transaction");
              }
              outcomes.add(WriteOutcome.MERGED);
            }
          }
          return outcomes;
        });
  }

  /**
   * Under MAX_OBSERVATIONS (inside the write transaction): true when {@code r} exists or there is
   * room for it, if need be by deleting the Observation of the lowest severity below its own (the
   * oldest first); false when it is refused.
   */
  private boolean admit(Connection conn, Row r) throws SQLException {
    if (maxObservations <= 0) {
      return true;
    }
    try (PreparedStatement st =
        conn.prepareStatement("SELECT 1 FROM observations WHERE namespace = ? AND name = ?")) {
      st.setString(1, r.namespace());
      st.setString(2, r.name());
      try (ResultSet rs = st.executeQuery()) {
        if (rs.next()) {
          return true;
        }
      }
    }
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery(FindingsSql.SUMMARY)) {
      if (!rs.next() || rs.getLong("total") < maxObservations) {
        return true;
      }
    }
    int rank = r.spec().severity() == null ? 0 : r.spec().severity().rank();
    try (PreparedStatement st =
        conn.prepareStatement(
            "DELETE FROM observations WHERE rowid = (SELECT rowid FROM"
                + " observations WHERE severity_rank < ? ORDER BY severity_rank, created_at, name, namespace LIMIT 1)")) {
      st.setInt(1, rank);
      return st.executeUpdate() == 1;
    }
  }

  private static int insert(PreparedStatement st, Row r, long now) throws SQLException {
    ObservationSpec spec = r.spec();
    st.setString(1, r.namespace());
    st.setString(2, r.name());
    st.setString(3, spec.source());
    st.setString(4, spec.category() == null ? null : spec.category().wire());
    st.setString(5, spec.severity() == null ? null : spec.severity().wire());
    st.setString(6, spec.eventType());
    st.setString(7, spec.fingerprint());
    st.setLong(8, now);
    Long expires = expiresAt(now, r.ttlSeconds());
    if (expires == null) {
      st.setNull(9, Types.INTEGER);
    } else {
      st.setLong(9, expires);
    }
    st.setLong(10, r.firstSeen());
    st.setLong(11, r.lastSeen());
    st.setLong(12, r.count());
    if (r.resolved() == null) {
      st.setNull(13, Types.INTEGER);
    } else {
      st.setInt(13, r.resolved() ? 1 : 0);
    }
    st.setString(14, r.resolvedAt());
    st.setString(15, r.body());
    st.setString(16, r.originUid());
    io.kubezen.api.v1alpha1.ResourceRef res = spec.resource();
    st.setString(17, res == null ? null : res.namespace());
    st.setString(18, res == null ? null : res.kind());
    st.setString(19, res == null ? null : res.name());
    st.setString(20, spec.clusterName());
    st.setInt(21, spec.severity() == null ? 0 : spec.severity().rank());
    Long resolvedTime = null;
    if (Boolean.TRUE.equals(r.resolved()) && r.resolvedAt() != null) {
      try {
        resolvedTime = StoreTimes.parseMicros(r.resolvedAt());
      } catch (IllegalArgumentException e) {
        resolvedTime = null;
      }
    }
    if (resolvedTime == null) {
      st.setNull(22, Types.INTEGER);
    } else {
      st.setLong(22, resolvedTime);
    }
    st.setString(23, io.kubezen.watcher.store.SearchText.of(spec));
    return st.executeUpdate();
  }

  /**
   * Creation time plus the TTL; null (never) without a TTL or when it lies beyond the long range.
   */
  static Long expiresAt(long createdAtMillis, Long ttlSeconds) {
    if (ttlSeconds == null) {
      return null;
    }
    long ttl = Math.max(0, ttlSeconds);
    if (ttl > (Long.MAX_VALUE - createdAtMillis) / 1000) {
      return null;
    }
    return createdAtMillis + ttl * 1000;
  }

  private Row row(Observation o) {
    Observations.requireWritable(o);
    ObjectMeta meta = o.getMetadata();
    ObservationSpec spec = o.getSpec();
    ObservationStatus status = o.getStatus();
    long count = status != null && status.count() != null ? status.count() : 1;
    // Without times of its own, the Observation was first seen when detected, else now. Status
    // times come from the pipeline and must parse; detectedAt comes from the input and may not.
    Long first =
        status != null && status.firstSeen() != null
            ? StoreTimes.parseMicros(status.firstSeen())
            : null;
    Long last =
        status != null && status.lastSeen() != null
            ? StoreTimes.parseMicros(status.lastSeen())
            : null;
    if (first == null && last == null && spec.detectedAt() != null) {
      try {
        first = StoreTimes.parseMicros(spec.detectedAt());
      } catch (IllegalArgumentException e) {
        first = null;
      }
    }
    long firstSeen =
        first != null ? first : last != null ? last : StoreTimes.micros(clock.instant());
    long lastSeen = last != null ? last : firstSeen;

    // Only what a client sets is stored; the store owns creationTimestamp (from created_at).
    ObjectMeta stored =
        new ObjectMetaBuilder()
            .withName(meta.getName())
            .withNamespace(meta.getNamespace())
            .withLabels(
                meta.getLabels() == null || meta.getLabels().isEmpty() ? null : meta.getLabels())
            .withAnnotations(
                meta.getAnnotations() == null || meta.getAnnotations().isEmpty()
                    ? null
                    : meta.getAnnotations())
            .build();
    // apiVersion and kind are fixed by the class (fabric8 logs each attempt to set them on read),
    // and the status lives in columns: the body is {metadata, spec}.
    ObjectNode tree = Json.MAPPER.createObjectNode();
    tree.set("metadata", Json.MAPPER.valueToTree(stored));
    tree.set("spec", Json.MAPPER.valueToTree(spec));
    String body;
    try {
      body = Json.MAPPER.writeValueAsString(tree);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          "Observation "
              + meta.getNamespace()
              + "/"
              + meta.getName()
              + " cannot be written as JSON: "
              + e.getOriginalMessage(),
          e);
    }
    return new Row(
        meta.getNamespace(),
        meta.getName(),
        spec,
        spec.ttlSecondsAfterCreation(),
        count,
        Math.min(firstSeen, lastSeen),
        Math.max(firstSeen, lastSeen),
        status == null ? null : status.resolved(),
        status == null ? null : status.resolvedAt(),
        body,
        meta.getLabels() == null ? null : meta.getLabels().get(Observation.LABEL_ORIGIN_UID));
  }

  @Override
  public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    if (observations.isEmpty()) {
      return List.of();
    }
    List<Row> rows = new ArrayList<>(observations.size());
    for (Observation o : observations) {
      rows.add(row(o));
    }
    return inWriteTransaction(
        "createIfAbsent of " + rows.size(),
        conn -> {
          long now = clock.millis();
          List<WriteOutcome> outcomes = new ArrayList<>(rows.size());
          try (PreparedStatement insert = conn.prepareStatement(INSERT);
              PreparedStatement unresolve = conn.prepareStatement(UNRESOLVE)) {
            for (Row r : rows) {
              if (!admit(conn, r)) {
                outcomes.add(WriteOutcome.MISSING);
                continue;
              }
              if (insert(insert, r, now) == 1) {
                outcomes.add(WriteOutcome.CREATED);
                continue;
              }
              unresolve.setString(1, r.namespace());
              unresolve.setString(2, r.name());
              unresolve.executeUpdate();
              outcomes.add(WriteOutcome.EXISTED);
            }
          }
          return outcomes;
        });
  }

  @Override
  public List<Observation> listByOrigin(String originUid) {
    Objects.requireNonNull(originUid, "originUid");
    return read(
        "listByOrigin " + originUid,
        conn -> {
          try (PreparedStatement st =
              conn.prepareStatement(
                  "SELECT "
                      + COLUMNS
                      + " FROM observations WHERE origin_uid = ? ORDER BY namespace, name")) {
            st.setString(1, originUid);
            List<Observation> out = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                out.add(observation(rs));
              }
            }
            return out;
          }
        });
  }

  @Override
  public List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    if (keys.isEmpty()) {
      return List.of();
    }
    String when = StoreTimes.formatMicros(StoreTimes.micros(at));
    return inWriteTransaction(
        "resolve of " + keys.size(),
        conn -> {
          List<WriteOutcome> outcomes = new ArrayList<>(keys.size());
          try (PreparedStatement st = conn.prepareStatement(RESOLVE)) {
            for (ObservationKey k : keys) {
              st.setString(1, when);
              st.setLong(2, StoreTimes.micros(at));
              st.setLong(3, at.toEpochMilli());
              st.setString(4, k.namespace());
              st.setString(5, k.name());
              outcomes.add(st.executeUpdate() == 1 ? WriteOutcome.MERGED : WriteOutcome.MISSING);
            }
          }
          return outcomes;
        });
  }

  @Override
  public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    if (repeats.isEmpty()) {
      return List.of();
    }
    // Parse everything before taking the lock.
    List<Long> lastSeen = new ArrayList<>(repeats.size());
    for (Repeat r : repeats) {
      Objects.requireNonNull(r, "repeat");
      lastSeen.add(r.lastSeen() == null ? null : StoreTimes.micros(r.lastSeen()));
    }
    return inWriteTransaction(
        "addRepeats of " + repeats.size(),
        conn -> {
          List<WriteOutcome> outcomes = new ArrayList<>(repeats.size());
          try (PreparedStatement st = conn.prepareStatement(REPEAT)) {
            for (int i = 0; i < repeats.size(); i++) {
              Repeat r = repeats.get(i);
              st.setLong(1, r.delta());
              if (lastSeen.get(i) == null) {
                st.setNull(2, Types.INTEGER);
              } else {
                st.setLong(2, lastSeen.get(i));
              }
              st.setString(3, r.namespace());
              st.setString(4, r.name());
              outcomes.add(st.executeUpdate() == 1 ? WriteOutcome.MERGED : WriteOutcome.MISSING);
            }
          }
          return outcomes;
        });
  }

  @Override
  public GcResult deleteExpired(Instant now, java.util.Set<String> stateLikeSources) {
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
            inWriteTransaction(
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
        if (closed.get()) {
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

  @FunctionalInterface
  private interface SqlWork<T> {
    T run(Connection conn) throws SQLException;
  }

  /** Runs {@code work} in one immediate transaction on the write connection; all or nothing. */
  private <T> T inWriteTransaction(String what, SqlWork<T> work) {
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
  public boolean writesFailing() {
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

  // ---------------------------------------------------------------- reads

  @Override
  public Optional<Observation> get(String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    return read(
        "get " + namespace + "/" + name,
        conn -> {
          try (PreparedStatement st =
              conn.prepareStatement(
                  "SELECT " + COLUMNS + " FROM observations WHERE namespace = ? AND name = ?")) {
            st.setString(1, namespace);
            st.setString(2, name);
            try (ResultSet rs = st.executeQuery()) {
              return rs.next() ? Optional.of(observation(rs)) : Optional.<Observation>empty();
            }
          }
        });
  }

  @Override
  public ObservationPage list(ObservationQuery query) {
    ContinueToken after =
        query.continueToken() == null ? null : ContinueToken.decode(query.continueToken());
    List<Object> args = new ArrayList<>();
    String sql = listSql(query, after, args);
    int limit = query.limit();
    return read(
        "list",
        conn -> {
          try (PreparedStatement st = conn.prepareStatement(sql)) {
            for (int i = 0; i < args.size(); i++) {
              st.setObject(i + 1, args.get(i));
            }
            List<Observation> items = new ArrayList<>();
            ContinueToken last = null;
            boolean more = false;
            try (ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                if (items.size() == limit) {
                  more = true;
                  break;
                }
                items.add(observation(rs));
                last =
                    new ContinueToken(
                        rs.getLong("created_at"), rs.getString("name"), rs.getString("namespace"));
              }
            }
            return new ObservationPage(items, more ? last.encode() : null);
          }
        });
  }

  /** The page query; fills {@code args}. Every filter has an index that also serves the order. */
  static String listSql(ObservationQuery query, ContinueToken after, List<Object> args) {
    StringBuilder sql =
        new StringBuilder("SELECT ").append(COLUMNS).append(" FROM observations WHERE 1 = 1");
    filter(sql, args, "source", query.source());
    filter(sql, args, "severity", query.severity());
    filter(sql, args, "category", query.category());
    filter(sql, args, "namespace", query.namespace());
    filter(sql, args, "event_type", query.eventType());
    if (after != null) {
      // Rows after the last one in the order (created_at DESC, name ASC, namespace ASC).
      sql.append(
          " AND (created_at < ? OR (created_at = ? AND (name > ? OR (name = ? AND namespace > ?))))");
      args.add(after.createdAt());
      args.add(after.createdAt());
      args.add(after.name());
      args.add(after.name());
      args.add(after.namespace());
    }
    sql.append(" ORDER BY created_at DESC, name ASC, namespace ASC LIMIT ?");
    args.add(query.limit() + 1); // one more tells whether there is a next page
    return sql.toString();
  }

  private static void filter(StringBuilder sql, List<Object> args, String column, String value) {
    if (value != null) {
      sql.append(" AND ").append(column).append(" = ?");
      args.add(value);
    }
  }

  // ---------------------------------------------------------------- console reads

  @Override
  public ObservationPage findings(io.kubezen.watcher.store.FindingsQuery query) {
    FindingsSql.After after =
        query.after() == null ? null : FindingsSql.After.decode(query.after(), query.sort());
    List<Object> args = new ArrayList<>();
    String sql = FindingsSql.page(query, after, args);
    int limit = query.limit();
    return read(
        "findings",
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args)) {
            List<Observation> items = new ArrayList<>();
            FindingsSql.After last = null;
            boolean more = false;
            try (ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                if (items.size() == limit) {
                  more = true;
                  break;
                }
                items.add(observation(rs));
                long lastSeen = rs.getLong("last_seen");
                long k1 =
                    switch (query.sort()) {
                      case LAST_SEEN -> lastSeen;
                      case SEVERITY -> rs.getLong("severity_rank");
                      case COUNT -> rs.getLong("count");
                    };
                last =
                    new FindingsSql.After(
                        query.sort(),
                        k1,
                        lastSeen,
                        rs.getString("namespace"),
                        rs.getString("name"));
              }
            }
            return new ObservationPage(items, more ? last.encode() : null);
          }
        });
  }

  @Override
  public List<io.kubezen.watcher.store.GroupCount> countBy(
      io.kubezen.watcher.store.FindingFilter filter,
      List<io.kubezen.watcher.store.GroupField> fields) {
    if (io.kubezen.watcher.store.jdbc.RollupSql.coversCounts(filter, fields)) {
      return read(
          "countBy " + fields,
          conn -> io.kubezen.watcher.store.jdbc.Rollups.countBy(conn, filter, fields));
    }
    List<Object> args = new ArrayList<>();
    String sql = FindingsSql.countBy(filter, fields, args);
    return read(
        "countBy " + fields,
        conn ->
            io.kubezen.watcher.store.jdbc.ConsoleRows.groupCounts(conn, sql, args, fields.size()));
  }

  @Override
  public List<io.kubezen.watcher.store.RankedGroup> topByCriticalHigh(
      io.kubezen.watcher.store.FindingFilter filter,
      io.kubezen.watcher.store.RankedGroup.By by,
      int limit) {
    if (limit < 1 || limit > ObservationQuery.MAX_LIMIT) {
      throw new IllegalArgumentException(
          "limit must be between 1 and " + ObservationQuery.MAX_LIMIT + ": " + limit);
    }
    if (by == io.kubezen.watcher.store.RankedGroup.By.NAMESPACE
        ? io.kubezen.watcher.store.jdbc.RollupSql.coversCounts(filter, List.of())
        : io.kubezen.watcher.store.jdbc.RollupSql.coversResources(filter)) {
      return read(
          "top " + by,
          conn ->
              io.kubezen.watcher.store.jdbc.Rollups.top(
                  conn, filter, by, limit, "resolved IS NOT 1"));
    }
    List<Object> args = new ArrayList<>();
    String sql = FindingsSql.top(filter, by, limit, args);
    return read(
        "top " + by,
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args);
              ResultSet rs = st.executeQuery()) {
            List<io.kubezen.watcher.store.RankedGroup> ranked = new ArrayList<>();
            while (rs.next()) {
              ranked.add(
                  new io.kubezen.watcher.store.RankedGroup(
                      rs.getString("resource_namespace"),
                      rs.getString("resource_kind"),
                      rs.getString("resource_name"),
                      rs.getLong("critical"),
                      rs.getLong("high"),
                      0));
            }
            List<io.kubezen.watcher.store.RankedGroup> out = new ArrayList<>(ranked.size());
            for (io.kubezen.watcher.store.RankedGroup g : ranked) {
              List<Object> totalArgs = new ArrayList<>();
              String totalSql = FindingsSql.groupTotal(filter, g, by, totalArgs);
              try (PreparedStatement t =
                      io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, totalSql, totalArgs);
                  ResultSet trs = t.executeQuery()) {
                long total = trs.next() ? trs.getLong("n") : 0;
                out.add(
                    new io.kubezen.watcher.store.RankedGroup(
                        g.namespace(), g.kind(), g.name(), g.critical(), g.high(), total));
              }
            }
            return out;
          }
        });
  }

  @Override
  public List<io.kubezen.watcher.store.TimeBucket> timeline(
      io.kubezen.watcher.store.FindingFilter filter,
      Instant from,
      Instant to,
      java.time.Duration width) {
    io.kubezen.watcher.store.jdbc.ConsoleRows.Span span =
        io.kubezen.watcher.store.jdbc.ConsoleRows.Span.of(from, to, width);
    long[] opened = new long[span.buckets()];
    long[] resolved = new long[span.buckets()];
    if (io.kubezen.watcher.store.jdbc.RollupSql.coversTimeline(
        filter, span.from(), span.to(), span.width())) {
      read(
          "timeline",
          conn -> {
            io.kubezen.watcher.store.jdbc.Rollups.timeline(
                conn, span.from(), span.to(), span.width(), opened, resolved);
            return null;
          });
      return span.buckets(opened, resolved);
    }
    List<Object> openedArgs = new ArrayList<>();
    String openedSql = FindingsSql.opened(filter, span.from(), span.to(), span.width(), openedArgs);
    List<Object> resolvedArgs = new ArrayList<>();
    String resolvedSql =
        FindingsSql.resolvedIn(filter, span.from(), span.to(), span.width(), resolvedArgs);
    read(
        "timeline",
        conn -> {
          io.kubezen.watcher.store.jdbc.ConsoleRows.fillBuckets(
              conn, openedSql, openedArgs, opened);
          io.kubezen.watcher.store.jdbc.ConsoleRows.fillBuckets(
              conn, resolvedSql, resolvedArgs, resolved);
          return null;
        });
    return span.buckets(opened, resolved);
  }

  @Override
  public List<io.kubezen.watcher.store.SourceActivity> sourceActivity(
      io.kubezen.watcher.store.FindingFilter filter) {
    if (io.kubezen.watcher.store.jdbc.RollupSql.coversSourceActivity(filter)) {
      return read(
          "sourceActivity",
          conn ->
              io.kubezen.watcher.store.jdbc.Rollups.sourceActivity(
                  conn, "SELECT max(last_seen) FROM observations WHERE source = ?"));
    }
    List<Object> lastArgs = new ArrayList<>();
    String lastSql = FindingsSql.sourceLastSeen(filter, lastArgs);
    List<Object> stateArgs = new ArrayList<>();
    String stateSql = FindingsSql.sourceStates(filter, stateArgs);
    return read(
        "sourceActivity",
        conn -> {
          java.util.Map<String, long[]> counts = new java.util.HashMap<>(); // open, total
          try (PreparedStatement st =
                  io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, stateSql, stateArgs);
              ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              long[] c = counts.computeIfAbsent(rs.getString("source"), k -> new long[2]);
              if (rs.getInt("r") == 0) {
                c[0] += rs.getLong("n");
              }
              c[1] += rs.getLong("n");
            }
          }
          List<io.kubezen.watcher.store.SourceActivity> out = new ArrayList<>();
          try (PreparedStatement st =
                  io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, lastSql, lastArgs);
              ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              long[] c = counts.getOrDefault(rs.getString("source"), new long[2]);
              out.add(
                  new io.kubezen.watcher.store.SourceActivity(
                      rs.getString("source"),
                      Instant.EPOCH.plus(
                          rs.getLong("last_seen"), java.time.temporal.ChronoUnit.MICROS),
                      c[0],
                      c[1]));
            }
          }
          return out;
        });
  }

  /**
   * The live Observations: the summary row the triggers keep (a local read); -1 when it cannot be
   * read.
   */
  @Override
  public long liveCount() {
    try {
      return summary().total();
    } catch (StoreException e) {
      return -1;
    }
  }

  @Override
  public io.kubezen.watcher.store.StoreSummary summary() {
    return read(
        "summary",
        conn -> io.kubezen.watcher.store.jdbc.ConsoleRows.summary(conn, FindingsSql.SUMMARY));
  }

  private static Observation observation(ResultSet rs) throws SQLException {
    String body = rs.getString("body");
    Observation o;
    try {
      o = Json.MAPPER.readValue(body, Observation.class);
    } catch (JsonProcessingException e) {
      throw new SQLException(
          "stored Observation "
              + rs.getString("namespace")
              + "/"
              + rs.getString("name")
              + " is not valid JSON: "
              + e.getOriginalMessage(),
          e);
    }
    if (o.getMetadata() == null) {
      o.setMetadata(new ObjectMeta());
    }
    o.getMetadata().setName(rs.getString("name"));
    o.getMetadata().setNamespace(rs.getString("namespace"));
    o.getMetadata().setCreationTimestamp(StoreTimes.formatCreation(rs.getLong("created_at")));
    int resolved = rs.getInt("resolved");
    Boolean resolvedValue = rs.wasNull() ? null : resolved != 0;
    o.setStatus(
        new ObservationStatus(
            rs.getLong("count"),
            StoreTimes.formatMicros(rs.getLong("first_seen")),
            StoreTimes.formatMicros(rs.getLong("last_seen")),
            resolvedValue,
            rs.getString("resolved_at")));
    return o;
  }

  private <T> T read(String what, SqlWork<T> work) {
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

  /**
   * Repeat counts are committed before the answer (group commit): see {@link
   * ObservationStore#durableRepeats()}.
   */
  @Override
  public boolean durableRepeats() {
    return true;
  }

  @Override
  public boolean isReachable() {
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

  // ---------------------------------------------------------------- lifecycle and errors

  @Override
  public void close() {
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

  private void ensureOpen() {
    if (closed.get()) {
      throw new StoreException("SQLite store " + path + " is closed");
    }
  }

  private StoreException failure(String what, SQLException e) {
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
}
