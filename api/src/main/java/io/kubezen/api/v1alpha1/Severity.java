package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import java.util.Optional;

/** How serious a finding is, most serious first. The wire form is the lower-case name. */
public enum Severity {
  CRITICAL,
  HIGH,
  MEDIUM,
  LOW,
  INFO;

  private final String wire = name().toLowerCase(Locale.ROOT);

  @JsonValue
  public String wire() {
    return wire;
  }

  /** Higher is more serious: critical 4 … info 0. */
  public int rank() {
    return INFO.ordinal() - ordinal();
  }

  public boolean atLeast(Severity other) {
    return rank() >= other.rank();
  }

  /** Parses the wire form (case-insensitive); empty when the text names no severity. */
  public static Optional<Severity> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    return switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "critical" -> Optional.of(CRITICAL);
      case "high" -> Optional.of(HIGH);
      case "medium" -> Optional.of(MEDIUM);
      case "low" -> Optional.of(LOW);
      case "info" -> Optional.of(INFO);
      default -> Optional.empty();
    };
  }

  @JsonCreator
  static Severity fromWire(String text) {
    return parse(text).orElseThrow(() -> new IllegalArgumentException("unknown severity: " + text));
  }
}
