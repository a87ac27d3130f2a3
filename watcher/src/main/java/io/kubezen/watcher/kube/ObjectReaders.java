package io.kubezen.watcher.kube;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.InvalidInputException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The {@link WatchedSource.InputReader}s of the built-in sources. Pure. */
public final class ObjectReaders {
  /** Labels, then annotations, that may name the node a kube-bench ConfigMap comes from, in order. */
  public static final List<String> NODE_KEYS = List.of("node", "kubernetes.io/hostname");

  private ObjectReaders() {}

  /** The object itself, as JSON. */
  public static WatchedSource.InputReader asIs() {
    return object -> new WatchedSource.Input(Json.MAPPER.valueToTree(object), Map.of());
  }

  /**
   * The JSON held in a ConfigMap's {@code data[key]}; null when the ConfigMap has no such key (it
   * holds no findings).
   */
  public static WatchedSource.InputReader configMapKey(String key,
      Function<GenericKubernetesResource, Map<String, String>> params) {
    return object -> {
      Object data = object.getAdditionalProperties().get("data");
      if (!(data instanceof Map<?, ?> map) || !(map.get(key) instanceof String text) || text.isBlank()) {
        return null;
      }
      JsonNode json;
      try {
        json = Json.MAPPER.readTree(text);
      } catch (JsonProcessingException e) {
        throw new InvalidInputException("ConfigMap " + name(object) + ": data[" + key + "] is not JSON: "
            + e.getOriginalMessage());
      }
      return new WatchedSource.Input(json, params == null ? Map.of() : params.apply(object));
    };
  }

  /**
   * kube-bench's node: the first of the labels {@code node}, {@code kubernetes.io/hostname}, then the
   * annotations of the same names, given to the normalizer as its {@code node} parameter (a
   * {@code node_name} in the JSON itself wins over it).
   */
  public static Map<String, String> kubeBenchNode(GenericKubernetesResource configMap) {
    String node = firstOf(configMap.getMetadata().getLabels());
    if (node == null) {
      node = firstOf(configMap.getMetadata().getAnnotations());
    }
    Map<String, String> params = new LinkedHashMap<>();
    if (node != null) {
      params.put(io.kubezen.watcher.source.kubebench.KubeBenchNormalizer.NODE_PARAM, node);
    }
    return params;
  }

  private static String firstOf(Map<String, String> m) {
    if (m == null) {
      return null;
    }
    for (String k : NODE_KEYS) {
      String v = m.get(k);
      if (v != null && !v.isBlank()) {
        return v;
      }
    }
    return null;
  }

  static String name(GenericKubernetesResource o) {
    String ns = o.getMetadata().getNamespace();
    return (ns == null ? "" : ns + "/") + o.getMetadata().getName();
  }
}
