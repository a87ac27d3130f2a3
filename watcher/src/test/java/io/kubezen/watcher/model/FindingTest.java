package io.kubezen.watcher.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class FindingTest {
  static Finding finding(String source, String eventType, String title) {
    return new Finding(
        source,
        Category.SECURITY,
        Severity.HIGH,
        eventType,
        null,
        title,
        null,
        Instant.parse("2026-11-22T10:00:00Z"),
        List.of("a"));
  }

  @Test
  void titleIsOneLineAndBounded() {
    assertThat(finding("falco", "runtime_threat", "  first line\r\n   second\n\nthird  ").title())
        .isEqualTo("first line second third");
    assertThat(finding("falco", "runtime_threat", "x".repeat(2000)).title())
        .hasSize(Finding.MAX_TITLE)
        .endsWith("…");
    assertThat(finding("falco", "runtime_threat", " ").title())
        .as("blank: the event type")
        .isEqualTo("runtime_threat");
  }

  @Test
  void sourceAndEventTypeAreValidated() {
    assertThatThrownBy(() -> finding("Falco", "runtime_threat", "t"))
        .hasMessageContaining("DNS-1123");
    assertThatThrownBy(() -> finding("falco", "Runtime-Threat", "t"))
        .hasMessageContaining("eventType");
  }
}
