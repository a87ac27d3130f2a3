package io.kubezen.watcher.store;

import java.util.Locale;
import java.util.Optional;

/**
 * The order of a findings page. Every order ends with namespace, name (ascending) so that it is
 * total and a keyset page never skips or repeats a row.
 */
public enum FindingSort {
  /** {@code status.lastSeen} newest first. */
  LAST_SEEN,
  /** Most severe first (critical .. info), then {@code status.lastSeen} newest first. */
  SEVERITY,
  /** {@code status.count} highest first, then {@code status.lastSeen} newest first. */
  COUNT;

  public String wire() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  public static Optional<FindingSort> parse(String text) {
    if (text == null) {
      return Optional.empty();
    }
    for (FindingSort s : values()) {
      if (s.wire().equalsIgnoreCase(text.trim())) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }
}
