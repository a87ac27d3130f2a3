package io.kubezen.watcher.e2e;

import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.testing.PostgresServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Jar processes of the postgres store, and what the tests send them and read back. */
final class PostgresJars {
  final JarRunner jar = new JarRunner();
  final String url;
  final Path dir;

  PostgresJars(Path dir, String url) {
    this.dir = dir;
    this.url = url;
  }

  /** A watcher of {@code cluster} on the test database (webhooks only: no Kubernetes here). */
  Running start(String cluster, Map<String, String> extra) throws Exception {
    Map<String, String> env =
        new HashMap<>(
            Map.of(
                "OBSERVATION_STORE", "postgres",
                "POSTGRES_URL", url,
                "POSTGRES_USER", PostgresServer.USER,
                "CLUSTER_NAME", cluster,
                "KUBERNETES_MODE", "false",
                "LOG_FORMAT", "text",
                "POSTGRES_POOL_SIZE", "4"));
    env.putAll(extra);
    // Small JVMs: several run at once on a 2-core machine.
    return jar.start(dir, env, List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k"));
  }

  /**
   * {@code n} Falco alerts as one JSON array, each about pod {@code <prefix>-<i>} (one Observation
   * each).
   */
  static String alerts(String prefix, int from, int n) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = from; i < from + n; i++) {
      if (i > from) {
        sb.append(',');
      }
      sb.append(
          """
          {"time":"2026-11-22T10:15:30Z","rule":"Terminal shell in container","priority":"Warning",\
          "source":"syscall","hostname":"node-1","output":"A shell was spawned (pod %s)",\
          "output_fields":{"k8s.ns.name":"shop","k8s.pod.name":"%s","container.name":"nginx"},\
          "tags":["container","shell"]}"""
              .formatted(prefix + "-" + i, prefix + "-" + i));
    }
    return sb.append(']').toString();
  }

  HttpResponse<String> post(Running r, String body) throws Exception {
    return jar.call("POST", "http://127.0.0.1:" + r.port() + "/ingest/falco", body);
  }

  /** Rows per pod name (spec.resource.name) of one cluster, straight from the table. */
  Map<String, Integer> rowsByPod(String cluster) throws SQLException {
    Map<String, Integer> out = new HashMap<>();
    try (Connection c = DriverManager.getConnection(url, PostgresServer.USER, "");
        PreparedStatement st =
            c.prepareStatement(
                "SELECT resource_name, count(*) FROM observations WHERE cluster = ? GROUP BY resource_name")) {
      st.setString(1, cluster);
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getInt(2));
        }
      }
    }
    return out;
  }
}
