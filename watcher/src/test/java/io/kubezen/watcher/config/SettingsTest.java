package io.kubezen.watcher.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsTest {

  @Test
  void defaultsOutsideACluster() {
    Settings s = Settings.fromEnv(Map.of());
    assertThat(s.store()).isEqualTo(Settings.StoreKind.SQLITE);
    assertThat(s.sqlitePath()).isEqualTo(Path.of("./data/zen-watcher.db"));
    assertThat(s.podNamespace()).isEqualTo("zen-system");
    assertThat(s.port()).isEqualTo(8080);
    assertThat(s.dedupWindow()).isEqualTo(Duration.ofSeconds(60));
    assertThat(s.dedupMaxSize()).isEqualTo(10_000);
    assertThat(s.observationTtlSeconds()).isEqualTo(604_800);
    assertThat(s.gcInterval()).isEqualTo(Duration.ofMinutes(60));
    assertThat(s.maxBodyBytes()).isEqualTo(1 << 20);
    assertThat(s.maxBodyBytesFor("k8s-audit"))
        .isEqualTo(io.kubezen.watcher.source.k8saudit.AuditSource.DEFAULT_MAX_BODY_BYTES);
    assertThat(s.maxBodyBytesFor("falco")).isEqualTo(1 << 20);
    assertThat(s.authToken()).isEmpty();
    assertThat(s.rateLimitPerSecond()).isZero();
    assertThat(s.logFormat())
        .as("text for a person outside a cluster")
        .isEqualTo(Settings.LogFormat.TEXT);
    assertThat(s.filterConfig()).isEmpty();
  }

  @Test
  void logsAreJsonInAPodAndTextOnATerminalOrOutsideAClusterUnlessLogFormatSaysOtherwise() {
    Map<String, String> pod = Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    assertThat(Settings.fromEnv(pod, false).logFormat()).isEqualTo(Settings.LogFormat.JSON);
    assertThat(Settings.fromEnv(pod, true).logFormat())
        .as("kubectl run -it")
        .isEqualTo(Settings.LogFormat.TEXT);
    assertThat(Settings.fromEnv(Map.of(), false).logFormat()).isEqualTo(Settings.LogFormat.TEXT);
    assertThat(Settings.fromEnv(Map.of(), true).logFormat()).isEqualTo(Settings.LogFormat.TEXT);
    assertThat(Settings.fromEnv(Map.of("KUBERNETES_SERVICE_HOST", " "), false).logFormat())
        .isEqualTo(Settings.LogFormat.TEXT);
    // LOG_FORMAT overrides both
    assertThat(
            Settings.fromEnv(
                    Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1", "LOG_FORMAT", "text"), false)
                .logFormat())
        .isEqualTo(Settings.LogFormat.TEXT);
    assertThat(Settings.fromEnv(Map.of("LOG_FORMAT", "JSON"), true).logFormat())
        .isEqualTo(Settings.LogFormat.JSON);
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1", "LOG_FORMAT", "yaml"), false))
        .isInstanceOfSatisfying(
            SettingsException.class,
            e ->
                assertThat(e.problems())
                    .containsExactly("LOG_FORMAT='yaml': must be one of json, text"));
  }

  @Test
  void insideAClusterTheDefaultStoreIsKubernetes() {
    assertThat(Settings.fromEnv(Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1")).store())
        .isEqualTo(Settings.StoreKind.KUBERNETES);
    assertThat(
            Settings.fromEnv(
                    Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1", "OBSERVATION_STORE", "SQLite"))
                .store())
        .isEqualTo(Settings.StoreKind.SQLITE);
  }

  @Test
  void everyProblemIsReportedWithItsSettingName() {
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    Map.of(
                        "WATCHER_PORT", "http",
                        "DEDUP_WINDOW_SECONDS", "0",
                        "OBSERVATION_STORE", "mongo",
                        "LOG_FORMAT", "xml",
                        "WEBHOOK_AUTH_TOKEN", "short",
                        "WEBHOOK_ALLOWED_CIDRS", "10.0.0.0/33,nonsense",
                        "POD_NAMESPACE", "Not_Valid",
                        "WEBHOOK_MAX_BODY_BYTES_FALCO", "12")))
        .isInstanceOfSatisfying(
            SettingsException.class,
            e ->
                assertThat(e.problems())
                    .anySatisfy(
                        p ->
                            assertThat(p)
                                .startsWith("WATCHER_PORT='http'")
                                .contains("whole number"))
                    .anySatisfy(
                        p ->
                            assertThat(p)
                                .startsWith("DEDUP_WINDOW_SECONDS='0'")
                                .contains("between 1 and"))
                    .anySatisfy(
                        p ->
                            assertThat(p)
                                .startsWith("OBSERVATION_STORE='mongo'")
                                .contains("sqlite, kubernetes"))
                    .anySatisfy(
                        p -> assertThat(p).startsWith("LOG_FORMAT='xml'").contains("json, text"))
                    .anySatisfy(p -> assertThat(p).startsWith("WEBHOOK_AUTH_TOKEN").contains("16"))
                    .anySatisfy(
                        p ->
                            assertThat(p)
                                .startsWith("WEBHOOK_ALLOWED_CIDRS")
                                .contains("10.0.0.0/33"))
                    .anySatisfy(p -> assertThat(p).startsWith("POD_NAMESPACE"))
                    .anySatisfy(p -> assertThat(p).startsWith("WEBHOOK_MAX_BODY_BYTES_FALCO"))
                    .hasSize(8));
  }

  @Test
  void perSourceBodyLimitsAndLists() {
    Settings s =
        Settings.fromEnv(
            Map.of(
                "WEBHOOK_MAX_BODY_BYTES_K8S_AUDIT",
                "33554432",
                "WEBHOOK_MAX_BODY_BYTES_TRIVY",
                "4194304",
                "WEBHOOK_ALLOWED_CIDRS",
                "10.0.0.0/8, ::1/128",
                "WEBHOOK_RATE_LIMIT_PER_SECOND",
                "50"));
    assertThat(s.maxBodyBytesFor("k8s-audit")).isEqualTo(33_554_432);
    assertThat(s.maxBodyBytesFor("trivy")).isEqualTo(4_194_304);
    assertThat(s.allowedCidrs()).hasSize(2);
    assertThat(s.rateLimitBurst()).isEqualTo(100);
  }

  @Test
  void cidrMatching() throws Exception {
    Cidr c = Cidr.parse("10.1.0.0/17");
    assertThat(c.contains(InetAddress.getByName("10.1.127.255"))).isTrue();
    assertThat(c.contains(InetAddress.getByName("10.1.128.0"))).isFalse();
    assertThat(c.contains(InetAddress.getByName("::1"))).isFalse();
    assertThat(Cidr.parse("::1").contains(InetAddress.getByName("::1"))).isTrue();
    assertThat(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("8.8.8.8"))).isTrue();
    assertThatThrownBy(() -> Cidr.parse("example.com")).hasMessageContaining("not a CIDR");
  }

  @Test
  void accessScopeDefaultsToClusterAndNeedsNoNamespaces() {
    Settings s = Settings.fromEnv(Map.of("OBSERVATION_STORE", "kubernetes"));
    assertThat(s.accessScope()).isEqualTo(Settings.AccessScope.CLUSTER);
    assertThat(s.accessNamespaces()).isEmpty();
    assertThat(s.watch().namespaces()).isEmpty();
    assertThat(s.ingesters().namespace()).isEmpty();
  }

  @Test
  void namespacedAccessIsThePodNamespaceAndTheWatchedOnes() {
    Settings s =
        Settings.fromEnv(
            Map.of(
                "OBSERVATION_STORE",
                "kubernetes",
                "ACCESS_SCOPE",
                "namespaces",
                "POD_NAMESPACE",
                "zen",
                "WATCH_NAMESPACE",
                "team-a,zen,team-b"));
    assertThat(s.accessNamespaces()).containsExactly("zen", "team-a", "team-b");
    assertThat(s.watch().namespaces()).containsExactly("team-a", "zen", "team-b");
    // Ingesters are read where the install may read them: its own namespace.
    assertThat(s.ingesters().namespace()).contains("zen");
  }

  @Test
  void namespacedAccessWithoutWatchNamespaceWatchesThePodNamespace() {
    Settings s =
        Settings.fromEnv(
            Map.of(
                "OBSERVATION_STORE",
                "kubernetes",
                "ACCESS_SCOPE",
                "Namespaces",
                "POD_NAMESPACE",
                "zen"));
    assertThat(s.watch().namespaces()).containsExactly("zen");
    assertThat(s.accessNamespaces()).containsExactly("zen");
  }

  @Test
  void namespacedAccessRefusesWhatNeedsClusterRights() {
    assertThatThrownBy(
            () ->
                Settings.fromEnv(
                    Map.of(
                        "OBSERVATION_STORE",
                        "kubernetes",
                        "ACCESS_SCOPE",
                        "namespaces",
                        "POD_NAMESPACE",
                        "zen",
                        "WATCH_NAMESPACE",
                        "a",
                        "WATCH_NAMESPACE_SELECTOR",
                        "team=x",
                        "WATCH_CLUSTER_SCOPED",
                        "true",
                        "INGESTER_NAMESPACE",
                        "elsewhere",
                        "FILTER_CONFIGMAP",
                        "other/filter")))
        .isInstanceOf(SettingsException.class)
        .hasMessageContaining("WATCH_NAMESPACE_SELECTOR needs ACCESS_SCOPE=cluster")
        .hasMessageContaining("WATCH_CLUSTER_SCOPED=true needs ACCESS_SCOPE=cluster")
        .hasMessageContaining(
            "INGESTER_NAMESPACE='elsewhere' is outside ACCESS_SCOPE=namespaces (zen, a")
        .hasMessageContaining("FILTER_CONFIGMAP='other/filter' is outside");
    assertThatThrownBy(() -> Settings.fromEnv(Map.of("ACCESS_SCOPE", "namespaces")))
        .hasMessageContaining("ACCESS_SCOPE=namespaces needs OBSERVATION_STORE=kubernetes");
    assertThatThrownBy(() -> Settings.fromEnv(Map.of("ACCESS_SCOPE", "some")))
        .hasMessageContaining("ACCESS_SCOPE='some': must be one of cluster, namespaces");
    // In scope: accepted.
    Settings ok =
        Settings.fromEnv(
            Map.of(
                "OBSERVATION_STORE",
                "kubernetes",
                "ACCESS_SCOPE",
                "namespaces",
                "POD_NAMESPACE",
                "zen",
                "WATCH_NAMESPACE",
                "a",
                "INGESTER_NAMESPACE",
                "a",
                "FILTER_CONFIGMAP",
                "zen/filter"));
    assertThat(ok.ingesters().namespace()).contains("a");
  }
}
