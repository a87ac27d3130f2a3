package io.kubezen.watcher.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the small {@code details} map of a Finding. Keeps it small whatever the input: null and
 * blank values are skipped, strings are cut at {@link #MAX_STRING} characters, lists at {@link
 * #MAX_LIST} elements, and at most {@link #MAX_ENTRIES} keys are kept. Values are strings, numbers,
 * booleans, or lists of those.
 */
public final class Details {
  public static final int MAX_STRING = 1024;
  public static final int MAX_LIST = 20;
  public static final int MAX_ENTRIES = 24;

  private final Map<String, Object> map = new LinkedHashMap<>();

  private Details() {}

  public static Details builder() {
    return new Details();
  }

  public Details put(String key, Object value) {
    if (map.size() >= MAX_ENTRIES || value == null) {
      return this;
    }
    Object v = clean(value);
    if (v != null) {
      map.put(key, v);
    }
    return this;
  }

  public Map<String, Object> build() {
    return Collections.unmodifiableMap(new LinkedHashMap<>(map));
  }

  private static Object clean(Object value) {
    if (value instanceof String s) {
      if (s.isBlank()) {
        return null;
      }
      return s.length() <= MAX_STRING ? s : s.substring(0, MAX_STRING - 1) + "…";
    }
    if (value instanceof Number || value instanceof Boolean) {
      return value;
    }
    if (value instanceof Iterable<?> it) {
      List<Object> out = new ArrayList<>();
      for (Object o : it) {
        if (out.size() >= MAX_LIST) {
          break;
        }
        Object c = o instanceof Iterable<?> ? null : clean(o);
        if (c != null) {
          out.add(c);
        }
      }
      return out.isEmpty() ? null : List.copyOf(out);
    }
    return clean(String.valueOf(value));
  }
}
