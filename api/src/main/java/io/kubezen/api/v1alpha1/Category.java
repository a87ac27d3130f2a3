package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import java.util.Optional;

/** What area a finding belongs to. The wire form is the lower-case name. */
public enum Category {
  SECURITY,
  COMPLIANCE,
  PERFORMANCE,
  OPERATIONS,
  COST;

  private final String wire = name().toLowerCase(Locale.ROOT);

  @JsonValue
  public String wire() {
    return wire;
  }

  public static Optional<Category> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    for (Category c : values()) {
      if (c.wire.equalsIgnoreCase(text.trim())) {
        return Optional.of(c);
      }
    }
    return Optional.empty();
  }

  @JsonCreator
  static Category fromWire(String text) {
    return parse(text).orElseThrow(() -> new IllegalArgumentException("unknown category: " + text));
  }
}
