package io.kubezen.watcher.store.jdbc;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

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
}
