package io.kubezen.watcher.source.checkov;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.JsonFields;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code checkov -o json} output: one report object ({@code check_type}, {@code results}, {@code
 * summary}) or a list of them, one per framework. One Finding per entry of {@code
 * results.failed_checks}; passed and skipped checks give none. See docs/sources/checkov.md.
 */
public final class CheckovNormalizer implements Normalizer {
  public static final String SOURCE = "checkov";
  public static final String EVENT_TYPE = "static_analysis";

  /**
   * Frameworks whose resource strings name Kubernetes objects ({@code Kind.namespace.name}):
   * manifests as they are, rendered Helm charts, Kustomize builds.
   */
  static final Set<String> KUBERNETES_FRAMEWORKS = Set.of("kubernetes", "helm", "kustomize");

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
    List<Finding> out = new ArrayList<>();
    for (JsonNode report : JsonFields.items(input)) {
      JsonNode results = JsonFields.at(report, "results");
      if (results == null) {
        if (isSummaryOnly(report)) {
          continue; // checkov prints only the summary when it evaluated no check at all
        }
        throw new InvalidInputException(
            "expected checkov -o json output (an object with check_type and results,"
                + " or a list of them), found an object with fields "
                + fieldNames(report));
      }
      if (!results.isObject()) {
        throw new InvalidInputException(
            "checkov report: results must be an object, found "
                + results.getNodeType().name().toLowerCase(Locale.ROOT));
      }
      String checkType = JsonFields.text(report, "check_type");
      JsonNode failed = results.get("failed_checks");
      if (failed != null && !failed.isNull() && !failed.isArray()) {
        throw new InvalidInputException("checkov report: results.failed_checks must be an array");
      }
      for (JsonNode check : JsonFields.array(results, "failed_checks")) {
        if (!check.isObject()) {
          throw new InvalidInputException(
              "checkov report: every failed_checks element must be an object, found "
                  + check.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        out.add(finding(checkType, check, context));
      }
    }
    return out;
  }

  private static Finding finding(String checkType, JsonNode check, IngestContext context) {
    String checkId = JsonFields.text(check, "check_id");
    String checkName = JsonFields.text(check, "check_name");
    String resource = JsonFields.text(check, "resource");
    String filePath = JsonFields.text(check, "file_path");
    String rawSeverity = JsonFields.text(check, "severity");
    boolean kubernetes =
        checkType != null && KUBERNETES_FRAMEWORKS.contains(checkType.toLowerCase(Locale.ROOT));

    Details details =
        Details.builder()
            .put("check_id", checkId)
            .put("bc_check_id", JsonFields.text(check, "bc_check_id"))
            .put("check_name", checkName)
            .put("check_type", checkType)
            .put("resource", resource)
            .put("file_path", filePath)
            .put("file_line_range", lineRange(check))
            .put("guideline", JsonFields.text(check, "guideline"))
            .put("severity", rawSeverity);

    List<String> identity =
        new ArrayList<>(
            List.of(nullToEmpty(checkType), nullToEmpty(checkId), nullToEmpty(resource)));
    if (!"kubernetes".equalsIgnoreCase(nullToEmpty(checkType))) {
      identity.add(nullToEmpty(filePath));
    }

    return new Finding(
        SOURCE,
        Category.SECURITY,
        severity(rawSeverity),
        EVENT_TYPE,
        kubernetes ? ResourceStrings.parse(resource) : null,
        title(checkId, checkName, resource),
        details.build(),
        context.receivedAt(),
        identity);
  }

  /**
   * checkov severities: CRITICAL, HIGH (IMPORTANT), MEDIUM (MODERATE), LOW, INFO, NONE; absent:
   * medium.
   */
  static Severity severity(String raw) {
    if (raw == null) {
      return Severity.MEDIUM;
    }
    return switch (raw.trim().toUpperCase(Locale.ROOT)) {
      case "CRITICAL" -> Severity.CRITICAL;
      case "HIGH", "IMPORTANT" -> Severity.HIGH;
      case "MEDIUM", "MODERATE" -> Severity.MEDIUM;
      case "LOW" -> Severity.LOW;
      case "INFO", "NONE" -> Severity.INFO;
      default -> Severity.MEDIUM;
    };
  }

  private static String title(String checkId, String checkName, String resource) {
    StringBuilder sb = new StringBuilder();
    if (checkId != null) {
      sb.append(checkId);
    }
    if (checkName != null) {
      sb.append(sb.isEmpty() ? "" : ": ").append(checkName);
    }
    if (resource != null) {
      sb.append(sb.isEmpty() ? "" : " ").append("(").append(resource).append(")");
    }
    return sb.isEmpty() ? "checkov check failed" : sb.toString();
  }

  private static List<Object> lineRange(JsonNode check) {
    List<Object> out = new ArrayList<>();
    for (JsonNode n : JsonFields.array(check, "file_line_range")) {
      if (n.isIntegralNumber()) {
        out.add(n.longValue());
      }
    }
    return out.isEmpty() ? null : out;
  }

  // The object checkov prints alone when it ran no check:
  // {"passed":0,"failed":0,...,"checkov_version":"3.2.1"}.
  private static boolean isSummaryOnly(JsonNode report) {
    return report.has("checkov_version") && report.has("failed") && !report.has("results");
  }

  private static String fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames()
        .forEachRemaining(
            n -> {
              if (names.size() < 10) {
                names.add(n.length() > 40 ? n.substring(0, 40) + "…" : n);
              }
            });
    return names.isEmpty() ? "(none)" : names.toString();
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
