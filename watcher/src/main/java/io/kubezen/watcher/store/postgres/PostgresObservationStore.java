package io.kubezen.watcher.store.postgres;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.Observations;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.WriteOutcome;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 */
public final class PostgresObservationStore implements ObservationStore {
  private static final Logger log = LoggerFactory.getLogger(PostgresObservationStore.class);

  /** Rows deleted per GC statement, so that a large sweep never holds many row locks for long. */
  static final int GC_CHUNK = 5_000;

  /** A GC sweep gives up after this many chunks failing in a row (the next sweep tries again). */
  static final int GC_MAX_CONSECUTIVE_FAILURES = 3;

  /** How long readiness waits for the database's answer. */
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  /** Attempts of a write that met a deadlock or a serialization failure. */
  private static final int WRITE_ATTEMPTS = 5;

  /**
   * TTLs beyond this many seconds (about 3,000 years) never expire (keeps the arithmetic in range).
   */
  private static final long MAX_TTL_SECONDS = 100_000_000_000L;

  /** How old the live count may be before {@link #liveCount()} refreshes it. */
  static final Duration LIVE_COUNT_AGE = Duration.ofSeconds(5);

  /**
   * The first key of the advisory lock of a cluster's capped writes (its second: the cluster name's
   * hash).
   */
  static final int CAP_LOCK_CLASS = 0x7a776370; // "zwcp"

  private static Map<Severity, java.util.concurrent.atomic.AtomicLong> perSeverity() {
    Map<Severity, java.util.concurrent.atomic.AtomicLong> m =
        new java.util.EnumMap<>(Severity.class);
    for (Severity s : Severity.values()) {
      m.put(s, new java.util.concurrent.atomic.AtomicLong());
    }
    return m;
  }

  static final String MIGRATIONS = "classpath:db/zen-watcher/postgres";
  static final String HISTORY_TABLE = "zen_watcher_schema_history";

  /**
   * The advisory lock key that serializes migrations (an arbitrary constant: "zenwatch" in ASCII).
   */
  static final long MIGRATION_LOCK = 0x7a656e7761746368L;

  private static final String COLUMNS =
      "cluster, namespace, name, created_ms, count, first_seen_us, last_seen_us, "
          + "resolved, resolved_at, metadata::text AS metadata, spec::text AS spec";
  private static final String ORDER = "(-created_ms), name, namespace, cluster";

  private static final String UPSERT_HEAD =
      """
      INSERT INTO observations AS o (cluster, created_ms, namespace, name, source, category, severity, event_type,
        fingerprint, resource_kind, resource_namespace, resource_name, ttl_seconds, expires_ms, count, first_seen_us,
        last_seen_us, resolved, resolved_at, origin_uid, metadata, spec, resolved_us, search)
      SELECT ?, ?, t.namespace, t.name, t.source, t.category, t.severity, t.event_type, t.fingerprint, t.resource_kind,
        t.resource_namespace, t.resource_name, t.ttl_seconds, t.expires_ms, t.count, t.first_seen_us, t.last_seen_us,
        t.resolved, t.resolved_at, t.origin_uid, t.metadata::jsonb, t.spec::jsonb, t.resolved_us, t.search
      FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
        ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::boolean[], ?::text[], ?::text[],
        ?::text[], ?::text[], ?::bigint[], ?::text[])
        WITH ORDINALITY AS t(namespace, name, source, category, severity, event_type, fingerprint, resource_kind,
          resource_namespace, resource_name, ttl_seconds, expires_ms, count, first_seen_us, last_seen_us, resolved,
          resolved_at, origin_uid, metadata, spec, resolved_us, search, ord)
      ORDER BY t.ord
      """;

  /**
   * A sighting: count added, seen times widened, a resolved one reopened; the spec stays as it was.
   */
  private static final String MERGE =
      UPSERT_HEAD
          + """
      ON CONFLICT (cluster, namespace, name) DO UPDATE SET
        count = o.count + EXCLUDED.count,
        first_seen_us = LEAST(o.first_seen_us, EXCLUDED.first_seen_us),
        last_seen_us = GREATEST(o.last_seen_us, EXCLUDED.last_seen_us),
        resolved = CASE WHEN o.resolved THEN false ELSE o.resolved END,
        resolved_expires_ms = NULL
      RETURNING o.namespace, o.name, (o.xmax = 0) AS inserted""";

  /** Reconciling: existing rows are left alone, except that a resolved one is reopened. */
  private static final String IF_ABSENT =
      UPSERT_HEAD
          + """
      ON CONFLICT (cluster, namespace, name) DO UPDATE SET resolved = false, resolved_expires_ms = NULL
        WHERE o.resolved
      RETURNING o.namespace, o.name, (o.xmax = 0) AS inserted""";

  private static final String RESOLVE =
      """
      UPDATE observations o SET resolved = true,
        resolved_at = CASE WHEN o.resolved THEN coalesce(o.resolved_at, ?) ELSE ? END,
        resolved_us = CASE WHEN o.resolved THEN coalesce(o.resolved_us, ?) ELSE ? END,
        resolved_expires_ms = CASE WHEN o.resolved IS TRUE THEN o.resolved_expires_ms
          WHEN o.ttl_seconds IS NULL OR o.ttl_seconds > ? THEN NULL
          ELSE ? + GREATEST(0, o.ttl_seconds) * 1000 END
      FROM (SELECT DISTINCT namespace, name FROM unnest(?::text[], ?::text[]) AS u(namespace, name)) k
      WHERE o.cluster = ? AND o.namespace = k.namespace AND o.name = k.name
      RETURNING o.namespace, o.name""";
  private static final String REPEAT =
      """
      UPDATE observations o SET count = o.count + k.delta,
        last_seen_us = GREATEST(o.last_seen_us, coalesce(k.last_seen, o.last_seen_us))
      FROM (SELECT namespace, name, sum(delta)::bigint AS delta, max(last_seen) AS last_seen
            FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS u(namespace, name, delta, last_seen)
            GROUP BY namespace, name) k
      WHERE o.cluster = ? AND o.namespace = k.namespace AND o.name = k.name
      RETURNING o.namespace, o.name""";

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

  private final PostgresStoreOptions options;
  private final Clock clock;
  private final HikariDataSource pool;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final java.util.concurrent.atomic.AtomicLong live =
      new java.util.concurrent.atomic.AtomicLong(-1);
  private volatile long liveAtNanos = System.nanoTime() - LIVE_COUNT_AGE.toNanos() - 1;
  private final AtomicBoolean counting = new AtomicBoolean();
  private final Map<Severity, java.util.concurrent.atomic.AtomicLong> evictedBySeverity =
      perSeverity();
  private final Map<Severity, java.util.concurrent.atomic.AtomicLong> refusedBySeverity =
      perSeverity();
  private final ExecutorService prober;
  private Future<Boolean> probe; // guarded by this

  private PostgresObservationStore(
      PostgresStoreOptions options, Clock clock, HikariDataSource pool) {
    this.options = options;
    this.clock = clock;
    this.pool = pool;
    this.prober =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "postgres-probe");
              t.setDaemon(true);
              return t;
            });
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
      pool = new HikariDataSource(hikari(options));
    } catch (RuntimeException e) {
      throw new StoreException(
          "cannot connect to PostgreSQL at " + options.url() + ": " + rootMessage(e), e);
    }
    try {
      migrate(pool, options);
      return new PostgresObservationStore(options, clock, pool);
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
  }

  static HikariConfig hikari(PostgresStoreOptions o) {
    HikariConfig c = new HikariConfig();
    c.setPoolName("zen-watcher-postgres");
    c.setJdbcUrl(o.url());
    if (o.user() != null) {
      c.setUsername(o.user());
    }
    if (o.password() != null) {
      c.setPassword(o.password());
    }
    c.setMaximumPoolSize(o.poolSize());
    c.setMinimumIdle(Math.min(2, o.poolSize()));
    long connectMs = o.connectTimeout().toMillis();
    c.setConnectionTimeout(connectMs);
    c.setValidationTimeout(Math.max(250, Math.min(connectMs - 1, 2_000)));
    c.setInitializationFailTimeout(connectMs);
    c.setReadOnly(o.readOnly());
    c.setAutoCommit(true);
    c.setKeepaliveTime(60_000);
    long statementMs = o.statementTimeout().toMillis();
    // The server cancels a long statement; a server that says nothing at all (paused, cut off) is
    // given up by the client a little later, so no caller waits for ever.
    c.addDataSourceProperty(
        "options",
        "-c statement_timeout="
            + statementMs
            + " -c idle_in_transaction_session_timeout="
            + Math.max(60_000, statementMs * 2));
    c.addDataSourceProperty(
        "socketTimeout", Long.toString(socketTimeoutSeconds(o.statementTimeout())));
    c.addDataSourceProperty("connectTimeout", Long.toString(Math.max(1, (connectMs + 999) / 1000)));
    c.addDataSourceProperty("loginTimeout", Long.toString(Math.max(1, (connectMs + 999) / 1000)));
    c.addDataSourceProperty("tcpKeepAlive", "true");
    c.addDataSourceProperty(
        "ApplicationName", "zen-watcher" + (o.cluster() == null ? "" : " " + o.cluster()));
    return c;
  }

  private static java.util.Properties credentials(PostgresStoreOptions o) {
    java.util.Properties p = new java.util.Properties();
    if (o.user() != null) {
      p.setProperty("user", o.user());
    }
    if (o.password() != null) {
      p.setProperty("password", o.password());
    }
    p.setProperty(
        "connectTimeout", Long.toString(Math.max(1, (o.connectTimeout().toMillis() + 999) / 1000)));
    p.setProperty("ApplicationName", "zen-watcher migration");
    return p;
  }

  /**
   * The statement timeout rounded up to seconds, plus 2 s: a live server has answered (or
   * cancelled) by then.
   */
  static long socketTimeoutSeconds(Duration statementTimeout) {
    return (statementTimeout.toMillis() + 999) / 1000 + 2;
  }

  private static void migrate(HikariDataSource pool, PostgresStoreOptions options) {
    Flyway flyway =
        Flyway.configure(PostgresObservationStore.class.getClassLoader())
            .dataSource(pool)
            .locations(MIGRATIONS)
            .table(HISTORY_TABLE)
            // A database that holds other tables already (shared with other programs) is fine: its
            // history starts at a baseline before version 1.
            .baselineOnMigrate(true)
            .baselineVersion("0")
            .load();
    try {
      if (options.readOnly()) {
        MigrationInfo[] pending = flyway.info().pending();
        if (pending.length > 0) {
          MigrationInfo current = flyway.info().current();
          throw new StoreException(
              "the PostgreSQL schema at "
                  + options.url()
                  + " is at version "
                  + (current == null ? "none" : current.getVersion())
                  + " but this program needs "
                  + pending[pending.length - 1].getVersion()
                  + ": a reader does not migrate; start a watcher (MODE=watcher)"
                  + " of this version first");
        }
        return;
      }
      // Replicas of several clusters start at once: one migrates, the others wait here, then find
      // the schema current. (Flyway's own lock does not cover creating the history table beside
      // other tables, where two starts would both try to baseline.)
      try (java.sql.Connection lock =
              java.sql.DriverManager.getConnection(options.url(), credentials(options));
          java.sql.Statement st = lock.createStatement()) {
        st.execute("SELECT pg_advisory_lock(" + MIGRATION_LOCK + ")");
        try {
          flyway.migrate();
        } finally {
          st.execute("SELECT pg_advisory_unlock(" + MIGRATION_LOCK + ")");
        }
      } catch (SQLException e) {
        throw new StoreException(
            "PostgreSQL schema migration at " + options.url() + " failed: " + e.getMessage(), e);
      }
    } catch (FlywayException e) {
      throw new StoreException(
          "PostgreSQL schema migration at " + options.url() + " failed: " + rootMessage(e), e);
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

  /** One Observation as columns, everything computed before a connection is taken. */
  private record Row(
      String namespace,
      String name,
      String source,
      String category,
      String severity,
      String eventType,
      String fingerprint,
      String resourceKind,
      String resourceNamespace,
      String resourceName,
      Long ttlSeconds,
      long count,
      long firstSeen,
      long lastSeen,
      Boolean resolved,
      String resolvedAt,
      String originUid,
      String metadata,
      String spec,
      Long resolvedUs,
      String search) {

    ObservationKey key() {
      return new ObservationKey(namespace, name);
    }

    /**
     * This row with another sighting of the same Observation folded in (its count, its seen times).
     */
    Row merge(Row later) {
      return new Row(
          namespace,
          name,
          source,
          category,
          severity,
          eventType,
          fingerprint,
          resourceKind,
          resourceNamespace,
          resourceName,
          ttlSeconds,
          count + later.count,
          Math.min(firstSeen, later.firstSeen),
          Math.max(lastSeen, later.lastSeen),
          Boolean.TRUE.equals(resolved) ? Boolean.FALSE : resolved,
          resolvedAt,
          originUid,
          metadata,
          spec,
          resolvedUs,
          search);
    }
  }

  private static final Comparator<ObservationKey> KEY_ORDER =
      Comparator.comparing(ObservationKey::namespace).thenComparing(ObservationKey::name);

  @Override
  public List<WriteOutcome> createOrMerge(List<Observation> observations) {
    return upsert(observations, true);
  }

  @Override
  public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    return upsert(observations, false);
  }

  private List<WriteOutcome> upsert(List<Observation> observations, boolean merge) {
    if (observations.isEmpty()) {
      return List.of();
    }
    ensureWritable();
    // Fold repeats of one key (in input order), then write in key order.
    Map<ObservationKey, Row> folded = new HashMap<>();
    List<ObservationKey> keys = new ArrayList<>(observations.size());
    for (Observation o : observations) {
      Row r = row(o);
      keys.add(r.key());
      folded.merge(r.key(), r, merge ? Row::merge : (first, later) -> first);
    }
    List<Row> rows = new ArrayList<>(folded.values());
    rows.sort(Comparator.comparing(Row::key, KEY_ORDER));
    String what = (merge ? "createOrMerge of " : "createIfAbsent of ") + observations.size();
    Set<ObservationKey> refused = new java.util.HashSet<>();
    Set<ObservationKey> inserted =
        options.maxObservations() <= 0
            ? write(what, conn -> upsertRows(conn, rows, merge))
            : write(what, conn -> capped(conn, keys, rows, merge, refused));
    List<WriteOutcome> outcomes = new ArrayList<>(keys.size());
    Set<ObservationKey> seen = new java.util.HashSet<>();
    WriteOutcome existing = merge ? WriteOutcome.MERGED : WriteOutcome.EXISTED;
    for (ObservationKey k : keys) {
      boolean first = seen.add(k);
      outcomes.add(
          refused.contains(k)
              ? WriteOutcome.MISSING
              : first && inserted.contains(k) ? WriteOutcome.CREATED : existing);
    }
    return outcomes;
  }

  /**
   * The severity order of MAX_OBSERVATIONS (and of the column severity_rank): critical 4 .. info
   * and none 0.
   */
  static int severityRank(String severity) {
    return severity == null
        ? 0
        : switch (severity) {
          case "critical" -> 4;
          case "high" -> 3;
          case "medium" -> 2;
          case "low" -> 1;
          default -> 0;
        };
  }

  /**
   * The upsert under MAX_OBSERVATIONS, in one transaction that holds this cluster's cap lock (an
   * advisory lock: the capped writes of one cluster's replicas take turns). At the cap, each new
   * Observation, in input order, evicts one of a lower severity (the lowest there is, the oldest
   * first among them) or, when there is none, is refused (added to {@code refused}); existing ones
   * are merged as always. Returns the keys created.
   */
  private Set<ObservationKey> capped(
      Connection conn,
      List<ObservationKey> inputOrder,
      List<Row> rows,
      boolean merge,
      Set<ObservationKey> refused)
      throws SQLException {
    refused.clear();
    conn.setAutoCommit(false);
    try {
      try (PreparedStatement lock =
          conn.prepareStatement("SELECT pg_advisory_xact_lock(?, hashtext(?))")) {
        lock.setInt(1, CAP_LOCK_CLASS);
        lock.setString(2, options.cluster());
        lock.executeQuery().close();
      }
      Set<ObservationKey> present = new java.util.HashSet<>();
      try (PreparedStatement st =
          conn.prepareStatement(
              "SELECT o.namespace, o.name FROM observations o"
                  + " JOIN unnest(?::text[], ?::text[]) AS k(namespace, name) ON o.namespace = k.namespace AND o.name = k.name"
                  + " WHERE o.cluster = ?")) {
        st.setArray(1, texts(conn, rows, Row::namespace));
        st.setArray(2, texts(conn, rows, Row::name));
        st.setString(3, options.cluster());
        present.addAll(keysOf(st));
      }
      long live = liveCount(conn);
      Map<ObservationKey, Row> byKey = new HashMap<>();
      rows.forEach(r -> byKey.put(r.key(), r));
      List<Row> fresh = new ArrayList<>();
      Set<ObservationKey> ordered = new java.util.LinkedHashSet<>(inputOrder);
      for (ObservationKey k : ordered) {
        if (!present.contains(k)) {
          fresh.add(byKey.get(k));
        }
      }
      long free = Math.max(0, options.maxObservations() - live);
      List<ObservationKey> victims = new ArrayList<>();
      List<String> evictedSeverities = new ArrayList<>();
      List<String> refusedSeverities = new ArrayList<>();
      if (fresh.size() > free) {
        int needed = (int) (fresh.size() - free);
        int highest = fresh.stream().mapToInt(r -> severityRank(r.severity())).max().orElse(0);
        List<Object[]> candidates = new ArrayList<>(); // namespace, name, rank
        try (PreparedStatement st =
            conn.prepareStatement(
                "SELECT namespace, name, severity_rank FROM observations"
                    + " WHERE cluster = ? AND severity_rank < ? ORDER BY severity_rank, created_ms, name, namespace LIMIT ?")) {
          st.setString(1, options.cluster());
          st.setInt(2, highest);
          st.setInt(3, needed + rows.size());
          try (ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
              ObservationKey k = new ObservationKey(rs.getString(1), rs.getString(2));
              if (!byKey.containsKey(k)) {
                candidates.add(new Object[] {k, rs.getInt(3)});
              }
            }
          }
        }
        Iterator<Object[]> next = candidates.iterator();
        Object[] victim = next.hasNext() ? next.next() : null;
        for (Row r : fresh) {
          if (free > 0) {
            free--;
          } else if (victim != null && (int) victim[1] < severityRank(r.severity())) {
            victims.add((ObservationKey) victim[0]);
            evictedSeverities.add(rankName((int) victim[1]));
            victim = next.hasNext() ? next.next() : null;
          } else {
            refused.add(r.key());
            refusedSeverities.add(r.severity());
          }
        }
      }
      if (!victims.isEmpty()) {
        victims.sort(KEY_ORDER);
        try (PreparedStatement st =
            conn.prepareStatement(
                "DELETE FROM observations o USING unnest(?::text[], ?::text[])"
                    + " AS d(namespace, name) WHERE o.cluster = ? AND o.namespace = d.namespace AND o.name = d.name")) {
          st.setArray(
              1,
              conn.createArrayOf(
                  "text", victims.stream().map(ObservationKey::namespace).toArray(String[]::new)));
          st.setArray(
              2,
              conn.createArrayOf(
                  "text", victims.stream().map(ObservationKey::name).toArray(String[]::new)));
          st.setString(3, options.cluster());
          st.executeUpdate();
        }
      }
      List<Row> admitted = rows.stream().filter(r -> !refused.contains(r.key())).toList();
      Set<ObservationKey> created =
          admitted.isEmpty() ? Set.of() : upsertRows(conn, admitted, merge);
      conn.commit();
      evictedSeverities.forEach(sev -> countShed(sev, true));
      refusedSeverities.forEach(sev -> countShed(sev, false));
      if (!victims.isEmpty() || !refused.isEmpty()) {
        log.debug(
            "MAX_OBSERVATIONS={} of cluster {}: evicted {}, refused {}",
            options.maxObservations(),
            options.cluster(),
            victims.size(),
            refused.size());
      }
      return created;
    } catch (SQLException | RuntimeException e) {
      try {
        conn.rollback();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    } finally {
      try {
        conn.setAutoCommit(true);
      } catch (SQLException ignored) {
        // the pool resets or discards it
      }
    }
  }

  private void countShed(String severity, boolean evicted) {
    Severity s = severity == null ? Severity.INFO : Severity.parse(severity).orElse(Severity.INFO);
    (evicted ? evictedBySeverity : refusedBySeverity).get(s).incrementAndGet();
  }

  /**
   * Observations shed at write time to respect MAX_OBSERVATIONS: evicted to make room for one of a
   * higher severity ({@code evicted}), or refused (severity of the one refused).
   */
  public long shedCount(Severity severity, boolean evicted) {
    return (evicted ? evictedBySeverity : refusedBySeverity).get(severity).get();
  }

  /** This cluster's live Observations, from the row the triggers keep. */
  private long liveCount(Connection conn) throws SQLException {
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
   * Write batches the writer may run at once: one connection stays free for reads (the read API,
   * the console, the live count). Concurrent batches are safe: rows and the triggers' count rows
   * are locked in key order and a deadlock is retried; more than ~4 only queue on the shared count
   * rows.
   */
  @Override
  public int writeConcurrency() {
    return Math.max(1, Math.min(4, options.poolSize() - 1));
  }

  /**
   * Live Observations of this store's cluster (every cluster's for a reader), as last counted: -1
   * until the first count. Never waits for the database: a count older than {@link #LIVE_COUNT_AGE}
   * is refreshed in the background (for the gauge {@code zen_watcher_observations_live}).
   */
  @Override
  public long liveCount() {
    if (!closed.get()
        && System.nanoTime() - liveAtNanos > LIVE_COUNT_AGE.toNanos()
        && counting.compareAndSet(false, true)) {
      try {
        prober.execute(
            () -> {
              try (Connection conn = pool.getConnection()) {
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

  private static String rankName(int rank) {
    return switch (rank) {
      case 4 -> "critical";
      case 3 -> "high";
      case 2 -> "medium";
      case 1 -> "low";
      default -> "info";
    };
  }

  /** One upsert statement of the rows (sorted by key); the keys it created. */
  private Set<ObservationKey> upsertRows(Connection conn, List<Row> rows, boolean merge)
      throws SQLException {
    {
      long now = clock.millis();
      try (PreparedStatement st = conn.prepareStatement(merge ? MERGE : IF_ABSENT)) {
        int i = 1;
        st.setString(i++, options.cluster());
        st.setLong(i++, now);
        st.setArray(i++, texts(conn, rows, Row::namespace));
        st.setArray(i++, texts(conn, rows, Row::name));
        st.setArray(i++, texts(conn, rows, Row::source));
        st.setArray(i++, texts(conn, rows, Row::category));
        st.setArray(i++, texts(conn, rows, Row::severity));
        st.setArray(i++, texts(conn, rows, Row::eventType));
        st.setArray(i++, texts(conn, rows, Row::fingerprint));
        st.setArray(i++, texts(conn, rows, Row::resourceKind));
        st.setArray(i++, texts(conn, rows, Row::resourceNamespace));
        st.setArray(i++, texts(conn, rows, Row::resourceName));
        st.setArray(i++, longs(conn, rows, Row::ttlSeconds));
        st.setArray(i++, longs(conn, rows, r -> expiresAt(now, r.ttlSeconds())));
        st.setArray(i++, longs(conn, rows, Row::count));
        st.setArray(i++, longs(conn, rows, Row::firstSeen));
        st.setArray(i++, longs(conn, rows, Row::lastSeen));
        st.setArray(
            i++,
            conn.createArrayOf("bool", rows.stream().map(Row::resolved).toArray(Boolean[]::new)));
        st.setArray(i++, texts(conn, rows, Row::resolvedAt));
        st.setArray(i++, texts(conn, rows, Row::originUid));
        st.setArray(i++, texts(conn, rows, Row::metadata));
        st.setArray(i++, texts(conn, rows, Row::spec));
        st.setArray(i++, longs(conn, rows, Row::resolvedUs));
        st.setArray(i++, texts(conn, rows, Row::search));
        Set<ObservationKey> created = new java.util.HashSet<>();
        try (ResultSet rs = st.executeQuery()) {
          while (rs.next()) {
            if (rs.getBoolean("inserted")) {
              created.add(new ObservationKey(rs.getString("namespace"), rs.getString("name")));
            }
          }
        }
        return created;
      }
    }
  }

  private static Array texts(
      Connection conn, List<Row> rows, java.util.function.Function<Row, String> f)
      throws SQLException {
    return conn.createArrayOf("text", rows.stream().map(f).toArray(String[]::new));
  }

  private static Array longs(
      Connection conn, List<Row> rows, java.util.function.Function<Row, Long> f)
      throws SQLException {
    return conn.createArrayOf("int8", rows.stream().map(f).toArray(Long[]::new));
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
    Long first =
        status != null && status.firstSeen() != null
            ? io.kubezen.watcher.store.StoreTimes.parseMicros(status.firstSeen())
            : null;
    Long last =
        status != null && status.lastSeen() != null
            ? io.kubezen.watcher.store.StoreTimes.parseMicros(status.lastSeen())
            : null;
    if (first == null && last == null && spec.detectedAt() != null) {
      try {
        first = io.kubezen.watcher.store.StoreTimes.parseMicros(spec.detectedAt());
      } catch (IllegalArgumentException e) {
        first = null;
      }
    }
    long firstSeen =
        first != null
            ? first
            : last != null ? last : io.kubezen.watcher.store.StoreTimes.micros(clock.instant());
    long lastSeen = last != null ? last : firstSeen;

    // Only what a client sets is stored; the store owns creationTimestamp (from created_ms).
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
    String metadataJson;
    String specJson;
    try {
      metadataJson = jsonb(stored);
      specJson = jsonb(spec);
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "Observation "
              + meta.getNamespace()
              + "/"
              + meta.getName()
              + " cannot be written as JSON: "
              + e.getMessage(),
          e);
    }
    ResourceRef res = spec.resource();
    return new Row(
        text(meta.getNamespace()),
        text(meta.getName()),
        text(spec.source()),
        spec.category() == null ? null : spec.category().wire(),
        spec.severity() == null ? null : spec.severity().wire(),
        text(spec.eventType()),
        text(spec.fingerprint()),
        res == null ? null : text(res.kind()),
        res == null ? null : text(res.namespace()),
        res == null ? null : text(res.name()),
        spec.ttlSecondsAfterCreation(),
        count,
        Math.min(firstSeen, lastSeen),
        Math.max(firstSeen, lastSeen),
        status == null ? null : status.resolved(),
        status == null ? null : text(status.resolvedAt()),
        meta.getLabels() == null ? null : text(meta.getLabels().get(Observation.LABEL_ORIGIN_UID)),
        metadataJson,
        specJson,
        resolvedMicros(status),
        text(io.kubezen.watcher.store.SearchText.of(spec)));
  }

  /**
   * status.resolvedAt in epoch microseconds when resolved and parseable, else null (as the SQLite
   * store).
   */
  private static Long resolvedMicros(ObservationStatus status) {
    if (status == null || !Boolean.TRUE.equals(status.resolved()) || status.resolvedAt() == null) {
      return null;
    }
    try {
      return io.kubezen.watcher.store.StoreTimes.parseMicros(status.resolvedAt());
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  @Override
  public List<Observation> listByOrigin(String originUid) {
    Objects.requireNonNull(originUid, "originUid");
    return read(
        "listByOrigin " + originUid,
        conn -> {
          String sql =
              "SELECT "
                  + COLUMNS
                  + " FROM observations WHERE origin_uid = ?"
                  + (options.cluster() == null ? "" : " AND cluster = ?")
                  + " ORDER BY namespace, name, cluster";
          try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, text(originUid));
            if (options.cluster() != null) {
              st.setString(2, options.cluster());
            }
            return observations(st);
          }
        });
  }

  @Override
  public List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    if (keys.isEmpty()) {
      return List.of();
    }
    ensureWritable();
    String when =
        io.kubezen.watcher.store.StoreTimes.formatMicros(
            io.kubezen.watcher.store.StoreTimes.micros(at));
    List<ObservationKey> sorted = new ArrayList<>(keys);
    sorted.sort(KEY_ORDER);
    Set<ObservationKey> found =
        write(
            "resolve of " + keys.size(),
            conn -> {
              try (PreparedStatement st = conn.prepareStatement(RESOLVE)) {
                long whenUs = io.kubezen.watcher.store.StoreTimes.micros(at);
                st.setString(1, when);
                st.setString(2, when);
                st.setLong(3, whenUs);
                st.setLong(4, whenUs);
                st.setLong(5, MAX_TTL_SECONDS);
                st.setLong(6, at.toEpochMilli());
                st.setArray(
                    7,
                    conn.createArrayOf(
                        "text",
                        sorted.stream().map(k -> text(k.namespace())).toArray(String[]::new)));
                st.setArray(
                    8,
                    conn.createArrayOf(
                        "text", sorted.stream().map(k -> text(k.name())).toArray(String[]::new)));
                st.setString(9, options.cluster());
                return keysOf(st);
              }
            });
    return keys.stream()
        .map(k -> found.contains(clean(k)) ? WriteOutcome.MERGED : WriteOutcome.MISSING)
        .toList();
  }

  @Override
  public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    if (repeats.isEmpty()) {
      return List.of();
    }
    ensureWritable();
    List<Repeat> sorted = new ArrayList<>(repeats);
    for (Repeat r : sorted) {
      Objects.requireNonNull(r, "repeat");
    }
    sorted.sort(Comparator.comparing(Repeat::namespace).thenComparing(Repeat::name));
    Set<ObservationKey> found =
        write(
            "addRepeats of " + repeats.size(),
            conn -> {
              try (PreparedStatement st = conn.prepareStatement(REPEAT)) {
                st.setArray(
                    1,
                    conn.createArrayOf(
                        "text",
                        sorted.stream().map(r -> text(r.namespace())).toArray(String[]::new)));
                st.setArray(
                    2,
                    conn.createArrayOf(
                        "text", sorted.stream().map(r -> text(r.name())).toArray(String[]::new)));
                st.setArray(
                    3,
                    conn.createArrayOf(
                        "int8", sorted.stream().map(Repeat::delta).toArray(Long[]::new)));
                st.setArray(
                    4,
                    conn.createArrayOf(
                        "int8",
                        sorted.stream()
                            .map(
                                r ->
                                    r.lastSeen() == null
                                        ? null
                                        : io.kubezen.watcher.store.StoreTimes.micros(r.lastSeen()))
                            .toArray(Long[]::new)));
                st.setString(5, options.cluster());
                return keysOf(st);
              }
            });
    return repeats.stream()
        .map(
            r ->
                found.contains(new ObservationKey(text(r.namespace()), text(r.name())))
                    ? WriteOutcome.MERGED
                    : WriteOutcome.MISSING)
        .toList();
  }

  private static Set<ObservationKey> keysOf(PreparedStatement st) throws SQLException {
    Set<ObservationKey> out = new java.util.HashSet<>();
    try (ResultSet rs = st.executeQuery()) {
      while (rs.next()) {
        out.add(new ObservationKey(rs.getString(1), rs.getString(2)));
      }
    }
    return out;
  }

  @Override
  public GcResult deleteExpired(Instant now, Set<String> stateLikeSources) {
    ensureWritable();
    String[] stateLike =
        stateLikeSources.stream()
            .map(PostgresObservationStore::text)
            .sorted()
            .toArray(String[]::new);
    long cutoff = now.toEpochMilli();
    int deleted = 0;
    int errors = 0;
    int failuresInARow = 0;
    while (failuresInARow < GC_MAX_CONSECUTIVE_FAILURES) {
      int n;
      try {
        n =
            write(
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
        if (closed.get()) {
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
        if (closed.get()) {
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
        read(
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
          write(
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

  // ---------------------------------------------------------------- reads

  @Override
  public Optional<Observation> get(String namespace, String name) {
    return get(options.cluster(), namespace, name);
  }

  @Override
  public Optional<Observation> get(String cluster, String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    return read(
        "get " + namespace + "/" + name,
        conn -> {
          String sql =
              "SELECT "
                  + COLUMNS
                  + " FROM observations WHERE namespace = ? AND name = ?"
                  + (cluster == null ? "" : " AND cluster = ?")
                  + " ORDER BY cluster LIMIT 1";
          try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, text(namespace));
            st.setString(2, text(name));
            if (cluster != null) {
              st.setString(3, text(cluster));
            }
            List<Observation> found = observations(st);
            return found.isEmpty() ? Optional.<Observation>empty() : Optional.of(found.get(0));
          }
        });
  }

  @Override
  public ObservationPage list(ObservationQuery query) {
    PageToken after =
        query.continueToken() == null ? null : PageToken.decode(query.continueToken());
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
            PageToken last = null;
            boolean more = false;
            try (ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                if (items.size() == limit) {
                  more = true;
                  break;
                }
                items.add(observation(rs));
                last =
                    new PageToken(
                        rs.getLong("created_ms"),
                        rs.getString("name"),
                        rs.getString("namespace"),
                        rs.getString("cluster"));
              }
            }
            return new ObservationPage(items, more ? last.encode() : null);
          }
        });
  }

  /** The page query; fills {@code args}. Every filter has an index that also serves the order. */
  static String listSql(ObservationQuery query, PageToken after, List<Object> args) {
    StringBuilder sql =
        new StringBuilder("SELECT ").append(COLUMNS).append(" FROM observations WHERE true");
    filter(sql, args, "cluster", query.cluster());
    filter(sql, args, "source", query.source());
    filter(sql, args, "severity", query.severity());
    filter(sql, args, "category", query.category());
    filter(sql, args, "namespace", query.namespace());
    filter(sql, args, "event_type", query.eventType());
    if (after != null) {
      sql.append(" AND (").append(ORDER).append(") > (?, ?, ?, ?)");
      args.add(-after.createdMs());
      args.add(text(after.name()));
      args.add(text(after.namespace()));
      args.add(text(after.cluster()));
    }
    sql.append(" ORDER BY ").append(ORDER).append(" LIMIT ?");
    args.add(query.limit() + 1); // one more tells whether there is a next page
    return sql.toString();
  }

  private static void filter(StringBuilder sql, List<Object> args, String column, String value) {
    if (value != null) {
      sql.append(" AND ").append(column).append(" = ?");
      args.add(text(value));
    }
  }

  private static List<Observation> observations(PreparedStatement st) throws SQLException {
    List<Observation> out = new ArrayList<>();
    try (ResultSet rs = st.executeQuery()) {
      while (rs.next()) {
        out.add(observation(rs));
      }
    }
    return out;
  }

  private static Observation observation(ResultSet rs) throws SQLException {
    Observation o;
    try {
      ObjectNode tree = Json.MAPPER.createObjectNode();
      tree.set("metadata", Json.MAPPER.readTree(rs.getString("metadata")));
      tree.set("spec", Json.MAPPER.readTree(rs.getString("spec")));
      o = Json.MAPPER.treeToValue(tree, Observation.class);
    } catch (JsonProcessingException e) {
      throw new SQLException(
          "stored Observation "
              + rs.getString("namespace")
              + "/"
              + rs.getString("name")
              + " is not valid: "
              + e.getOriginalMessage(),
          e);
    }
    if (o.getMetadata() == null) {
      o.setMetadata(new ObjectMeta());
    }
    o.getMetadata().setName(rs.getString("name"));
    o.getMetadata().setNamespace(rs.getString("namespace"));
    o.getMetadata()
        .setCreationTimestamp(
            Instant.ofEpochMilli(rs.getLong("created_ms"))
                .truncatedTo(ChronoUnit.SECONDS)
                .toString());
    boolean resolved = rs.getBoolean("resolved");
    Boolean resolvedValue = rs.wasNull() ? null : resolved;
    o.setStatus(
        new ObservationStatus(
            rs.getLong("count"),
            io.kubezen.watcher.store.StoreTimes.formatMicros(rs.getLong("first_seen_us")),
            io.kubezen.watcher.store.StoreTimes.formatMicros(rs.getLong("last_seen_us")),
            resolvedValue,
            rs.getString("resolved_at")));
    return o;
  }

  @Override
  public boolean isReachable() {
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

  @FunctionalInterface
  private interface SqlWork<T> {
    T run(Connection conn) throws SQLException;
  }

  /**
   * One write statement (its own transaction), retried after a deadlock or a serialization failure.
   */
  private <T> T write(String what, SqlWork<T> work) {
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

  private <T> T read(String what, SqlWork<T> work) {
    ensureOpen();
    try (Connection conn = pool.getConnection()) {
      return work.run(conn);
    } catch (SQLException e) {
      throw failure(what, e);
    }
  }

  private void ensureWritable() {
    ensureOpen();
    if (options.readOnly()) {
      throw new StoreException("the PostgreSQL store is read-only here (MODE=reader)");
    }
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new StoreException("PostgreSQL store " + options.url() + " is closed");
    }
  }

  private StoreException failure(String what, SQLException e) {
    if (closed.get()) {
      return new StoreException(
          "PostgreSQL store " + options.url() + " is closed (" + what + ")", e);
    }
    return new StoreException(
        "PostgreSQL store " + options.url() + ": " + what + " failed: " + e.getMessage(), e);
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    prober.shutdownNow();
    pool.close();
  }

  // ---------------------------------------------------------------- text and time

  /** PostgreSQL text cannot hold U+0000: it becomes U+FFFD (every field is untrusted input). */
  static String text(String s) {
    return s == null || s.indexOf('\0') < 0 ? s : s.replace('\0', '\uFFFD');
  }

  private static ObservationKey clean(ObservationKey k) {
    return new ObservationKey(text(k.namespace()), text(k.name()));
  }

  /**
   * JSON text jsonb accepts: written directly, and only when it holds an escaped U+0000 (rare: only
   * hostile input) again from a tree with it replaced.
   */
  private static String jsonb(Object value) throws JsonProcessingException {
    String json = Json.MAPPER.writeValueAsString(value);
    if (!json.contains("\\u0000")) {
      return json;
    }
    return Json.MAPPER.writeValueAsString(withoutNul(Json.MAPPER.valueToTree(value)));
  }

  /** The same tree with U+0000 replaced in every string and field name (jsonb refuses it). */
  static JsonNode withoutNul(JsonNode node) {
    if (node.isTextual()) {
      String t = node.textValue();
      return t.indexOf('\0') < 0 ? node : TextNode.valueOf(text(t));
    }
    if (node.isObject()) {
      ObjectNode out = Json.MAPPER.createObjectNode();
      Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> f = fields.next();
        out.set(text(f.getKey()), withoutNul(f.getValue()));
      }
      return out;
    }
    if (node.isArray()) {
      ArrayNode out = Json.MAPPER.createArrayNode();
      node.forEach(child -> out.add(withoutNul(child)));
      return out;
    }
    return node;
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    String msg = String.valueOf(e.getMessage());
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
      if (t.getMessage() != null) {
        msg = msg + ": " + t.getMessage();
      }
    }
    return msg;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------- console reads
  // Every cluster's Observations unless the filter names a cluster (spec.clusterName); see
  // ConsoleSql.

  @Override
  public ObservationPage findings(io.kubezen.watcher.store.FindingsQuery query) {
    ConsoleSql.After after =
        query.after() == null ? null : ConsoleSql.After.decode(query.after(), query.sort());
    List<Object> args = new ArrayList<>();
    String sql = ConsoleSql.page(query, after, args);
    int limit = query.limit();
    return read(
        "findings",
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args)) {
            List<Observation> items = new ArrayList<>();
            ConsoleSql.After last = null;
            boolean more = false;
            try (ResultSet rs = st.executeQuery()) {
              while (rs.next()) {
                if (items.size() == limit) {
                  more = true;
                  break;
                }
                items.add(observation(rs));
                long lastSeen = rs.getLong("last_seen_us");
                long k1 =
                    switch (query.sort()) {
                      case LAST_SEEN -> lastSeen;
                      case SEVERITY -> rs.getLong("severity_rank");
                      case COUNT -> rs.getLong("count");
                    };
                last =
                    new ConsoleSql.After(
                        query.sort(),
                        k1,
                        lastSeen,
                        rs.getString("namespace"),
                        rs.getString("name"),
                        rs.getString("cluster"));
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
    String sql = ConsoleSql.countBy(filter, fields, args);
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
                  conn, filter, by, limit, "resolved IS NOT TRUE"));
    }
    List<Object> args = new ArrayList<>();
    String sql = ConsoleSql.top(filter, by, limit, args);
    return read(
        "top " + by,
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args);
              ResultSet rs = st.executeQuery()) {
            List<io.kubezen.watcher.store.RankedGroup> out = new ArrayList<>();
            while (rs.next()) {
              out.add(
                  new io.kubezen.watcher.store.RankedGroup(
                      rs.getString("resource_namespace"),
                      rs.getString("resource_kind"),
                      rs.getString("resource_name"),
                      rs.getLong("critical"),
                      rs.getLong("high"),
                      rs.getLong("total")));
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
    String openedSql = ConsoleSql.opened(filter, span.from(), span.to(), span.width(), openedArgs);
    List<Object> resolvedArgs = new ArrayList<>();
    String resolvedSql =
        ConsoleSql.resolvedIn(filter, span.from(), span.to(), span.width(), resolvedArgs);
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
                  conn, "SELECT max(last_seen_us) FROM observations WHERE source = ?"));
    }
    List<Object> args = new ArrayList<>();
    String sql = ConsoleSql.sourceActivity(filter, args);
    return read(
        "sourceActivity",
        conn -> {
          try (PreparedStatement st = io.kubezen.watcher.store.jdbc.Jdbc.prepare(conn, sql, args);
              ResultSet rs = st.executeQuery()) {
            List<io.kubezen.watcher.store.SourceActivity> out = new ArrayList<>();
            while (rs.next()) {
              out.add(
                  new io.kubezen.watcher.store.SourceActivity(
                      rs.getString("source"),
                      Instant.EPOCH.plus(rs.getLong("last_seen"), ChronoUnit.MICROS),
                      rs.getLong("open"),
                      rs.getLong("total")));
            }
            return out;
          }
        });
  }

  @Override
  public io.kubezen.watcher.store.StoreSummary summary() {
    return read(
        "summary",
        conn -> io.kubezen.watcher.store.jdbc.ConsoleRows.summary(conn, ConsoleSql.SUMMARY));
  }
}
