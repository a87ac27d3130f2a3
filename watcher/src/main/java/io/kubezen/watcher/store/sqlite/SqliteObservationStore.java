package io.kubezen.watcher.store.sqlite;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.GroupCount;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.SourceActivity;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.StoreSummary;
import io.kubezen.watcher.store.TimeBucket;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.store.jdbc.ConsoleReader;
import io.kubezen.watcher.store.jdbc.SqlDialect;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

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
 *
 * <p>A facade over its parts: {@link SqliteConnections} (opening, the write lock and transactions,
 * the read pool, readiness), {@link SqliteWrites} (the batched write path and MAX_OBSERVATIONS),
 * {@link SqliteReads} (the read API), {@link ConsoleReader} (the console's aggregate reads, in
 * {@link SqlDialect#SQLITE}) and {@link SqliteGc} (the TTL sweep).
 */
public final class SqliteObservationStore implements ObservationStore {
  /** Read connections opened by {@link #open(Path, Clock)}. */
  public static final int DEFAULT_READERS = 4;

  /** Rows deleted per GC transaction (see {@link SqliteGc#GC_CHUNK}). */
  static final int GC_CHUNK = SqliteGc.GC_CHUNK;

  /** The GC statement (see {@link SqliteGc#GC}). */
  static final String GC = SqliteGc.GC;

  private final SqliteConnections db;
  private final SqliteWrites writes;
  private final SqliteReads reads;
  private final ConsoleReader console;
  private final SqliteGc gc;

  private SqliteObservationStore(SqliteConnections db, Clock clock, long maxObservations) {
    this.db = db;
    this.writes = new SqliteWrites(db, clock, maxObservations);
    this.reads = new SqliteReads(db);
    this.console = new ConsoleReader(SqlDialect.SQLITE, db::read, SqliteReads::observation);
    this.gc = new SqliteGc(db);
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
    SqliteConnections db = new SqliteConnections(path, readerCount);
    try {
      db.connect(readerCount);
      return new SqliteObservationStore(db, clock, maxObservations);
    } catch (SQLException | RuntimeException e) {
      db.close();
      throw new StoreException("cannot open SQLite database " + path + ": " + e.getMessage(), e);
    }
  }

  public Path path() {
    return db.path();
  }

  /**
   * Creation time plus the TTL; null (never) without a TTL or when it lies beyond the long range.
   */
  static Long expiresAt(long createdAtMillis, Long ttlSeconds) {
    return SqliteWrites.expiresAt(createdAtMillis, ttlSeconds);
  }

  /** The page query; fills {@code args}. */
  static String listSql(ObservationQuery query, ContinueToken after, List<Object> args) {
    return SqliteReads.listSql(query, after, args);
  }

  // ---------------------------------------------------------------- writes

  @Override
  public List<WriteOutcome> createOrMerge(List<Observation> observations) {
    return writes.createOrMerge(observations);
  }

  @Override
  public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    return writes.createIfAbsent(observations);
  }

  @Override
  public List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    return writes.resolve(keys, at);
  }

  @Override
  public long shedCount(
      io.kubezen.api.v1alpha1.Severity severity, io.kubezen.watcher.store.Shed action) {
    return writes.shedCount(severity, action);
  }

  @Override
  public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    return writes.addRepeats(repeats);
  }

  @Override
  public GcResult deleteExpired(Instant now, Set<String> stateLikeSources) {
    return gc.deleteExpired(now, stateLikeSources);
  }

  /** Whether the last write failed and none succeeded since. */
  public boolean writesFailing() {
    return db.writesFailing();
  }

  /** Runs one statement on the write connection, outside any transaction (tests: PRAGMAs). */
  void executeOnWriter(String sql) {
    db.executeOnWriter(sql);
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Optional<Observation> get(String namespace, String name) {
    return reads.get(namespace, name);
  }

  @Override
  public ObservationPage list(ObservationQuery query) {
    return reads.list(query);
  }

  @Override
  public List<Observation> listByOrigin(String originUid) {
    return reads.listByOrigin(originUid);
  }

  // ---------------------------------------------------------------- console reads

  @Override
  public ObservationPage findings(FindingsQuery query) {
    return console.findings(query);
  }

  @Override
  public List<GroupCount> countBy(FindingFilter filter, List<GroupField> fields) {
    return console.countBy(filter, fields);
  }

  @Override
  public List<RankedGroup> topByCriticalHigh(FindingFilter filter, RankedGroup.By by, int limit) {
    return console.topByCriticalHigh(filter, by, limit);
  }

  @Override
  public List<TimeBucket> timeline(FindingFilter filter, Instant from, Instant to, Duration width) {
    return console.timeline(filter, from, to, width);
  }

  @Override
  public List<SourceActivity> sourceActivity(FindingFilter filter) {
    return console.sourceActivity(filter);
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
  public StoreSummary summary() {
    return console.summary();
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
    return db.isReachable();
  }

  @Override
  public void close() {
    db.close();
  }
}
