package io.kubezen.watcher.store.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.kubezen.watcher.store.StoreException;
import java.sql.SQLException;
import java.time.Duration;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;

/**
 * Opening a {@link PostgresObservationStore}: the connection pool's settings and the Flyway
 * migration.
 */
final class PostgresSchema {
  static final String MIGRATIONS = "classpath:db/zen-watcher/postgres";
  static final String HISTORY_TABLE = "zen_watcher_schema_history";

  /**
   * The advisory lock key that serializes migrations (an arbitrary constant: "zenwatch" in ASCII).
   */
  static final long MIGRATION_LOCK = 0x7a656e7761746368L;

  private PostgresSchema() {}

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

  static void migrate(HikariDataSource pool, PostgresStoreOptions options) {
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

  static String rootMessage(Throwable e) {
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
}
