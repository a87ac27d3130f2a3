package io.kubezen.watcher.source;

import java.util.Locale;

/** How a webhook body is encoded, from its Content-Type. */
public enum BodyFormat {
  JSON,
  /** Newline-delimited JSON: one value per line (audit log files). */
  NDJSON,
  /** YAML, one or more documents (what {@code kubectl get -o yaml} prints). */
  YAML;

  /**
   * The format a Content-Type names, or null when it names none this program reads. A missing
   * Content-Type is read as JSON.
   */
  public static BodyFormat of(String contentType) {
    if (contentType == null || contentType.isBlank()) {
      return JSON;
    }
    String type = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    return switch (type) {
      case "application/json", "text/json" -> JSON;
      case "application/x-ndjson",
          "application/ndjson",
          "application/jsonl",
          "application/x-jsonlines",
          "application/jsonlines" ->
          NDJSON;
      case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml" -> YAML;
      default -> type.startsWith("application/") && type.endsWith("+json") ? JSON : null;
    };
  }

  public String mediaTypes() {
    return switch (this) {
      case JSON -> "application/json";
      case NDJSON -> "application/x-ndjson";
      case YAML -> "application/yaml";
    };
  }
}
