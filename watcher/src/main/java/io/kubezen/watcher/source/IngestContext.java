package io.kubezen.watcher.source;

import java.time.Instant;
import java.util.Map;

/**
 * What a normalizer may know besides the input itself.
 *
 * @param receivedAt when the input arrived: the detectedAt of findings whose input has no time
 * @param params request parameters (e.g. {@code node} for kube-bench), never null
 */
public record IngestContext(Instant receivedAt, Map<String, String> params) {
  public IngestContext {
    params = params == null ? Map.of() : Map.copyOf(params);
  }

  public static IngestContext at(Instant receivedAt) {
    return new IngestContext(receivedAt, Map.of());
  }

  public String param(String name) {
    String v = params.get(name);
    return v == null || v.isBlank() ? null : v;
  }
}
