package io.kubezen.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
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
@JsonClassDescription(
    "What an Ingester declares: where its inputs come from (a webhook or an informer), how an input"
        + " becomes findings (mapping), and its own filter and dedup window.")
@JsonInclude(JsonInclude.Include.NON_NULL)
public record IngesterSpec(
    @JsonPropertyDescription(
            "The source name of the Observations it creates (their spec.source): a DNS-1123 label of"
                + " at most 40 characters, not the name of a built-in source (falco, k8s-audit, trivy, kyverno, kube-bench,"
                + " checkov, k8s-events).")
        @PrinterColumn(name = "Source")
        String source,
    @JsonPropertyDescription(
            "Where inputs come from: webhook (POSTed to /ingest/<webhook.path>, served by every"
                + " replica) or informer (every object of informer.gvr, watched by the leader).")
        @PrinterColumn(name = "Type")
        Type type,
    @JsonPropertyDescription(
            "For type informer: the resource to watch. Each object is one input; on every list the"
                + " findings of each object are reconciled, and a finding gone from its object marks its Observation"
                + " resolved.")
        Informer informer,
    @JsonPropertyDescription("For type webhook: the path it is served at and who may send to it.")
        Webhook webhook,
    @JsonPropertyDescription(
            "How an input becomes findings: a CEL expression per finding field over object (the"
                + " input) and, with forEach, item. An expression that fails because a key is missing leaves the field to its"
                + " default. See docs/ingesters.md.")
        Mapping mapping,
    @JsonPropertyDescription(
            "This Ingester's own filter, applied to its findings in addition to the global filter:"
                + " the keys of a rules block of the filter file (docs/filter.md). Absent: only the global filter applies.")
        Filter filter,
    @JsonPropertyDescription(
            "This Ingester's own dedup window (webhooks only; informer findings have no time in their"
                + " identity). Absent: DEDUP_WINDOW_SECONDS.")
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

  /**
   * A resource to watch: {@code gvr}, optionally only in {@code namespaces}, selected by label and
   * field selectors.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Informer(
      @JsonPropertyDescription(
              "The resource to watch, by group, version and resource (plural name). Its kind and"
                  + " scope are read from its CustomResourceDefinition; the Ingester is Ready=False ResourceNotFound until the"
                  + " resource is served.")
          Gvr gvr,
      @JsonPropertyDescription(
              "Watch only these namespaces (one informer each). Absent or empty: every namespace."
                  + " Ignored for cluster-scoped resources.")
          List<String> namespaces,
      @JsonPropertyDescription(
              "Watch only objects with these labels: a Kubernetes label selector such as"
                  + " app=scanner,tier in (a,b). Absent: every object.")
          String labelSelector,
      @JsonPropertyDescription(
              "Watch only objects matching this field selector: key=value, key==value or key!=value,"
                  + " comma-separated (the resource must support the fields). Absent: every object.")
          String fieldSelector) {}

  /** Group (empty for the core group), version and resource (plural). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Gvr(
      @JsonPropertyDescription(
              "The API group, for example scans.example.com or apps; empty for the core group"
                  + " (pods, configmaps, ...).")
          String group,
      @JsonPropertyDescription("The API version within the group, for example v1 or v1alpha1.")
          String version,
      @JsonPropertyDescription(
              "The resource's plural name as in the API path, for example scanreports or configmaps"
                  + " (not the kind).")
          String resource) {}

  /** Served at {@code /ingest/<path>}; {@code auth} says who may send. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Webhook(
      @JsonPropertyDescription(
              "Served at POST /ingest/<path>: one path segment of a-z, 0-9, '-', '_' and '.', at most"
                  + " 63 characters, not a built-in source name. It takes precedence over the generic source of the same"
                  + " name. One path belongs to one Ingester: a second one claiming it is Ready=False PathConflict.")
          String path,
      @JsonPropertyDescription("Who may send. Absent: type none.") Auth auth) {}

  /**
   * {@code type}: none, bearer or basic. For bearer the Secret's key (default {@code token}) holds
   * the token; for basic the keys {@code username} and {@code password}. The Secret is in the
   * Ingester's namespace.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Auth(
      @JsonPropertyDescription(
              "none (default): anyone the global guard lets through (WEBHOOK_ALLOWED_CIDRS,"
                  + " WEBHOOK_AUTH_TOKEN, rate limit); bearer: Authorization: Bearer <token>; basic: Authorization: Basic with"
                  + " a user name and password. bearer and basic replace the global token for this path; a wrong or missing"
                  + " credential is answered 401.")
          AuthType type,
      @JsonPropertyDescription(
              "For bearer and basic: the Secret in the Ingester's namespace holding the credentials,"
                  + " re-read at every resync (a rotated Secret is picked up). A missing Secret or key refuses every request"
                  + " and makes the Ingester Ready=False CredentialsUnavailable.")
          SecretRef secretRef) {}

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
  public record SecretRef(
      @JsonPropertyDescription("The Secret's name, in the Ingester's namespace.") String name,
      @JsonPropertyDescription(
              "For bearer: the key holding the token (default token). For basic the keys are always"
                  + " username and password, and this is ignored.")
          String key) {}

  /**
   * Where the parts of a finding are in the input. Each value is an expression in the one mapping
   * syntax documented in docs/ingesters.md. {@code forEach} splits one input into many findings
   * (e.g. {@code report.results}); {@code severityMap} maps the input's own severity words to
   * zen-watcher's; {@code identity} lists what makes two inputs the same finding (default: every
   * mapped field).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Mapping(
      @JsonPropertyDescription(
              "CEL expression giving a list: one finding per element, available as item in the other"
                  + " expressions (for example object.report.results). A missing key gives no findings; a value that is not"
                  + " a list makes the input invalid (HTTP 422). Absent: one finding per input.")
          String forEach,
      @JsonPropertyDescription(
              "CEL expression giving the input's severity as text; looked up in severityMap"
                  + " (case-insensitive), else read as a zen-watcher severity (critical, high, medium, low, info), else"
                  + " medium.")
          String severity,
      @JsonPropertyDescription(
              "The input's own severity words (keys, case-insensitive) mapped to zen-watcher"
                  + " severities (values: critical, high, medium, low or info), for example SEV1: critical.")
          Map<String, String> severityMap,
      @JsonPropertyDescription(
              "CEL expression giving the finding's one-line title (spec.title). Absent or empty: the"
                  + " eventType.")
          String title,
      @JsonPropertyDescription(
              "CEL expression giving the finding's eventType; must match ^[a-z0-9_]+$ (at most 63"
                  + " characters), else custom_event. A constant is a quoted string: \"'runtime_threat'\".")
          String eventType,
      @JsonPropertyDescription(
              "CEL expression giving the category: security, compliance, performance, operations or"
                  + " cost; anything else (or absent) is security.")
          String category,
      @JsonPropertyDescription(
              "CEL expressions giving the object the finding is about (spec.resource). No resource"
                  + " when all of them are empty.")
          ResourceMapping resource,
      @JsonPropertyDescription(
              "CEL expression giving when the finding was detected (spec.detectedAt): an RFC 3339"
                  + " string, or epoch seconds as a number or numeric string. Absent or unreadable: the time of receipt.")
          String timestamp,
      @JsonPropertyDescription(
              "spec.details of the finding: each key a details key, each value a CEL expression giving"
                  + " a scalar, a list or a map (maps are kept as JSON text). Kept small: 24 keys, strings of 1 KiB, lists of"
                  + " 20 items.")
          Map<String, String> details,
      @JsonPropertyDescription(
              "CEL expressions whose values, as text, make two inputs the same finding (one"
                  + " Observation). Absent: eventType, the resource's apiVersion, kind, namespace and name, title, severity,"
                  + " category and every details key and value; never the timestamp.")
          List<String> identity) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ResourceMapping(
      @JsonPropertyDescription(
              "CEL expression giving the object's API version (spec.resource.apiVersion), for example"
                  + " \"'v1'\".")
          String apiVersion,
      @JsonPropertyDescription(
              "CEL expression giving the object's kind (spec.resource.kind), for example"
                  + " object.spec.target.kind.")
          String kind,
      @JsonPropertyDescription("CEL expression giving the object's name (spec.resource.name).")
          String name,
      @JsonPropertyDescription(
              "CEL expression giving the object's namespace (spec.resource.namespace); empty for a"
                  + " cluster-scoped object.")
          String namespace) {}

  /** The same rules as the global filter file's per-source rules. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Filter(
      @JsonPropertyDescription(
              "Drop findings less serious than this: critical, high, medium, low or info"
                  + " (case-insensitive).")
          String minSeverity,
      @JsonPropertyDescription(
              "Keep only findings about objects in these namespaces (exact names). Empty: any."
                  + " A finding without a namespace is not dropped by it.")
          List<String> includeNamespaces,
      @JsonPropertyDescription(
              "Drop findings about objects in these namespaces (exact names; \"\" matches findings"
                  + " without a namespace). Exclude wins over include.")
          List<String> excludeNamespaces,
      @JsonPropertyDescription(
              "Keep only findings about objects of these kinds (Pod, Deployment, ...; exact,"
                  + " case-sensitive). Empty: any. A finding without a resource is not dropped by it.")
          List<String> includeKinds,
      @JsonPropertyDescription(
              "Drop findings about objects of these kinds (exact; \"\" matches findings without a"
                  + " kind). Exclude wins over include.")
          List<String> excludeKinds,
      @JsonPropertyDescription(
              "Keep only findings of these categories (security, compliance, performance, operations,"
                  + " cost). Empty: any.")
          List<String> includeCategories,
      @JsonPropertyDescription(
              "Drop findings of these categories (security, compliance, performance, operations,"
                  + " cost). Exclude wins over include.")
          List<String> excludeCategories,
      @JsonPropertyDescription(
              "Keep only findings of these event types (^[a-z0-9_]+$, for example runtime_threat)."
                  + " Empty: any.")
          List<String> includeEventTypes,
      @JsonPropertyDescription(
              "Drop findings of these event types (^[a-z0-9_]+$). Exclude wins over include.")
          List<String> excludeEventTypes,
      @JsonPropertyDescription(
              "Keep only findings whose details.rule, details.policy or details.check_id is listed"
                  + " (exact). Empty: any. A finding without a rule is not dropped by it.")
          List<String> includeRules,
      @JsonPropertyDescription(
              "Drop findings whose details.rule, details.policy or details.check_id is listed (exact;"
                  + " \"\" matches findings without one). Exclude wins over include.")
          List<String> excludeRules,
      @JsonPropertyDescription(
              "A CEL expression over the finding (severity, category, eventType, source, resource,"
                  + " details, ...; see docs/filter.md): the finding is kept when it is true. One that fails to evaluate keeps"
                  + " the finding and counts zen_watcher_filter_expression_errors_total.")
          String expression) {}

  /** {@code window}: a duration such as {@code 30s}, {@code 5m}, {@code 1h}. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Dedup(
      @JsonPropertyDescription(
              "Reports of the same finding within this window are one Observation: a duration"
                  + " made of ms, s, m and h parts, such as 1500ms, 30s, 5m or 1h30m, from 1s to 24h.")
          String window) {}
}
