package io.kubezen.watcher.store.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.kubezen.watcher.model.Json;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keeps {@code spec.details} under a size: when its JSON is larger than the cap, the entries with
 * the largest values are dropped first until it fits, and {@code truncated: true} is added. Pure.
 */
final class DetailsCap {
  static final String TRUNCATED = "truncated";

  private DetailsCap() {}

  /** {@code details} itself when it fits (or is null), else a smaller copy marked truncated. */
  static Map<String, Object> cap(Map<String, Object> details, int maxBytes) {
    if (details == null || size(details) <= maxBytes) {
      return details;
    }
    Map<String, Object> out = new LinkedHashMap<>(details);
    out.put(TRUNCATED, Boolean.TRUE);
    List<Map.Entry<String, Integer>> bySize = new ArrayList<>();
    for (Map.Entry<String, Object> e : details.entrySet()) {
      if (!TRUNCATED.equals(e.getKey())) {
        bySize.add(Map.entry(e.getKey(), size(e.getValue())));
      }
    }
    bySize.sort(Map.Entry.<String, Integer>comparingByValue(Comparator.reverseOrder()));
    for (Map.Entry<String, Integer> e : bySize) {
      if (size(out) <= maxBytes) {
        break;
      }
      out.remove(e.getKey());
    }
    return out;
  }

  /** UTF-8 bytes of the value's JSON. */
  static int size(Object value) {
    try {
      return Json.MAPPER.writeValueAsBytes(value).length;
    } catch (JsonProcessingException e) {
      // Not serializable: the create would fail anyway; count it as too large to keep.
      return Integer.MAX_VALUE;
    }
  }
}
