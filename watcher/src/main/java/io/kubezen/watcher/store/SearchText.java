package io.kubezen.watcher.store;

import io.kubezen.api.v1alpha1.ObservationSpec;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the console's free-text search looks in, as one lower-cased string that a store keeps beside
 * the Observation and matches with a substring test: the title, the resource's name, and the
 * details {@link #DETAIL_KEYS} (Falco's rule, Kyverno's policy and rule, Trivy's CVE id, Checkov's
 * check id and name, kube-bench's test number), separated by a newline. Pure.
 */
public final class SearchText {
  public static final List<String> DETAIL_KEYS =
      List.of("rule", "policy", "vulnerabilityID", "check_id", "check_name", "test_number");

  /** Longer texts are cut: the search is over short identifying fields. */
  public static final int MAX_LENGTH = 4096;

  private SearchText() {}

  public static String of(ObservationSpec spec) {
    StringBuilder b = new StringBuilder();
    append(b, spec.title());
    if (spec.resource() != null) {
      append(b, spec.resource().name());
    }
    Map<String, Object> details = spec.details();
    if (details != null) {
      for (String k : DETAIL_KEYS) {
        Object v = details.get(k);
        if (v instanceof String || v instanceof Number) {
          append(b, v.toString());
        }
      }
    }
    String s = b.toString().toLowerCase(Locale.ROOT);
    return s.length() > MAX_LENGTH ? s.substring(0, MAX_LENGTH) : s;
  }

  private static void append(StringBuilder b, String s) {
    if (s != null && !s.isBlank()) {
      if (!b.isEmpty()) {
        b.append('\n');
      }
      b.append(s);
    }
  }

  /** A SQL LIKE pattern (escape character backslash) matching {@code needle} anywhere. */
  public static String likePattern(String needle) {
    StringBuilder b = new StringBuilder("%");
    for (char c : needle.toCharArray()) {
      if (c == '%' || c == '_' || c == '\\') {
        b.append('\\');
      }
      b.append(c);
    }
    return b.append('%').toString();
  }
}
