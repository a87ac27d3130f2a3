package io.kubezen.watcher.store.jdbc;

import java.sql.Connection;
import java.sql.SQLException;

/** Work on one JDBC connection, run by a SQL store inside its transaction or read. */
@FunctionalInterface
public interface SqlWork<T> {
  T run(Connection conn) throws SQLException;
}
