package io.kubezen.watcher.store.sqlite;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.store.ObservationQuery;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every list filter and the TTL sweep are index searches, and no page needs a sort. */
class QueryPlanTest {
  @TempDir Path dir;

  @Test
  void listAndSweepUseIndexes() throws Exception {
    Path db = dir.resolve("plan.db");
    SqliteObservationStore.open(db, Clock.systemUTC()).close();
    ContinueToken after = new ContinueToken(1L, "n", "ns");
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
      List<ObservationQuery> queries =
          List.of(
              ObservationQuery.all(100),
              new ObservationQuery("falco", null, null, null, null, 100, null),
              new ObservationQuery(null, "high", null, null, null, 100, null),
              new ObservationQuery(null, null, "security", null, null, 100, null),
              new ObservationQuery(null, null, null, "shop", null, 100, null),
              new ObservationQuery(null, null, null, null, "vulnerability", 100, null));
      for (ObservationQuery q : queries) {
        for (ContinueToken t : java.util.Arrays.asList(null, after)) {
          List<Object> args = new ArrayList<>();
          String plan = plan(c, SqliteObservationStore.listSql(q, t, args), args);
          assertThat(plan)
              .as("%s / %s", q, t)
              .contains("USING INDEX observations_")
              .doesNotContain("TEMP B-TREE");
          if (!q.equals(ObservationQuery.all(100))) {
            assertThat(plan).as("%s", q).contains("SEARCH");
          }
        }
      }
      assertThat(plan(c, SqliteObservationStore.GC, List.of(1L, 1000)))
          .contains("observations_expires (expires_at<?)");
    }
  }

  private static String plan(Connection c, String sql, List<Object> args) throws Exception {
    try (PreparedStatement st = c.prepareStatement("EXPLAIN QUERY PLAN " + sql)) {
      for (int i = 0; i < args.size(); i++) {
        st.setObject(i + 1, args.get(i));
      }
      StringBuilder out = new StringBuilder();
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          out.append(rs.getString("detail")).append('\n');
        }
      }
      return out.toString();
    }
  }
}
