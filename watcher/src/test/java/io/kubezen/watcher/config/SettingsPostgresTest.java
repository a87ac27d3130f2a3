package io.kubezen.watcher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsPostgresTest {
  @TempDir Path dir;

  static Map<String, String> pg(String... kv) {
    Map<String, String> env = new HashMap<>();
    env.put("OBSERVATION_STORE", "postgres");
    env.put("POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/zen");
    env.put("CLUSTER_NAME", "east");
    for (int i = 0; i < kv.length; i += 2) {
      if (kv[i + 1] == null) {
        env.remove(kv[i]);
      } else {
        env.put(kv[i], kv[i + 1]);
      }
    }
    return env;
  }

  @Test
  void defaultsOutsideAPodAreAWatcherWithoutKubernetesMode() {
    Settings s =
        Settings.fromEnv(pg("POSTGRES_USER", "zw", "POSTGRES_PASSWORD", "hunter2-hunter2"));
    assertThat(s.store()).isEqualTo(Settings.StoreKind.POSTGRES);
    assertThat(s.mode()).isEqualTo(Settings.Mode.WATCHER);
    assertThat(s.kubernetesMode()).isFalse();
    assertThat(s.leaderElection().mode()).isEqualTo(Settings.LeaderElectionMode.DISABLED);
    Settings.Postgres p = s.postgres();
    assertThat(p.url()).isEqualTo("jdbc:postgresql://127.0.0.1:5432/zen");
    assertThat(p.user()).contains("zw");
    assertThat(p.password().reveal()).isEqualTo("hunter2-hunter2");
    assertThat(p.poolSize()).isEqualTo(8);
    assertThat(p.statementTimeout()).isEqualTo(Duration.ofSeconds(10));
    assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
    // The settings as a whole can be printed: the password is not in it.
    assertThat(s.toString()).doesNotContain("hunter2-hunter2").contains("***");
  }

  @Test
  void inAPodThePostgresStoreRunsKubernetesModeWithLeaderElection() {
    Settings s = Settings.fromEnv(pg("KUBERNETES_SERVICE_HOST", "10.0.0.1"));
    assertThat(s.kubernetesMode()).isTrue();
    assertThat(s.leaderElection().mode()).isEqualTo(Settings.LeaderElectionMode.BUILTIN);
    assertThat(
            Settings.fromEnv(pg("KUBERNETES_SERVICE_HOST", "10.0.0.1", "KUBERNETES_MODE", "false"))
                .kubernetesMode())
        .isFalse();
    assertThat(Settings.fromEnv(pg("KUBERNETES_MODE", "true")).kubernetesMode()).isTrue();
  }

  @Test
  void thePasswordComesFromAFileWithoutItsNewline() throws Exception {
    Path file = Files.writeString(dir.resolve("password"), "from-a-secret\n");
    assertThat(
            Settings.fromEnv(pg("POSTGRES_PASSWORD_FILE", file.toString()))
                .postgres()
                .password()
                .reveal())
        .isEqualTo("from-a-secret");
  }

  @Test
  void everyProblemIsNamedAndThePasswordIsNeverInAMessage() {
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    pg(
                        "POSTGRES_URL",
                        "postgres://db/zen",
                        "CLUSTER_NAME",
                        null,
                        "POSTGRES_POOL_SIZE",
                        "0",
                        "POSTGRES_STATEMENT_TIMEOUT",
                        "20m",
                        "POSTGRES_CONNECT_TIMEOUT",
                        "10ms",
                        "POSTGRES_PASSWORD",
                        "pw-in-env-1234",
                        "POSTGRES_PASSWORD_FILE",
                        dir.resolve("missing").toString(),
                        "MODE",
                        "viewer")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("POSTGRES_URL='postgres://db/zen': must start with jdbc:postgresql:")
        .hasMessageContaining("CLUSTER_NAME is required with OBSERVATION_STORE=postgres")
        .hasMessageContaining("POSTGRES_POOL_SIZE='0': must be between 1 and 200")
        .hasMessageContaining("POSTGRES_STATEMENT_TIMEOUT='20m': must be between 100ms and 10m")
        .hasMessageContaining("POSTGRES_CONNECT_TIMEOUT='10ms': must be between 250ms and 5m")
        .hasMessageContaining(
            "POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE: set one of them, not both")
        .hasMessageContaining("MODE='viewer': must be one of watcher, reader")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("pw-in-env-1234"));
    assertThatThrownBy(() -> Settings.fromEnv(pg("POSTGRES_URL", null)))
        .hasMessageContaining("POSTGRES_URL='': is required with OBSERVATION_STORE=postgres");
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    pg("POSTGRES_URL", "jdbc:postgresql://db/zen?user=a&password=leak-me-now")))
        .hasMessageContaining("must not hold the password")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("leak-me-now"));
    assertThatThrownBy(
            () -> Settings.fromEnv(pg("POSTGRES_PASSWORD_FILE", dir.resolve("missing").toString())))
        .hasMessageContaining(
            "POSTGRES_PASSWORD_FILE='" + dir.resolve("missing") + "': cannot read it");
  }

  @Test
  void aReaderNeedsThePostgresStoreAndNoClusterName() {
    Settings reader =
        Settings.fromEnv(
            pg("MODE", "reader", "CLUSTER_NAME", null, "KUBERNETES_SERVICE_HOST", "10.0.0.1"));
    assertThat(reader.mode()).isEqualTo(Settings.Mode.READER);
    assertThat(reader.kubernetesMode()).as("a reader watches nothing").isFalse();
    assertThat(reader.leaderElection().mode()).isEqualTo(Settings.LeaderElectionMode.DISABLED);
    assertThatThrownBy(
            () -> Settings.fromEnv(Map.of("OBSERVATION_STORE", "sqlite", "MODE", "reader")))
        .hasMessageContaining("MODE=reader needs OBSERVATION_STORE=postgres");
  }

  @Test
  void postgresSettingsWithAnotherStoreAreAMistake() {
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    Map.of(
                        "OBSERVATION_STORE", "sqlite", "POSTGRES_URL", "jdbc:postgresql://db/zen")))
        .hasMessageContaining("POSTGRES_URL is set but OBSERVATION_STORE is not postgres");
    assertThatThrownBy(
            () ->
                Settings.fromEnv(Map.of("OBSERVATION_STORE", "sqlite", "KUBERNETES_MODE", "true")))
        .hasMessageContaining(
            "KUBERNETES_MODE=true needs OBSERVATION_STORE=kubernetes or postgres");
  }
}
