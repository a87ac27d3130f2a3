package io.kubezen.watcher.store.postgres;

import java.time.Duration;
import java.util.Objects;

/**
 * How to reach the database and what this watcher is in it.
 *
 * @param url {@code jdbc:postgresql://host:port/database}
 * @param user null for the driver's default
 * @param password null for none; never logged ({@link #toString()} hides it)
 * @param cluster this watcher's CLUSTER_NAME: part of every row it writes; null only when read-only
 * @param readOnly a viewer: no migrations, no writes
 * @param maxObservations live Observations of this cluster kept at most (each GC sweep evicts the
 *     lowest severities, oldest first, beyond it); 0 for no cap
 */
public record PostgresStoreOptions(
    String url,
    String user,
    String password,
    int poolSize,
    Duration statementTimeout,
    Duration connectTimeout,
    String cluster,
    boolean readOnly,
    long maxObservations) {

  public PostgresStoreOptions {
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(statementTimeout, "statementTimeout");
    Objects.requireNonNull(connectTimeout, "connectTimeout");
    if (poolSize < 1) {
      throw new IllegalArgumentException("poolSize must be at least 1: " + poolSize);
    }
    if (!readOnly && (cluster == null || cluster.isBlank())) {
      throw new IllegalArgumentException("a writing PostgreSQL store needs a cluster name");
    }
  }

  public static PostgresStoreOptions of(String url, String user, String password, String cluster) {
    return new PostgresStoreOptions(
        url, user, password, 4, Duration.ofSeconds(10), Duration.ofSeconds(5), cluster, false, 0);
  }

  /** A read-only viewer of every cluster. */
  public static PostgresStoreOptions reader(String url, String user, String password) {
    return new PostgresStoreOptions(
        url, user, password, 4, Duration.ofSeconds(10), Duration.ofSeconds(5), null, true, 0);
  }

  public PostgresStoreOptions withCluster(String value) {
    return new PostgresStoreOptions(
        url,
        user,
        password,
        poolSize,
        statementTimeout,
        connectTimeout,
        value,
        readOnly,
        maxObservations);
  }

  public PostgresStoreOptions readOnlyViewer() {
    return new PostgresStoreOptions(
        url,
        user,
        password,
        poolSize,
        statementTimeout,
        connectTimeout,
        cluster,
        true,
        maxObservations);
  }

  public PostgresStoreOptions withMaxObservations(long value) {
    return new PostgresStoreOptions(
        url, user, password, poolSize, statementTimeout, connectTimeout, cluster, readOnly, value);
  }

  public PostgresStoreOptions withTimeouts(Duration statement, Duration connect) {
    return new PostgresStoreOptions(
        url, user, password, poolSize, statement, connect, cluster, readOnly, maxObservations);
  }

  @Override
  public String toString() {
    return "PostgresStoreOptions[url="
        + url
        + ", user="
        + user
        + ", password="
        + (password == null ? "(none)" : "***")
        + ", poolSize="
        + poolSize
        + ", statementTimeout="
        + statementTimeout
        + ", connectTimeout="
        + connectTimeout
        + ", cluster="
        + cluster
        + ", readOnly="
        + readOnly
        + ", maxObservations="
        + maxObservations
        + "]";
  }
}
