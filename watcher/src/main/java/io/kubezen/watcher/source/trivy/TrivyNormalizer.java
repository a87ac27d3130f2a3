package io.kubezen.watcher.source.trivy;

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

/**
 * Trivy-operator {@code VulnerabilityReport} and {@code ClusterVulnerabilityReport} ({@code
 * aquasecurity.github.io/v1alpha1}): one Finding per entry of {@code report.vulnerabilities}.
 * Accepts one report, a JSON array of reports, or a Kubernetes {@code List} of them.
 *
 * <p>The scanned workload comes from the labels {@code trivy-operator.resource.kind/name/namespace}
 * (namespace falls back to the report's own), the container from {@code
 * trivy-operator.container.name}. The identity is workload + container + vulnerability ID + package
 * + installed version, with no time in it: the same vulnerability in the same workload is the same
 * Observation for as long as it is reported. See docs/sources/trivy.md.
 */
public final class TrivyNormalizer implements Normalizer {
  public static final String SOURCE = "trivy";
  public static final String EVENT_TYPE = "vulnerability";

  static final String GROUP = "aquasecurity.github.io";
  static final String LABEL_KIND = "trivy-operator.resource.kind";
  static final String LABEL_NAME = "trivy-operator.resource.name";
  static final String LABEL_NAMESPACE = "trivy-operator.resource.namespace";
  static final String LABEL_CONTAINER = "trivy-operator.container.name";

  private static final Map<String, String> API_VERSIONS =
      Map.ofEntries(
          Map.entry("Deployment", "apps/v1"),
          Map.entry("ReplicaSet", "apps/v1"),
          Map.entry("StatefulSet", "apps/v1"),
          Map.entry("DaemonSet", "apps/v1"),
          Map.entry("Pod", "v1"),
          Map.entry("ReplicationController", "v1"),
          Map.entry("Node", "v1"),
          Map.entry("Job", "batch/v1"),
          Map.entry("CronJob", "batch/v1"));

  public TrivyNormalizer() {}

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

  /** Rejects anything that is not a vulnerability report, naming what it got. */
  private static void check(JsonNode report) {
    String kind = JsonFields.text(report, "kind");
    String apiVersion = JsonFields.text(report, "apiVersion");
    if (kind == null) {
      // A report stripped of its type (e.g. written by hand): accept it only if it has the shape.
      JsonNode vulns = JsonFields.at(report, "report", "vulnerabilities");
      if (vulns == null || !vulns.isArray()) {
        throw new InvalidInputException(
            "trivy reads VulnerabilityReport and ClusterVulnerabilityReport objects; got an object with no kind and no report.vulnerabilities");
      }
      return;
    }
    if (!kind.equals("VulnerabilityReport") && !kind.equals("ClusterVulnerabilityReport")) {
      throw new InvalidInputException(
          "trivy reads VulnerabilityReport and ClusterVulnerabilityReport objects; got kind "
              + kind);
    }
    if (apiVersion != null && !apiVersion.startsWith(GROUP + "/")) {
      throw new InvalidInputException(
          "trivy reads " + GROUP + " reports; got " + kind + " of apiVersion " + apiVersion);
    }
    JsonNode vulns = JsonFields.at(report, "report", "vulnerabilities");
    if (vulns != null && !vulns.isArray()) {
      throw new InvalidInputException("report.vulnerabilities of " + kind + " is not an array");
    }
  }

  private static void addFindings(JsonNode report, IngestContext context, List<Finding> out) {
    List<JsonNode> vulnerabilities = JsonFields.array(report, "report", "vulnerabilities");
    if (vulnerabilities.isEmpty()) {
      return;
    }
    JsonNode labels = JsonFields.at(report, "metadata", "labels");
    String reportName = JsonFields.text(report, "metadata", "name");
    String reportNamespace = JsonFields.text(report, "metadata", "namespace");
    String workloadKind = JsonFields.text(labels, LABEL_KIND);
    String workloadName = JsonFields.text(labels, LABEL_NAME);
    String workloadNamespace =
        firstNonNull(JsonFields.text(labels, LABEL_NAMESPACE), reportNamespace);
    String container = JsonFields.text(labels, LABEL_CONTAINER);

    ResourceRef resource =
        workloadKind == null && workloadName == null && workloadNamespace == null
            ? null
            : ResourceRef.of(
                workloadKind == null ? null : API_VERSIONS.get(workloadKind),
                workloadKind,
                workloadNamespace,
                workloadName);

    // Without the workload labels, the report's own name stands for the workload in the identity,
    // so two unlabelled reports in one namespace never merge.
    String workloadKey =
        workloadKind == null && workloadName == null
            ? "report:" + nullToEmpty(reportName)
            : nullToEmpty(workloadKind)
                + "/"
                + nullToEmpty(workloadNamespace)
                + "/"
                + nullToEmpty(workloadName);

    String repository = JsonFields.text(report, "report", "artifact", "repository");
    String tag = JsonFields.text(report, "report", "artifact", "tag");
    String digest = JsonFields.text(report, "report", "artifact", "digest");
    String registry = JsonFields.text(report, "report", "registry", "server");
    String shortImage = image(null, repository, tag, digest);
    String fullImage = image(registry, repository, tag, digest);

    Instant detectedAt =
        firstNonNull(
            JsonFields.time(report, "report", "updateTimestamp"),
            JsonFields.time(report, "metadata", "creationTimestamp"),
            context.receivedAt());

    for (JsonNode v : vulnerabilities) {
      if (!v.isObject()) {
        continue;
      }
      String id = JsonFields.text(v, "vulnerabilityID");
      String pkg = JsonFields.text(v, "resource");
      String installed = JsonFields.text(v, "installedVersion");
      String fixed = JsonFields.text(v, "fixedVersion");
      String trivySeverity = JsonFields.text(v, "severity");
      JsonNode score = JsonFields.at(v, "score");

      Map<String, Object> details =
          Details.builder()
              .put("vulnerabilityID", id)
              .put("resource", pkg)
              .put("installedVersion", installed)
              .put("fixedVersion", fixed)
              .put("severity", trivySeverity)
              .put("score", score != null && score.isNumber() ? score.numberValue() : null)
              .put("title", JsonFields.text(v, "title"))
              .put("primaryLink", JsonFields.text(v, "primaryLink"))
              .put("image", fullImage)
              .put("digest", digest)
              .put("container", container)
              .put("target", JsonFields.text(v, "target"))
              .put("packageType", JsonFields.text(v, "packageType"))
              .put("report", reportName)
              .build();

      out.add(
          new Finding(
              SOURCE,
              Category.SECURITY,
              severity(trivySeverity),
              EVENT_TYPE,
              resource,
              title(id, pkg, installed, shortImage, container),
              details,
              detectedAt,
              List.of(
                  workloadKey,
                  nullToEmpty(container),
                  nullToEmpty(id),
                  nullToEmpty(pkg),
                  nullToEmpty(installed))));
    }
  }

  /** CRITICAL/HIGH/MEDIUM/LOW map one to one; UNKNOWN, missing or anything else is info. */
  static Severity severity(String trivySeverity) {
    if (trivySeverity == null) {
      return Severity.INFO;
    }
    return switch (trivySeverity.trim().toUpperCase(Locale.ROOT)) {
      case "CRITICAL" -> Severity.CRITICAL;
      case "HIGH" -> Severity.HIGH;
      case "MEDIUM" -> Severity.MEDIUM;
      case "LOW" -> Severity.LOW;
      default -> Severity.INFO;
    };
  }

  private static String title(
      String id, String pkg, String installed, String image, String container) {
    StringBuilder t = new StringBuilder(id == null ? "vulnerability" : id);
    if (pkg != null) {
      t.append(" in ").append(pkg);
      if (installed != null) {
        t.append(' ').append(installed);
      }
    }
    List<String> where = new ArrayList<>(2);
    if (image != null) {
      where.add(image);
    }
    if (container != null) {
      where.add("container " + container);
    }
    if (!where.isEmpty()) {
      t.append(" (").append(String.join(", ", where)).append(')');
    }
    return t.toString();
  }

  /**
   * {@code [registry/]repository[:tag]}, or {@code @digest} when there is no tag; null without a
   * repository.
   */
  static String image(String registry, String repository, String tag, String digest) {
    if (repository == null) {
      return null;
    }
    StringBuilder s = new StringBuilder();
    if (registry != null) {
      s.append(registry).append('/');
    }
    s.append(repository);
    if (tag != null) {
      s.append(':').append(tag);
    } else if (digest != null) {
      s.append('@').append(digest);
    }
    return s.toString();
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
