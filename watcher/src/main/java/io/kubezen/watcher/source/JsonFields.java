package io.kubezen.watcher.source;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/** Null-safe reading of raw inputs, shared by every normalizer. */
public final class JsonFields {
  private JsonFields() {}

  /** The scalar at {@code path} as text; null when missing, JSON null, blank, or not a scalar. */
  public static String text(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    if (n == null || !n.isValueNode() || n.isNull()) {
      return null;
    }
    String s = n.asText();
    return s.isBlank() ? null : s;
  }

  /** The node at {@code path}; null when any step is missing or not an object. */
  public static JsonNode at(JsonNode node, String... path) {
    JsonNode n = node;
    for (String p : path) {
      if (n == null || !n.isObject()) {
        return null;
      }
      n = n.get(p);
    }
    return n == null || n.isMissingNode() || n.isNull() ? null : n;
  }

  /** The elements of the array at {@code path}; empty when missing or not an array. */
  public static List<JsonNode> array(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    if (n == null || !n.isArray()) {
      return List.of();
    }
    List<JsonNode> out = new ArrayList<>(n.size());
    n.forEach(out::add);
    return out;
  }

  /** A boolean at {@code path}: true for JSON true or the string "true". */
  public static boolean bool(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    return n != null && (n.isBoolean() ? n.booleanValue() : "true".equalsIgnoreCase(n.asText()));
  }

  /**
   * An RFC 3339 time (any fraction of a second, {@code Z} or an offset); null when missing,
   * unparsable, or outside the sane range ({@link io.kubezen.watcher.model.Times}).
   */
  public static Instant time(JsonNode node, String... path) {
    String s = text(node, path);
    if (s == null) {
      return null;
    }
    try {
      return io.kubezen.watcher.model.Times.sane(OffsetDateTime.parse(s).toInstant());
    } catch (java.time.DateTimeException e) {
      try {
        return io.kubezen.watcher.model.Times.sane(Instant.parse(s));
      } catch (java.time.DateTimeException e2) {
        return null;
      }
    }
  }

  /**
   * The objects an input holds: the input itself when it is an object of its own, the elements of a
   * JSON array, or the {@code items} of a Kubernetes {@code List}/{@code *List} object. Nested
   * arrays and lists are flattened one level. Non-object elements are rejected.
   *
   * @throws InvalidInputException when the input or an element is not an object
   */
  public static List<JsonNode> items(JsonNode input) {
    List<JsonNode> out = new ArrayList<>();
    collect(input, out, 0);
    return out;
  }

  private static void collect(JsonNode n, List<JsonNode> out, int depth) {
    if (n == null || n.isNull()) {
      throw new InvalidInputException("expected a JSON object or an array of objects, got null");
    }
    if (n.isArray()) {
      if (depth > 1) {
        throw new InvalidInputException("arrays nested deeper than one level are not accepted");
      }
      for (JsonNode e : n) {
        collect(e, out, depth + 1);
      }
      return;
    }
    if (!n.isObject()) {
      throw new InvalidInputException(
          "expected a JSON object or an array of objects, got "
              + n.getNodeType().name().toLowerCase());
    }
    String kind = text(n, "kind");
    JsonNode items = n.get("items");
    if (kind != null && kind.endsWith("List") && items != null && items.isArray() && depth <= 1) {
      for (JsonNode e : items) {
        collect(e, out, depth + 1);
      }
      return;
    }
    out.add(n);
  }
}
