package io.kubezen.watcher.pipeline.filter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.kubezen.api.v1alpha1.Severity;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class ConfigMapFilterTest {
  KubernetesClient client;
  final List<String> events = new CopyOnWriteArrayList<>();
  final FilterReloader.Listener listener =
      new FilterReloader.Listener() {
        @Override
        public void onLoaded(Filter filter, String contentHash) {
          events.add("loaded");
        }

        @Override
        public void onInvalid(String message) {
          events.add("invalid: " + message);
        }
      };

  void put(String ns, String name, Map<String, String> data) {
    client
        .configMaps()
        .inNamespace(ns)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(ns)
                .endMetadata()
                .withData(data)
                .build())
        .createOr(r -> r.update());
  }

  @Test
  void hotReloadWithLastGoodFallback() throws Exception {
    put("zen-system", "zw-filter", Map.of("filter.yaml", "global: {minSeverity: high}"));
    try (ConfigMapFilter f = ConfigMapFilter.of(client, "zw-filter", "zen-system", listener)) {
      f.start();
      assertThat(f.current().config().global().minSeverity()).isEqualTo(Severity.HIGH);
      put("zen-system", "zw-filter", Map.of("filter.yaml", "global: {minSeverity: low}"));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> f.current().config().global().minSeverity() == Severity.LOW);

      put("zen-system", "zw-filter", Map.of("filter.yaml", "global: {minSeverity: whatever}"));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> events.stream().anyMatch(e -> e.startsWith("invalid")));
      assertThat(f.current().config().global().minSeverity()).isEqualTo(Severity.LOW);
      assertThat(events.get(events.size() - 1))
          .contains("global.minSeverity: unknown severity 'whatever'")
          .contains("keeping the last good config");

      client.configMaps().inNamespace("zen-system").withName("zw-filter").delete();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> events.get(events.size() - 1).contains("ConfigMap deleted"));
      assertThat(f.current().config().global().minSeverity()).isEqualTo(Severity.LOW);

      put("zen-system", "zw-filter", Map.of("filter.yaml", "global: {minSeverity: critical}"));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> f.current().config().global().minSeverity() == Severity.CRITICAL);
    }
    assertThat(events.stream().filter(e -> e.equals("loaded")).count()).isEqualTo(3);
  }

  @Test
  void startFailsOnMissingOrInvalidAndTheSettingIsChecked() {
    assertThatThrownBy(
            () -> ConfigMapFilter.of(client, "other/zw-filter", "zen-system", listener).start())
        .isInstanceOf(FilterConfigException.class)
        .hasMessageContaining("ConfigMap other/zw-filter key filter.yaml")
        .hasMessageContaining("not found");
    put("other", "zw-filter", Map.of("wrong.yaml", ""));
    assertThatThrownBy(
            () -> ConfigMapFilter.of(client, "other/zw-filter", "zen-system", listener).start())
        .hasMessageContaining("has no key filter.yaml");
    put("other", "zw-filter", Map.of("filter.yaml", "global: {nope: 1}"));
    assertThatThrownBy(
            () -> ConfigMapFilter.of(client, "other/zw-filter", "zen-system", listener).start())
        .hasMessageContaining("global.nope: unknown key");
    assertThatThrownBy(() -> ConfigMapFilter.of(client, "a/b/c", "zen-system", listener))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ConfigMapFilter(client, "ns", "n", listener).current())
        .isInstanceOf(IllegalStateException.class);
  }
}
