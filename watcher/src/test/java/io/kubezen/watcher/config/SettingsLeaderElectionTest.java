package io.kubezen.watcher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsLeaderElectionTest {
  static Map<String, String> kube(String... kv) {
    Map<String, String> env = new HashMap<>();
    env.put("OBSERVATION_STORE", "kubernetes");
    env.put("HOSTNAME", "host-1");
    for (int i = 0; i < kv.length; i += 2) {
      env.put(kv[i], kv[i + 1]);
    }
    return env;
  }

  @Test
  void defaultsAreBuiltinInKubernetesModeWith15s10s2s() {
    Settings s = Settings.fromEnv(kube());
    Settings.LeaderElection le = s.leaderElection();
    assertThat(le.mode()).isEqualTo(Settings.LeaderElectionMode.BUILTIN);
    assertThat(le.id()).isEqualTo("zen-watcher-leader-election");
    assertThat(le.identity()).isEqualTo("host-1");
    assertThat(le.leaseDuration()).isEqualTo(Duration.ofSeconds(15));
    assertThat(le.renewDeadline()).isEqualTo(Duration.ofSeconds(10));
    assertThat(le.retryPeriod()).isEqualTo(Duration.ofSeconds(2));
    assertThat(s.shutdownTimeout()).isEqualTo(Duration.ofSeconds(20));
  }

  @Test
  void disabledOutsideKubernetesAndBuiltinNeedsTheKubernetesStore() {
    assertThat(Settings.fromEnv(Map.of("OBSERVATION_STORE", "sqlite")).leaderElection().mode())
        .isEqualTo(Settings.LeaderElectionMode.DISABLED);
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    Map.of("OBSERVATION_STORE", "sqlite", "LEADER_ELECTION_MODE", "builtin")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("LEADER_ELECTION_MODE=builtin needs");
  }

  @Test
  void readsDurationsWithUnitsAndPodName() {
    Settings s =
        Settings.fromEnv(
            kube(
                "POD_NAME",
                "zw-0",
                "LEADER_ELECTION_LEASE_DURATION",
                "4s",
                "LEADER_ELECTION_RENEW_DEADLINE",
                "3000ms",
                "LEADER_ELECTION_RETRY_PERIOD",
                "1",
                "SHUTDOWN_TIMEOUT",
                "1m",
                "LEADER_ELECTION_ID",
                "my-lease",
                "LEADER_ELECTION_MODE",
                "disabled"));
    Settings.LeaderElection le = s.leaderElection();
    assertThat(le.identity()).isEqualTo("zw-0");
    assertThat(le.id()).isEqualTo("my-lease");
    assertThat(le.mode()).isEqualTo(Settings.LeaderElectionMode.DISABLED);
    assertThat(le.leaseDuration()).isEqualTo(Duration.ofSeconds(4));
    assertThat(le.renewDeadline()).isEqualTo(Duration.ofSeconds(3));
    assertThat(le.retryPeriod()).isEqualTo(Duration.ofSeconds(1));
    assertThat(s.shutdownTimeout()).isEqualTo(Duration.ofMinutes(1));
  }

  @Test
  void rejectsOutOfOrderAndMalformedDurationsNamingTheVariables() {
    assertThatThrownBy(() -> Settings.fromEnv(kube("LEADER_ELECTION_LEASE_DURATION", "10s")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining(
            "LEADER_ELECTION_LEASE_DURATION (10s) must be longer than LEADER_ELECTION_RENEW_DEADLINE (10s)");
    assertThatThrownBy(() -> Settings.fromEnv(kube("LEADER_ELECTION_RETRY_PERIOD", "10s")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining(
            "LEADER_ELECTION_RENEW_DEADLINE (10s) must be longer than LEADER_ELECTION_RETRY_PERIOD (10s)");
    assertThatThrownBy(() -> Settings.fromEnv(kube("LEADER_ELECTION_RENEW_DEADLINE", "ten")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("LEADER_ELECTION_RENEW_DEADLINE='ten'");
    assertThatThrownBy(() -> Settings.fromEnv(kube("SHUTDOWN_TIMEOUT", "2d")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("SHUTDOWN_TIMEOUT='2d'");
    assertThatThrownBy(() -> Settings.fromEnv(kube("LEADER_ELECTION_MODE", "raft")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("LEADER_ELECTION_MODE");
  }
}
