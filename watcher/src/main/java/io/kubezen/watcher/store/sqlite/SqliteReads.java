package io.kubezen.watcher.store.sqlite;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.StoreTimes;
import io.kubezen.watcher.store.jdbc.Jdbc;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** The read API of a {@link SqliteObservationStore}: get, list (newest first), listByOrigin. */
final class SqliteReads {
  private static final String COLUMNS =
      "namespace, name, body, created_at, count, first_seen, last_seen, resolved, resolved_at";

  private final SqliteConnections db;

  SqliteReads(SqliteConnections db) {
    this.db = db;
  }

  Optional<Observation> get(String namespace, String name) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    return db.read(
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

  ObservationPage list(ObservationQuery query) {
    ContinueToken after =
        query.continueToken() == null ? null : ContinueToken.decode(query.continueToken());
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
                SqliteReads::observation,
                rs ->
                    new ContinueToken(
                        rs.getLong("created_at"), rs.getString("name"), rs.getString("namespace")),
                ContinueToken::encode));
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

  List<Observation> listByOrigin(String originUid) {
    Objects.requireNonNull(originUid, "originUid");
    return db.read(
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

  static Observation observation(ResultSet rs) throws SQLException {
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
}
