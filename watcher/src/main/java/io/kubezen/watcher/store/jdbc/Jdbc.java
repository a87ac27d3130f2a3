package io.kubezen.watcher.store.jdbc;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.ObservationPage;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** JDBC plumbing the SQL stores share. */
public final class Jdbc {
  private Jdbc() {}

  /** A statement with its arguments bound in order (closed again when binding fails). */
  public static PreparedStatement prepare(Connection conn, String sql, List<Object> args)
      throws SQLException {
    PreparedStatement st = conn.prepareStatement(sql);
    try {
      for (int i = 0; i < args.size(); i++) {
        st.setObject(i + 1, args.get(i));
      }
      return st;
    } catch (SQLException e) {
      st.close();
      throw e;
    }
  }

  /** Reads one value of the current row. */
  @FunctionalInterface
  public interface Column<T> {
    T read(ResultSet rs) throws SQLException;
  }

  /**
   * One keyset page: {@code sql} asks for {@code limit + 1} rows in the page's order; the first
   * {@code limit} are the page, and when there is one more, the continue token is the key of the
   * page's last row ({@code key}, then {@code encode}).
   */
  public static <K> ObservationPage page(
      Connection conn,
      String sql,
      List<Object> args,
      int limit,
      Column<Observation> row,
      Column<K> key,
      Function<K, String> encode)
      throws SQLException {
    try (PreparedStatement st = prepare(conn, sql, args);
        ResultSet rs = st.executeQuery()) {
      List<Observation> items = new ArrayList<>();
      K last = null;
      while (rs.next()) {
        if (items.size() == limit) {
          return new ObservationPage(items, encode.apply(last));
        }
        items.add(row.read(rs));
        last = key.read(rs);
      }
      return new ObservationPage(items, null);
    }
  }
}
