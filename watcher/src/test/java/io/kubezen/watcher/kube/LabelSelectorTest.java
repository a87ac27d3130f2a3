package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class LabelSelectorTest {
  @Test
  void equalitySetAndExistenceRequirementsMustAllHold() {
    LabelSelector s = LabelSelector.parse("env=prod, tier in (web, api),!legacy,team,zone!=eu");
    assertThat(s.matches(Map.of("env", "prod", "tier", "api", "team", "x"))).isTrue();
    assertThat(s.matches(Map.of("env", "prod", "tier", "db", "team", "x"))).isFalse();
    assertThat(s.matches(Map.of("env", "prod", "tier", "web", "team", "x", "legacy", "1")))
        .isFalse();
    assertThat(s.matches(Map.of("env", "prod", "tier", "web"))).isFalse();
    assertThat(s.matches(Map.of("env", "prod", "tier", "web", "team", "x", "zone", "eu")))
        .isFalse();
    assertThat(s.matches(Map.of("env", "dev", "tier", "web", "team", "x"))).isFalse();
    assertThat(LabelSelector.parse("kubernetes.io/metadata.name notin (kube-system)").matches(null))
        .isTrue();
    assertThat(LabelSelector.parse("a==b").matches(Map.of("a", "b"))).isTrue();
  }

  @Test
  void invalidSelectorsAreRefusedNamingThePart() {
    assertThatThrownBy(() -> LabelSelector.parse("env=prod,,x"))
        .hasMessageContaining("empty requirement");
    assertThatThrownBy(() -> LabelSelector.parse("env in prod"))
        .hasMessageContaining("env in prod");
    assertThatThrownBy(() -> LabelSelector.parse("")).isInstanceOf(IllegalArgumentException.class);
  }
}
