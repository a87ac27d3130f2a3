package io.kubezen.watcher.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.model.Json;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Reads one watched Kubernetes object, given as its JSON (what the API server serves), into the
 * input of a source's {@link Normalizer}. A pure function: the watch engine ({@code kube/}) does
 * the client I/O and calls it with each object it sees.
 */
@FunctionalInterface
public interface ObjectReader {

  /**
   * The normalizer's input for {@code object}, or null when the object holds nothing to normalize
   * (for a state-like source: no findings, so its Observations are resolved).
   *
   * @throws InvalidInputException when the object is unreadable
   */
  Input read(JsonNode object);

  /** What a normalizer is given for one watched object: the JSON, and its parameters. */
  record Input(JsonNode json, Map<String, String> params) {
    public Input {
      Objects.requireNonNull(json, "json");
      params = params == null ? Map.of() : Map.copyOf(params);
    }
  }

  /** The object itself (reports, Events). */
  static ObjectReader asIs() {
    return object -> new Input(object, Map.of());
  }

  /**
   * The JSON held in a ConfigMap's {@code data[key]} (tools that write their output to a
   * ConfigMap); null when the ConfigMap has no such key (it holds no findings).
   *
   * @param params the normalizer's parameters, read from the ConfigMap's JSON; null for none
   */
  static ObjectReader configMapKey(String key, Function<JsonNode, Map<String, String>> params) {
    Objects.requireNonNull(key, "key");
    return object -> {
      JsonNode text = object.path("data").path(key);
      if (!text.isTextual() || text.asText().isBlank()) {
        return null;
      }
      JsonNode json;
      try {
        json = Json.MAPPER.readTree(text.asText());
      } catch (JsonProcessingException e) {
        throw new InvalidInputException(
            "ConfigMap "
                + name(object)
                + ": data["
                + key
                + "] is not JSON: "
                + e.getOriginalMessage());
      }
      return new Input(json, params == null ? Map.of() : params.apply(object));
    };
  }

  /** {@code namespace/name} of an object (its name alone when cluster-scoped), for messages. */
  static String name(JsonNode object) {
    JsonNode meta = object.path("metadata");
    String ns = meta.path("namespace").asText("");
    return (ns.isEmpty() ? "" : ns + "/") + meta.path("name").asText("");
  }
}
