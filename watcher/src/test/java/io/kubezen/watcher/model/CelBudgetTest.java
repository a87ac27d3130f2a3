package io.kubezen.watcher.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CelBudgetTest {
  @Test
  void replaceMatchesTheStringsExtension() {
    assertThat(CelBudget.replace("abc", "", "-", -1)).isEqualTo("-a-b-c-");
    assertThat(CelBudget.replace("abc", "", "-", 2)).isEqualTo("-a-bc");
    assertThat(CelBudget.replace("a.b.c", ".", "::", -1)).isEqualTo("a::b::c");
    assertThat(CelBudget.replace("a.b.c", ".", "::", 1)).isEqualTo("a::b.c");
    assertThat(CelBudget.replace("a.b.c", ".", "::", 0)).isEqualTo("a.b.c");
    assertThat(CelBudget.replace("🚨x", "", "-", -1)).isEqualTo("-🚨-x-");
    assertThat(CelBudget.replace("aaa", "aa", "b", -1)).isEqualTo("ba");
  }

  @Test
  void aReplaceOverTheLimitFailsBeforeBuildingAnything() {
    String title = "x".repeat(60);
    String once = CelBudget.replace(title, "", title, -1); // 60 * 61 + 60 = 3720
    assertThat(once).hasSize(3720);
    assertThatThrownBy(() -> CelBudget.replace(once, "", once, -1))
        .isInstanceOf(CelBudget.ExceededException.class)
        .hasMessageContaining("CEL_COST_LIMIT");
  }
}
