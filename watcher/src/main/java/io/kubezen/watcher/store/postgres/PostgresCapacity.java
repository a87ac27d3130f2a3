package io.kubezen.watcher.store.postgres;

import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.Shed;
import io.kubezen.watcher.store.ShedCounts;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MAX_OBSERVATIONS at write time for a {@link PostgresObservationStore}: the capped upsert under
 * this cluster's advisory lock, evicting a lower severity or refusing, and the counts of what it
 * shed.
 */
final class PostgresCapacity {
  private static final Logger log = LoggerFactory.getLogger(PostgresObservationStore.class);

  /**
   * The first key of the advisory lock of a cluster's capped writes (its second: the cluster name's
   * hash).
   */
  static final int CAP_LOCK_CLASS = 0x7a776370; // "zwcp"

  /** The upsert of the admitted rows; the keys it created. */
  @FunctionalInterface
  interface Upsert {
    Set<ObservationKey> run(Connection conn, List<PostgresWrites.Row> rows) throws SQLException;
  }

  private final PostgresStoreOptions options;
  private final PostgresLiveCount liveCount;
  private final ShedCounts shed = new ShedCounts();

  PostgresCapacity(PostgresStoreOptions options, PostgresLiveCount liveCount) {
    this.options = options;
    this.liveCount = liveCount;
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
  Set<ObservationKey> capped(
      Connection conn,
      List<ObservationKey> inputOrder,
      List<PostgresWrites.Row> rows,
      Set<ObservationKey> refused,
      Upsert upsert)
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
        st.setArray(1, PostgresWrites.texts(conn, rows, PostgresWrites.Row::namespace));
        st.setArray(2, PostgresWrites.texts(conn, rows, PostgresWrites.Row::name));
        st.setString(3, options.cluster());
        present.addAll(PostgresWrites.keysOf(st));
      }
      long live = liveCount.liveCount(conn);
      Map<ObservationKey, PostgresWrites.Row> byKey = new HashMap<>();
      rows.forEach(r -> byKey.put(r.key(), r));
      List<PostgresWrites.Row> fresh = new ArrayList<>();
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
        for (PostgresWrites.Row r : fresh) {
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
        victims.sort(PostgresWrites.KEY_ORDER);
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
      List<PostgresWrites.Row> admitted =
          rows.stream().filter(r -> !refused.contains(r.key())).toList();
      Set<ObservationKey> created = admitted.isEmpty() ? Set.of() : upsert.run(conn, admitted);
      conn.commit();
      evictedSeverities.forEach(sev -> shed.add(Shed.EVICTED, sev));
      refusedSeverities.forEach(sev -> shed.add(Shed.REFUSED, sev));
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

  /** Observations shed at write time to respect MAX_OBSERVATIONS (counted after commit). */
  long shedCount(Severity severity, Shed action) {
    return shed.get(severity, action);
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
}
