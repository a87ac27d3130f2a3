package io.kubezen.watcher.store.postgres;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.jdbc.Jdbc;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** The read API of a {@link PostgresObservationStore}: get, list (newest first), listByOrigin. */
final class PostgresReads {
  private static final String COLUMNS =
      "cluster, namespace, name, created_ms, count, first_seen_us, last_seen_us, "
          + "resolved, resolved_at, metadata::text AS metadata, spec::text AS spec";
  private static final String ORDER = "(-created_ms), name, namespace, cluster";

  private final PostgresDb db;
  private final PostgresStoreOptions options;

  PostgresReads(PostgresDb db) {
    this.db = db;
    this.options = db.options();
  }

  Optional<Observation> get(String namespace, String name) {
    return get(options.cluster(), namespace, name);
  }

  Optional<Observation> get(String cluster, String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    return db.read(
        "get " + namespace + "/" + name,
        conn -> {
          String sql =
              "SELECT "
                  + COLUMNS
                  + " FROM observations WHERE namespace = ? AND name = ?"
                  + (cluster == null ? "" : " AND cluster = ?")
                  + " ORDER BY cluster LIMIT 1";
          try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, PostgresText.text(namespace));
            st.setString(2, PostgresText.text(name));
            if (cluster != null) {
              st.setString(3, PostgresText.text(cluster));
            }
            List<Observation> found = observations(st);
            return found.isEmpty() ? Optional.<Observation>empty() : Optional.of(found.get(0));
          }
        });
  }

  ObservationPage list(ObservationQuery query) {
    PageToken after =
        query.continueToken() == null ? null : PageToken.decode(query.continueToken());
    List<Object> args = new ArrayList<>();
    String sql = listSql(query, after, args);
    return db.read(
        "list",
        conn ->
            Jdbc.page(
                conn,
                sql,
                args,
                query.limit(),
                PostgresReads::observation,
                rs ->
                    new PageToken(
                        rs.getLong("created_ms"),
                        rs.getString("name"),
                        rs.getString("namespace"),
                        rs.getString("cluster")),
                PageToken::encode));
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
      args.add(PostgresText.text(after.name()));
      args.add(PostgresText.text(after.namespace()));
      args.add(PostgresText.text(after.cluster()));
    }
    sql.append(" ORDER BY ").append(ORDER).append(" LIMIT ?");
    args.add(query.limit() + 1); // one more tells whether there is a next page
    return sql.toString();
  }

  private static void filter(StringBuilder sql, List<Object> args, String column, String value) {
    if (value != null) {
      sql.append(" AND ").append(column).append(" = ?");
      args.add(PostgresText.text(value));
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

  static Observation observation(ResultSet rs) throws SQLException {
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

  List<Observation> listByOrigin(String originUid) {
    Objects.requireNonNull(originUid, "originUid");
    return db.read(
        "listByOrigin " + originUid,
        conn -> {
          String sql =
              "SELECT "
                  + COLUMNS
                  + " FROM observations WHERE origin_uid = ?"
                  + (options.cluster() == null ? "" : " AND cluster = ?")
                  + " ORDER BY namespace, name, cluster";
          try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, PostgresText.text(originUid));
            if (options.cluster() != null) {
              st.setString(2, options.cluster());
            }
            return observations(st);
          }
        });
  }
}
