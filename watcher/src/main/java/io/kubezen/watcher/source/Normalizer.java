package io.kubezen.watcher.source;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.model.Finding;
import java.util.List;

/**
 * Turns one raw input of a source into zero or more Findings. A pure function: no client calls, no
 * clock (the time of receipt comes in the {@link IngestContext}), no shared mutable state, safe to
 * call from any thread.
 */
public interface Normalizer {

  /** The source name, used in URLs, Observation names and metric labels (e.g. {@code falco}). */
  String source();

  /**
   * Event-like sources (alerts, audit events) report things that happen; a dedup time bucket joins
   * their identity. State-like sources (reports) describe what is; their findings have no time in
   * their identity.
   */
  SourceKind kind();

  /**
   * @throws InvalidInputException when the input is not of the shape this source reads (HTTP 422)
   */
  List<Finding> normalize(JsonNode input, IngestContext context);
}
