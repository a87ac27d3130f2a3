package io.kubezen.watcher.kube;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Kubernetes label selector string ({@code env=prod,tier in (a,b),!legacy}), matched in the
 * process: equality ({@code =}, {@code ==}, {@code !=}), set ({@code in}, {@code notin}) and
 * existence ({@code key}, {@code !key}) requirements, all of which must hold. Pure.
 */
public final class LabelSelector {
  private static final String KEY = "[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?";
  private static final String VALUE = "([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?";
  private static final Pattern EXISTS = Pattern.compile("(!?)\\s*(" + KEY + ")");
  private static final Pattern EQUALITY =
      Pattern.compile("(" + KEY + ")\\s*(==|=|!=)\\s*(" + VALUE + ")");
  private static final Pattern SET =
      Pattern.compile("(" + KEY + ")\\s+(in|notin)\\s*\\(([^()]*)\\)");

  private record Requirement(String key, String op, Set<String> values) {
    boolean matches(Map<String, String> labels) {
      String v = labels.get(key);
      return switch (op) {
        case "exists" -> v != null;
        case "!exists" -> v == null;
        case "=", "in" -> v != null && values.contains(v);
        case "!=", "notin" -> v == null || !values.contains(v);
        default -> throw new IllegalStateException(op);
      };
    }
  }

  private final String text;
  private final List<Requirement> requirements;

  private LabelSelector(String text, List<Requirement> requirements) {
    this.text = text;
    this.requirements = requirements;
  }

  /**
   * @throws IllegalArgumentException when the selector is not valid, saying which part
   */
  public static LabelSelector parse(String text) {
    List<Requirement> reqs = new ArrayList<>();
    for (String term : terms(text)) {
      String t = term.trim();
      if (t.isEmpty()) {
        throw new IllegalArgumentException("empty requirement in label selector '" + text + "'");
      }
      Matcher m;
      if ((m = SET.matcher(t)).matches()) {
        Set<String> values = new java.util.LinkedHashSet<>();
        for (String v : m.group(4).split(",")) {
          String value = v.trim();
          if (!value.matches(VALUE)) {
            throw new IllegalArgumentException(
                "invalid value '" + value + "' in label selector '" + text + "'");
          }
          values.add(value);
        }
        reqs.add(new Requirement(m.group(1), m.group(3), Set.copyOf(values)));
      } else if ((m = EQUALITY.matcher(t)).matches()) {
        String op = m.group(3).equals("==") ? "=" : m.group(3);
        reqs.add(new Requirement(m.group(1), op, Set.of(m.group(4))));
      } else if ((m = EXISTS.matcher(t)).matches()) {
        reqs.add(
            new Requirement(m.group(2), m.group(1).isEmpty() ? "exists" : "!exists", Set.of()));
      } else {
        throw new IllegalArgumentException(
            "invalid requirement '" + t + "' in label selector '" + text + "'");
      }
    }
    if (reqs.isEmpty()) {
      throw new IllegalArgumentException("empty label selector");
    }
    return new LabelSelector(text, List.copyOf(reqs));
  }

  public boolean matches(Map<String, String> labels) {
    Map<String, String> l = labels == null ? Map.of() : labels;
    for (Requirement r : requirements) {
      if (!r.matches(l)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public String toString() {
    return text;
  }

  // Splits on commas outside parentheses.
  private static List<String> terms(String text) {
    List<String> out = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '(') {
        depth++;
      } else if (c == ')') {
        depth--;
      } else if (c == ',' && depth == 0) {
        out.add(text.substring(start, i));
        start = i + 1;
      }
    }
    out.add(text.substring(start));
    return out;
  }
}
