package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonValue;
import io.fabric8.crd.generator.annotation.PrinterColumn;
import java.util.List;
import java.util.Map;

/**
 * What an Ingester declares. Every field here is read by the program; the CRD schema is generated
 * from these types, so nothing the code reads can be pruned by the API server.
 *
 * @param source the source name of its Observations (a DNS-1123 label, not a built-in source name)
 * @param type informer or webhook
 * @param informer for {@code type: informer}: what to watch
 * @param webhook for {@code type: webhook}: where to listen and who may send
 * @param mapping how an input object becomes findings
 * @param filter this source's own filter, same keys as the global filter file
 * @param dedup this source's own dedup window
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record IngesterSpec(
    @PrinterColumn(name = "Source") String source,
    @PrinterColumn(name = "Type") Type type,
    Informer informer,
    Webhook webhook,
    Mapping mapping,
    Filter filter,
    Dedup dedup) {

  public enum Type {
    INFORMER,
    WEBHOOK;

    @JsonValue
    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    @JsonCreator
    public static Type fromWire(String text) {
      for (Type t : values()) {
        if (t.wire().equalsIgnoreCase(text)) {
          return t;
        }
      }
      throw new IllegalArgumentException("type must be informer or webhook: " + text);
    }
  }

  /** A resource to watch: {@code gvr}, optionally only in {@code namespaces}, selected by label and field selectors. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Informer(Gvr gvr, List<String> namespaces, String labelSelector, String fieldSelector) {}

  /** Group (empty for the core group), version and resource (plural). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Gvr(String group, String version, String resource) {}

  /** Served at {@code /ingest/<path>}; {@code auth} says who may send. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Webhook(String path, Auth auth) {}

  /**
   * {@code type}: none, bearer or basic. For bearer the Secret's key (default {@code token}) holds
   * the token; for basic the keys {@code username} and {@code password}. The Secret is in the
   * Ingester's namespace.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Auth(AuthType type, SecretRef secretRef) {}

  public enum AuthType {
    NONE,
    BEARER,
    BASIC;

    @JsonValue
    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    @JsonCreator
    public static AuthType fromWire(String text) {
      for (AuthType t : values()) {
        if (t.wire().equalsIgnoreCase(text)) {
          return t;
        }
      }
      throw new IllegalArgumentException("auth type must be none, bearer or basic: " + text);
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record SecretRef(String name, String key) {}

  /**
   * Where the parts of a finding are in the input. Each value is an expression in the one mapping
   * syntax documented in docs/ingesters.md. {@code forEach} splits one input into many findings
   * (e.g. {@code report.results}); {@code severityMap} maps the input's own severity words to
   * zen-watcher's; {@code identity} lists what makes two inputs the same finding (default: every
   * mapped field).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Mapping(
      String forEach,
      String severity,
      Map<String, String> severityMap,
      String title,
      String eventType,
      String category,
      ResourceMapping resource,
      String timestamp,
      Map<String, String> details,
      List<String> identity) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ResourceMapping(String apiVersion, String kind, String name, String namespace) {}

  /** The same rules as the global filter file's per-source rules. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Filter(
      String minSeverity,
      List<String> includeNamespaces,
      List<String> excludeNamespaces,
      List<String> includeKinds,
      List<String> excludeKinds,
      List<String> includeCategories,
      List<String> excludeCategories,
      List<String> includeEventTypes,
      List<String> excludeEventTypes,
      List<String> includeRules,
      List<String> excludeRules,
      String expression) {}

  /** {@code window}: a duration such as {@code 30s}, {@code 5m}, {@code 1h}. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Dedup(String window) {}
}
