package io.kubezen.watcher.store.sqlite;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.Observations;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.Shed;
import io.kubezen.watcher.store.ShedCounts;
import io.kubezen.watcher.store.StoreTimes;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.store.jdbc.SqlDialect;
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

/**
 * The write path of a {@link SqliteObservationStore}: createOrMerge and createIfAbsent (with
 * MAX_OBSERVATIONS enforced inside the write transaction), repeats, resolve; each call one
 * transaction for the whole batch.
 */
final class SqliteWrites {
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
  private final SqliteConnections db;
  private final Clock clock;
  private final long maxObservations;
  // What MAX_OBSERVATIONS shed (counted once the transaction committed).
  private final ShedCounts shed = new ShedCounts();

  SqliteWrites(SqliteConnections db, Clock clock, long maxObservations) {
    this.db = db;
    this.clock = clock;
    this.maxObservations = maxObservations;
  }

  /** Observations of {@code severity} shed to respect MAX_OBSERVATIONS so far. */
  long shedCount(Severity severity, Shed action) {
    return shed.get(severity, action);
  }

  /** One Observation shed inside a write transaction: counted if that transaction commits. */
  private record ShedOne(Shed action, Severity severity) {}

  private void count(List<ShedOne> committed) {
    for (ShedOne one : committed) {
      shed.add(one.action(), one.severity());
    }
  }

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

  List<WriteOutcome> createOrMerge(List<Observation> observations) {
    return create(
        "createOrMerge",
        observations,
        MERGE,
        (merge, r) -> {
          merge.setLong(1, r.count());
          merge.setLong(2, r.firstSeen());
          merge.setLong(3, r.lastSeen());
          merge.setString(4, r.namespace());
          merge.setString(5, r.name());
          if (merge.executeUpdate() != 1) {
            throw new SQLException(
                "row " + r.namespace() + "/" + r.name() + " vanished inside a transaction");
          }
          return WriteOutcome.MERGED;
        });
  }

  /** What is done to a row that exists already, with the statement {@code create} prepared. */
  @FunctionalInterface
  private interface OnExisting {
    WriteOutcome apply(PreparedStatement st, Row r) throws SQLException;
  }

  /**
   * One write transaction: each row admitted under MAX_OBSERVATIONS is inserted, or, when it
   * exists, handed to {@code onExisting} with {@code existingSql} prepared. What was shed is
   * counted once the transaction committed.
   */
  private List<WriteOutcome> create(
      String what, List<Observation> observations, String existingSql, OnExisting onExisting) {
    if (observations.isEmpty()) {
      return List.of();
    }
    List<Row> rows = new ArrayList<>(observations.size());
    for (Observation o : observations) {
      rows.add(row(o));
    }
    List<ShedOne> shedNow = new ArrayList<>();
    List<WriteOutcome> result =
        db.inWriteTransaction(
            what + " of " + rows.size(),
            conn -> {
              shedNow.clear(); // a retried transaction starts over
              long now = clock.millis();
              List<WriteOutcome> outcomes = new ArrayList<>(rows.size());
              try (PreparedStatement insert = conn.prepareStatement(INSERT);
                  PreparedStatement existing = conn.prepareStatement(existingSql)) {
                for (Row r : rows) {
                  if (!admit(conn, r, shedNow)) {
                    outcomes.add(WriteOutcome.MISSING);
                  } else if (insert(insert, r, now) == 1) {
                    outcomes.add(WriteOutcome.CREATED);
                  } else {
                    outcomes.add(onExisting.apply(existing, r));
                  }
                }
              }
              return outcomes;
            });
    count(shedNow);
    return result;
  }

  /**
   * Under MAX_OBSERVATIONS (inside the write transaction): true when {@code r} exists or there is
   * room for it, if need be by deleting the Observation of the lowest severity below its own (the
   * oldest first); false when it is refused.
   */
  private boolean admit(Connection conn, Row r, List<ShedOne> shedNow) throws SQLException {
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
        ResultSet rs = st.executeQuery(SqlDialect.SQLITE.summarySql())) {
      if (!rs.next() || rs.getLong("total") < maxObservations) {
        return true;
      }
    }
    int rank = r.spec().severity() == null ? 0 : r.spec().severity().rank();
    long victim;
    String victimSeverity;
    try (PreparedStatement st =
        conn.prepareStatement(
            "SELECT rowid, severity FROM observations WHERE severity_rank < ?"
                + " ORDER BY severity_rank, created_at, name, namespace LIMIT 1")) {
      st.setInt(1, rank);
      try (ResultSet rs = st.executeQuery()) {
        if (!rs.next()) {
          shedNow.add(new ShedOne(Shed.REFUSED, r.spec().severity()));
          return false;
        }
        victim = rs.getLong(1);
        victimSeverity = rs.getString(2);
      }
    }
    try (PreparedStatement st = conn.prepareStatement("DELETE FROM observations WHERE rowid = ?")) {
      st.setLong(1, victim);
      st.executeUpdate();
    }
    shedNow.add(
        new ShedOne(
            Shed.EVICTED,
            victimSeverity == null ? null : Severity.parse(victimSeverity).orElse(null)));
    return true;
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

  List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    return create(
        "createIfAbsent",
        observations,
        UNRESOLVE,
        (unresolve, r) -> {
          unresolve.setString(1, r.namespace());
          unresolve.setString(2, r.name());
          unresolve.executeUpdate();
          return WriteOutcome.EXISTED;
        });
  }

  List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    if (keys.isEmpty()) {
      return List.of();
    }
    String when = StoreTimes.formatMicros(StoreTimes.micros(at));
    return db.inWriteTransaction(
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

  List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    if (repeats.isEmpty()) {
      return List.of();
    }
    // Parse everything before taking the lock.
    List<Long> lastSeen = new ArrayList<>(repeats.size());
    for (Repeat r : repeats) {
      Objects.requireNonNull(r, "repeat");
      lastSeen.add(r.lastSeen() == null ? null : StoreTimes.micros(r.lastSeen()));
    }
    return db.inWriteTransaction(
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
}
