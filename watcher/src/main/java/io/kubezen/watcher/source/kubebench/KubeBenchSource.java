package io.kubezen.watcher.source.kubebench;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.ObjectReader;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.WatchedResource;
import java.util.List;
import java.util.Map;

/**
 * kube-bench CIS results (state-like): ConfigMaps labelled {@code app=kube-bench} whose key {@code
 * results.json} holds kube-bench's JSON output, the node read from the ConfigMap (see {@link
 * #node}); or POSTed as JSON or YAML ({@code ?node=} naming the node).
 */
public final class KubeBenchSource {
  public static final String LABEL_SELECTOR = "app=kube-bench";
  public static final String RESULTS_KEY = "results.json";

  /**
   * Labels, then annotations, that may name the node a kube-bench ConfigMap comes from, in order.
   */
  public static final List<String> NODE_KEYS = List.of("node", "kubernetes.io/hostname");

  public static final SourceDescriptor DESCRIPTOR =
      SourceDescriptor.of(new KubeBenchNormalizer())
          .bodyFormats(BodyFormat.JSON, BodyFormat.YAML)
          .watches(
              WatchedResource.configMaps(
                  LABEL_SELECTOR, ObjectReader.configMapKey(RESULTS_KEY, KubeBenchSource::node)));

  private KubeBenchSource() {}

  /**
   * kube-bench's node: the first of the labels {@code node}, {@code kubernetes.io/hostname}, then
   * the annotations of the same names, given to the normalizer as its {@code node} parameter (a
   * {@code node_name} in the JSON itself wins over it). Empty when none is set.
   */
  public static Map<String, String> node(JsonNode configMap) {
    JsonNode meta = configMap.path("metadata");
    String node = firstOf(meta.path("labels"));
    if (node == null) {
      node = firstOf(meta.path("annotations"));
    }
    return node == null ? Map.of() : Map.of(KubeBenchNormalizer.NODE_PARAM, node);
  }

  private static String firstOf(JsonNode m) {
    for (String k : NODE_KEYS) {
      JsonNode v = m.path(k);
      if (v.isTextual() && !v.asText().isBlank()) {
        return v.asText();
      }
    }
    return null;
  }
}
