package io.kubezen.watcher.store.postgres;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.ObservationKey;
import java.util.Iterator;
import java.util.Map;

/** Text and JSON as PostgreSQL accepts them: U+0000 replaced (every field is untrusted input). */
final class PostgresText {
  private PostgresText() {}

  /** PostgreSQL text cannot hold U+0000: it becomes U+FFFD (every field is untrusted input). */
  static String text(String s) {
    return s == null || s.indexOf('\0') < 0 ? s : s.replace('\0', '\uFFFD');
  }

  static ObservationKey clean(ObservationKey k) {
    return new ObservationKey(text(k.namespace()), text(k.name()));
  }

  /**
   * JSON text jsonb accepts: written directly, and only when it holds an escaped U+0000 (rare: only
   * hostile input) again from a tree with it replaced.
   */
  static String jsonb(Object value) throws JsonProcessingException {
    String json = Json.MAPPER.writeValueAsString(value);
    if (!json.contains("\\u0000")) {
      return json;
    }
    return Json.MAPPER.writeValueAsString(withoutNul(Json.MAPPER.valueToTree(value)));
  }

  /** The same tree with U+0000 replaced in every string and field name (jsonb refuses it). */
  static JsonNode withoutNul(JsonNode node) {
    if (node.isTextual()) {
      String t = node.textValue();
      return t.indexOf('\0') < 0 ? node : TextNode.valueOf(text(t));
    }
    if (node.isObject()) {
      ObjectNode out = Json.MAPPER.createObjectNode();
      Iterator<Map.Entry<String, JsonNode>> fields = node.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> f = fields.next();
        out.set(text(f.getKey()), withoutNul(f.getValue()));
      }
      return out;
    }
    if (node.isArray()) {
      ArrayNode out = Json.MAPPER.createArrayNode();
      node.forEach(child -> out.add(withoutNul(child)));
      return out;
    }
    return node;
  }
}
