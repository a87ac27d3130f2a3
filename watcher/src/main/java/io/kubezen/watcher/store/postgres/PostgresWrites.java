package io.kubezen.watcher.store.postgres;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.Observations;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.WriteOutcome;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write path of a {@link PostgresObservationStore}: createOrMerge and createIfAbsent as one
 * upsert over arrays of the batch (folded by key, in key order), MAX_OBSERVATIONS by {@link
 * PostgresCapacity}), repeats and resolve.
 */
final class PostgresWrites {
  private static final Logger log = LoggerFactory.getLogger(PostgresObservationStore.class);

  /**
   * TTLs beyond this many seconds (about 3,000 years) never expire (keeps the arithmetic in range).
   */
  private static final long MAX_TTL_SECONDS = 100_000_000_000L;

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

  private final PostgresDb db;
  private final PostgresStoreOptions options;
  private final Clock clock;
  private final PostgresCapacity capacity;

  PostgresWrites(PostgresDb db, Clock clock, PostgresCapacity capacity) {
    this.db = db;
    this.options = db.options();
    this.clock = clock;
    this.capacity = capacity;
  }

  /** One Observation as columns, everything computed before a connection is taken. */
  record Row(
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

  static final Comparator<ObservationKey> KEY_ORDER =
      Comparator.comparing(ObservationKey::namespace).thenComparing(ObservationKey::name);

  List<WriteOutcome> createOrMerge(List<Observation> observations) {
    return upsert(observations, true);
  }

  List<WriteOutcome> createIfAbsent(List<Observation> observations) {
    return upsert(observations, false);
  }

  private List<WriteOutcome> upsert(List<Observation> observations, boolean merge) {
    if (observations.isEmpty()) {
      return List.of();
    }
    db.ensureWritable();
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
            ? db.write(what, conn -> upsertRows(conn, rows, merge))
            : db.write(
                what,
                conn ->
                    capacity.capped(
                        conn,
                        keys,
                        rows,
                        refused,
                        (c, admitted) -> upsertRows(c, admitted, merge)));
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

  static Array texts(Connection conn, List<Row> rows, java.util.function.Function<Row, String> f)
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
      metadataJson = PostgresText.jsonb(stored);
      specJson = PostgresText.jsonb(spec);
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
        PostgresText.text(meta.getNamespace()),
        PostgresText.text(meta.getName()),
        PostgresText.text(spec.source()),
        spec.category() == null ? null : spec.category().wire(),
        spec.severity() == null ? null : spec.severity().wire(),
        PostgresText.text(spec.eventType()),
        PostgresText.text(spec.fingerprint()),
        res == null ? null : PostgresText.text(res.kind()),
        res == null ? null : PostgresText.text(res.namespace()),
        res == null ? null : PostgresText.text(res.name()),
        spec.ttlSecondsAfterCreation(),
        count,
        Math.min(firstSeen, lastSeen),
        Math.max(firstSeen, lastSeen),
        status == null ? null : status.resolved(),
        status == null ? null : PostgresText.text(status.resolvedAt()),
        meta.getLabels() == null
            ? null
            : PostgresText.text(meta.getLabels().get(Observation.LABEL_ORIGIN_UID)),
        metadataJson,
        specJson,
        resolvedMicros(status),
        PostgresText.text(io.kubezen.watcher.store.SearchText.of(spec)));
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

  List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
    if (keys.isEmpty()) {
      return List.of();
    }
    db.ensureWritable();
    String when =
        io.kubezen.watcher.store.StoreTimes.formatMicros(
            io.kubezen.watcher.store.StoreTimes.micros(at));
    List<ObservationKey> sorted = new ArrayList<>(keys);
    sorted.sort(KEY_ORDER);
    Set<ObservationKey> found =
        db.write(
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
                        sorted.stream()
                            .map(k -> PostgresText.text(k.namespace()))
                            .toArray(String[]::new)));
                st.setArray(
                    8,
                    conn.createArrayOf(
                        "text",
                        sorted.stream()
                            .map(k -> PostgresText.text(k.name()))
                            .toArray(String[]::new)));
                st.setString(9, options.cluster());
                return keysOf(st);
              }
            });
    return keys.stream()
        .map(
            k -> found.contains(PostgresText.clean(k)) ? WriteOutcome.MERGED : WriteOutcome.MISSING)
        .toList();
  }

  List<WriteOutcome> addRepeats(List<Repeat> repeats) {
    if (repeats.isEmpty()) {
      return List.of();
    }
    db.ensureWritable();
    List<Repeat> sorted = new ArrayList<>(repeats);
    for (Repeat r : sorted) {
      Objects.requireNonNull(r, "repeat");
    }
    sorted.sort(Comparator.comparing(Repeat::namespace).thenComparing(Repeat::name));
    Set<ObservationKey> found =
        db.write(
            "addRepeats of " + repeats.size(),
            conn -> {
              try (PreparedStatement st = conn.prepareStatement(REPEAT)) {
                st.setArray(
                    1,
                    conn.createArrayOf(
                        "text",
                        sorted.stream()
                            .map(r -> PostgresText.text(r.namespace()))
                            .toArray(String[]::new)));
                st.setArray(
                    2,
                    conn.createArrayOf(
                        "text",
                        sorted.stream()
                            .map(r -> PostgresText.text(r.name()))
                            .toArray(String[]::new)));
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
                found.contains(
                        new ObservationKey(
                            PostgresText.text(r.namespace()), PostgresText.text(r.name())))
                    ? WriteOutcome.MERGED
                    : WriteOutcome.MISSING)
        .toList();
  }

  static Set<ObservationKey> keysOf(PreparedStatement st) throws SQLException {
    Set<ObservationKey> out = new java.util.HashSet<>();
    try (ResultSet rs = st.executeQuery()) {
      while (rs.next()) {
        out.add(new ObservationKey(rs.getString(1), rs.getString(2)));
      }
    }
    return out;
  }
}
