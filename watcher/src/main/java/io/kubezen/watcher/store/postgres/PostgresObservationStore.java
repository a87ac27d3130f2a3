package io.kubezen.watcher.store.postgres;

import com.zaxxer.hikari.HikariDataSource;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.Severity;
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
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * {@link ObservationStore} on PostgreSQL: one database for the Observations of many clusters.
 *
 * <p>Every row is keyed by (cluster, namespace, name); this store writes only its own cluster's
 * rows ({@link PostgresStoreOptions#cluster()}) and reads every cluster's unless a query names one.
 * Each write call is one SQL statement over arrays of the whole batch (one round trip, one
 * transaction, committed before the call returns): {@code INSERT ... ON CONFLICT DO UPDATE} adds
 * counts atomically, so any number of replicas, clusters and retries leave exactly one row per
 * finding. A batch is folded by key first (PostgreSQL cannot touch one row twice in a statement)
 * and written in key order, so that concurrent batches lock rows in the same order; a deadlock or
 * serialization failure is retried.
 *
 * <p>The schema is migrated with Flyway at start ({@code db/zen-watcher/postgres}); a read-only
 * viewer only checks that it is current.
 *
 * <p>A facade over its parts: {@link PostgresSchema} (the pool's settings and the migration),
 * {@link PostgresDb} (running statements, retries, readiness), {@link PostgresWrites} (the batched
 * write path), {@link PostgresCapacity} (MAX_OBSERVATIONS at write time), {@link
 * PostgresLiveCount}, {@link PostgresReads} (the read API), {@link ConsoleReader} (the console's
 * reads, in {@link SqlDialect#POSTGRES}: every cluster's Observations unless the filter names a
 * cluster) and {@link PostgresGc} (the TTL and cap sweeps).
 */
public final class PostgresObservationStore implements ObservationStore {
  /** Rows deleted per GC statement (see {@link PostgresGc#GC_CHUNK}). */
  static final int GC_CHUNK = PostgresGc.GC_CHUNK;

  static final String MIGRATIONS = PostgresSchema.MIGRATIONS;
  static final String HISTORY_TABLE = PostgresSchema.HISTORY_TABLE;

  private final PostgresStoreOptions options;
  private final PostgresDb db;
  private final PostgresLiveCount liveCount;
  private final PostgresCapacity capacity;
  private final PostgresWrites writes;
  private final PostgresReads reads;
  private final ConsoleReader console;
  private final PostgresGc gc;

  private PostgresObservationStore(
      PostgresStoreOptions options, Clock clock, HikariDataSource pool) {
    this.options = options;
    this.db = new PostgresDb(options, pool);
    this.liveCount = new PostgresLiveCount(db);
    this.capacity = new PostgresCapacity(options, liveCount);
    this.writes = new PostgresWrites(db, clock, capacity);
    this.reads = new PostgresReads(db);
    this.console = new ConsoleReader(SqlDialect.POSTGRES, db::read, PostgresReads::observation);
    this.gc = new PostgresGc(db);
  }

  /**
   * Connects, and migrates the schema to this program's version (a read-only viewer checks it is
   * current instead).
   *
   * @throws StoreException naming the URL and the reason when the database cannot be reached or the
   *     migration fails; never holding the password
   */
  public static PostgresObservationStore open(PostgresStoreOptions options, Clock clock) {
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(clock, "clock");
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(PostgresSchema.hikari(options));
    } catch (RuntimeException e) {
      throw new StoreException(
          "cannot connect to PostgreSQL at " + options.url() + ": " + PostgresSchema.rootMessage(e),
          e);
    }
    try {
      PostgresSchema.migrate(pool, options);
      return new PostgresObservationStore(options, clock, pool);
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
  }

  public PostgresStoreOptions options() {
    return options;
  }

  /** This watcher's cluster: the one it writes; null for a read-only viewer of every cluster. */
  public String cluster() {
    return options.cluster();
  }

  @Override
  public boolean holdsClusters() {
    return true;
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
  public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    return writes.addRepeats(repeats);
  }

  /**
   * Observations shed at write time to respect MAX_OBSERVATIONS: evicted to make room for one of a
   * higher severity (severity of the one evicted), or refused (severity of the one refused).
   */
  @Override
  public long shedCount(Severity severity, io.kubezen.watcher.store.Shed action) {
    return capacity.shedCount(severity, action);
  }

  /**
   * Write batches the writer may run at once: one connection stays free for reads (the read API,
   * the console, the live count). Concurrent batches are safe: rows and the triggers' count rows
   * are locked in key order and a deadlock is retried; more than ~4 only queue on the shared count
   * rows.
   */
  @Override
  public int writeConcurrency() {
    return Math.max(1, Math.min(4, options.poolSize() - 1));
  }

  @Override
  public long liveCount() {
    return liveCount.liveCount();
  }

  @Override
  public GcResult deleteExpired(Instant now, Set<String> stateLikeSources) {
    return gc.deleteExpired(now, stateLikeSources);
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Optional<Observation> get(String namespace, String name) {
    return reads.get(namespace, name);
  }

  @Override
  public Optional<Observation> get(String cluster, String namespace, String name) {
    return reads.get(cluster, namespace, name);
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

  @Override
  public StoreSummary summary() {
    return console.summary();
  }

  // ---------------------------------------------------------------- lifecycle

  @Override
  public boolean isReachable() {
    return db.isReachable();
  }

  @Override
  public void close() {
    db.close();
  }
}
