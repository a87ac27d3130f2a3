package io.kubezen.watcher.source.kyverno;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.JsonFields;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceKind;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Policy reports: {@code wgpolicyk8s.io} ({@code v1alpha2}, {@code v1beta1}) {@code PolicyReport}
 * and {@code ClusterPolicyReport}, and {@code openreports.io/v1alpha1} {@code Report} and {@code
 * ClusterReport}, which share one result shape. Accepts one report, a JSON array of reports, or a
 * Kubernetes {@code List} of them.
 *
 * <p>Results {@code fail} (severity from the result, else medium), {@code error} (high) and {@code
 * warn} (low) become Findings; {@code pass} and {@code skip} do not. A result naming several
 * resources gives one Finding per resource, so each object gets its own Observation. See
 * docs/sources/kyverno.md.
 */
public final class KyvernoNormalizer implements Normalizer {
  public static final String SOURCE = "kyverno";
  public static final String EVENT_TYPE = "policy_violation";

  static final Set<String> GROUPS = Set.of("wgpolicyk8s.io", "openreports.io");
  static final Set<String> KINDS =
      Set.of("PolicyReport", "ClusterPolicyReport", "Report", "ClusterReport");

  /**
   * Result categories that mean "a benchmark or a recommended practice", not a security control.
   */
  static final Pattern COMPLIANCE_CATEGORY =
      Pattern.compile("(?i).*(compliance|best[ -]?practices?|benchmark|\\bcis\\b).*");

  /** 9999-12-31T23:59:59Z, the last second RFC 3339 can write. */
  private static final long MAX_EPOCH_SECOND = 253_402_300_799L;

  public KyvernoNormalizer() {}

  @Override
  public String source() {
    return SOURCE;
  }

  @Override
  public SourceKind kind() {
    return SourceKind.STATE;
  }

  @Override
  public List<Finding> normalize(JsonNode input, IngestContext context) {
    List<JsonNode> reports = JsonFields.items(input);
    for (JsonNode report : reports) {
      check(report);
    }
    List<Finding> out = new ArrayList<>();
    for (JsonNode report : reports) {
      addFindings(report, context, out);
    }
    return out;
  }

  private static void check(JsonNode report) {
    String kind = JsonFields.text(report, "kind");
    if (kind == null || !KINDS.contains(kind)) {
      throw new InvalidInputException(
          "kyverno reads PolicyReport, ClusterPolicyReport (wgpolicyk8s.io), Report and ClusterReport (openreports.io); got "
              + (kind == null ? "an object with no kind" : "kind " + kind));
    }
    String apiVersion = JsonFields.text(report, "apiVersion");
    if (apiVersion != null) {
      int slash = apiVersion.indexOf('/');
      String group = slash < 0 ? "" : apiVersion.substring(0, slash);
      if (!GROUPS.contains(group)) {
        throw new InvalidInputException(
            "kyverno reads wgpolicyk8s.io and openreports.io reports; got "
                + kind
                + " of apiVersion "
                + apiVersion);
      }
    }
    JsonNode results = JsonFields.at(report, "results");
    if (results != null && !results.isArray()) {
      throw new InvalidInputException("results of " + kind + " is not an array");
    }
  }

  private static void addFindings(JsonNode report, IngestContext context, List<Finding> out) {
    String reportName = JsonFields.text(report, "metadata", "name");
    String reportNamespace = JsonFields.text(report, "metadata", "namespace");
    String reportSource = JsonFields.text(report, "source");
    JsonNode scope = JsonFields.at(report, "scope");
    Instant reportTime = JsonFields.time(report, "metadata", "creationTimestamp");

    for (JsonNode result : JsonFields.array(report, "results")) {
      if (!result.isObject()) {
        continue;
      }
      String outcome = lower(JsonFields.text(result, "result"));
      Severity severity = severity(outcome, JsonFields.text(result, "severity"));
      if (severity == null) {
        continue;
      }
      String policy = JsonFields.text(result, "policy");
      String rule = JsonFields.text(result, "rule");
      String message = JsonFields.text(result, "message");
      String category = JsonFields.text(result, "category");
      Instant detectedAt = firstNonNull(timestamp(result), reportTime, context.receivedAt());

      Map<String, Object> details =
          Details.builder()
              .put("policy", policy)
              .put("rule", rule)
              .put("message", message)
              .put("result", outcome)
              .put("category", category)
              .put("severity", JsonFields.text(result, "severity"))
              .put("source", firstNonNull(JsonFields.text(result, "source"), reportSource))
              .put("scored", scored(result))
              .put("report", reportName)
              .build();

      List<JsonNode> subjects = new ArrayList<>();
      for (JsonNode r : JsonFields.array(result, "resources")) {
        if (r.isObject()) {
          subjects.add(r);
        }
      }
      if (subjects.isEmpty() && scope != null && scope.isObject()) {
        subjects.add(scope);
      }
      if (subjects.isEmpty()) {
        // Neither resources nor scope: the report itself stands for the subject in the identity.
        out.add(
            finding(
                severity,
                category,
                null,
                policy,
                rule,
                outcome,
                message,
                details,
                detectedAt,
                List.of(
                    nullToEmpty(policy),
                    nullToEmpty(rule),
                    "report",
                    nullToEmpty(reportNamespace),
                    nullToEmpty(reportName))));
        continue;
      }
      for (JsonNode subject : subjects) {
        ResourceRef resource =
            ResourceRef.of(
                JsonFields.text(subject, "apiVersion"),
                JsonFields.text(subject, "kind"),
                JsonFields.text(subject, "namespace"),
                JsonFields.text(subject, "name"));
        String uid = JsonFields.text(subject, "uid");
        List<String> identity =
            uid != null
                ? List.of(nullToEmpty(policy), nullToEmpty(rule), "uid", uid)
                : List.of(
                    nullToEmpty(policy),
                    nullToEmpty(rule),
                    "ref",
                    nullToEmpty(resource.kind()),
                    nullToEmpty(resource.namespace()),
                    nullToEmpty(resource.name()));
        out.add(
            finding(
                severity,
                category,
                resource,
                policy,
                rule,
                outcome,
                message,
                details,
                detectedAt,
                identity));
      }
    }
  }

  private static Finding finding(
      Severity severity,
      String category,
      ResourceRef resource,
      String policy,
      String rule,
      String outcome,
      String message,
      Map<String, Object> details,
      Instant detectedAt,
      List<String> identity) {
    return new Finding(
        SOURCE,
        category(category),
        severity,
        EVENT_TYPE,
        resource,
        title(policy, rule, outcome, resource, message),
        details,
        detectedAt,
        identity);
  }

  /**
   * fail: the result's own severity, else medium; error: high; warn: low; pass, skip and anything
   * else: null (no Finding).
   */
  static Severity severity(String outcome, String resultSeverity) {
    if (outcome == null) {
      return null;
    }
    return switch (outcome) {
      case "fail" -> Severity.parse(resultSeverity).orElse(Severity.MEDIUM);
      case "error" -> Severity.HIGH;
      case "warn" -> Severity.LOW;
      default -> null;
    };
  }

  /**
   * compliance when the result's category names a benchmark, a compliance set or best practices;
   * else security.
   */
  static Category category(String resultCategory) {
    return resultCategory != null && COMPLIANCE_CATEGORY.matcher(resultCategory).matches()
        ? Category.COMPLIANCE
        : Category.SECURITY;
  }

  private static String title(
      String policy, String rule, String outcome, ResourceRef resource, String message) {
    StringBuilder t = new StringBuilder();
    t.append(policy == null ? "policy" : policy);
    if (rule != null) {
      t.append('/').append(rule);
    }
    t.append(' ').append(outcome);
    if (resource != null) {
      t.append(" on ").append(nullToEmpty(resource.kind()));
      String where =
          resource.namespace() == null
              ? nullToEmpty(resource.name())
              : resource.namespace() + "/" + nullToEmpty(resource.name());
      if (!where.isEmpty()) {
        t.append(' ').append(where);
      }
    }
    if (message != null) {
      t.append(": ").append(message);
    }
    return t.toString();
  }

  /**
   * The result's {@code timestamp}: a protobuf Timestamp {seconds, nanos}, or an RFC 3339 string.
   */
  static Instant timestamp(JsonNode result) {
    JsonNode ts = JsonFields.at(result, "timestamp");
    if (ts == null) {
      return null;
    }
    if (ts.isObject()) {
      JsonNode seconds = ts.get("seconds");
      if (seconds == null
          || !seconds.canConvertToLong()
          || seconds.asLong() <= 0
          || seconds.asLong() > MAX_EPOCH_SECOND) {
        return null;
      }
      JsonNode nanos = ts.get("nanos");
      long n = nanos != null && nanos.canConvertToLong() ? nanos.asLong() : 0;
      return Instant.ofEpochSecond(seconds.asLong(), n >= 0 && n < 1_000_000_000L ? n : 0);
    }
    return JsonFields.time(result, "timestamp");
  }

  private static Boolean scored(JsonNode result) {
    JsonNode s = JsonFields.at(result, "scored");
    return s != null && s.isBoolean() ? s.booleanValue() : null;
  }

  private static String lower(String s) {
    return s == null ? null : s.trim().toLowerCase(Locale.ROOT);
  }

  @SafeVarargs
  private static <T> T firstNonNull(T... values) {
    for (T v : values) {
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
