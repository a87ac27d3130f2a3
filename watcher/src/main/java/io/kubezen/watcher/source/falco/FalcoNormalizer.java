package io.kubezen.watcher.source.falco;

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
import java.util.Objects;

/**
 * Falco alerts, as Falco's {@code json_output} / {@code http_output} and falcosidekick emit them:
 * {@code output, priority, rule, time, output_fields, source, tags, hostname}. Accepts one alert or
 * a JSON array of alerts; every alert gives exactly one Finding (eventType {@code runtime_threat},
 * category security).
 *
 * <p>Severity from {@code priority} (case-insensitive): Emergency/Critical → critical, Alert/Error
 * → high, Warning → medium, Notice/Informational (or Info) → low, Debug → info; a missing or
 * unknown priority → medium, so an alert is never silently downgraded to noise.
 *
 * <p>Identity: rule + {@code <namespace>/<pod>} (or {@code host/<hostname>} for host alerts) +
 * container id.
 */
public final class FalcoNormalizer implements Normalizer {
  public static final String SOURCE = "falco";
  public static final String EVENT_TYPE = "runtime_threat";

  /** Severity of an alert whose priority is missing or not one of Falco's. */
  public static final Severity DEFAULT_SEVERITY = Severity.MEDIUM;

  public FalcoNormalizer() {}

  @Override
  public String source() {
    return SOURCE;
  }

  @Override
  public SourceKind kind() {
    return SourceKind.EVENT;
  }

  @Override
  public List<Finding> normalize(JsonNode input, IngestContext context) {
    Objects.requireNonNull(context, "context");
    List<JsonNode> alerts = JsonFields.items(input);
    List<Finding> out = new ArrayList<>(alerts.size());
    for (int i = 0; i < alerts.size(); i++) {
      out.add(alert(alerts.get(i), i, alerts.size(), context));
    }
    return out;
  }

  /** Maps a Falco priority name to a severity; {@link #DEFAULT_SEVERITY} when unknown or null. */
  public static Severity severity(String priority) {
    if (priority == null) {
      return DEFAULT_SEVERITY;
    }
    return switch (priority.trim().toLowerCase(Locale.ROOT)) {
      case "emergency", "critical" -> Severity.CRITICAL;
      case "alert", "error" -> Severity.HIGH;
      case "warning" -> Severity.MEDIUM;
      case "notice", "informational", "info" -> Severity.LOW;
      case "debug" -> Severity.INFO;
      default -> DEFAULT_SEVERITY;
    };
  }

  private static Finding alert(JsonNode a, int index, int count, IngestContext ctx) {
    String rule = JsonFields.text(a, "rule");
    String output = JsonFields.text(a, "output");
    if (rule == null && output == null) {
      throw new InvalidInputException(
          (count > 1 ? "alert " + index + ": " : "")
              + "not a Falco alert: it has neither \"rule\" nor \"output\"");
    }
    String priority = JsonFields.text(a, "priority");
    JsonNode fields = JsonFields.at(a, "output_fields");
    String pod = field(fields, "k8s.pod.name");
    String namespace = field(fields, "k8s.ns.name");
    String containerId = field(fields, "container.id");
    String containerName = field(fields, "container.name");
    String image =
        image(field(fields, "container.image.repository"), field(fields, "container.image.tag"));
    String hostname = JsonFields.text(a, "hostname");
    if (hostname == null) {
      hostname = field(fields, "evt.hostname");
    }

    ResourceRef resource = pod == null ? null : ResourceRef.of("v1", "Pod", namespace, pod);
    Instant detectedAt = JsonFields.time(a, "time");
    if (detectedAt == null) {
      detectedAt = ctx.receivedAt();
    }

    Details details =
        Details.builder()
            .put("rule", rule)
            .put("priority", priority)
            .put("output", output)
            .put("containerId", containerId)
            .put("containerName", containerName)
            .put("containerImage", image)
            .put("hostname", hostname)
            .put("tags", strings(JsonFields.at(a, "tags")))
            .put("source", JsonFields.text(a, "source"))
            .put("user", field(fields, "user.name"))
            .put("processCmdline", field(fields, "proc.cmdline"));

    String where = pod != null ? (namespace == null ? pod : namespace + "/" + pod) : null;
    String title = title(rule, output, where, containerName, hostname);
    List<String> identity =
        List.of(
            rule == null ? "" : rule,
            where != null ? where : "host/" + (hostname == null ? "" : hostname),
            containerId == null ? "" : containerId);

    return new Finding(
        SOURCE,
        Category.SECURITY,
        severity(priority),
        EVENT_TYPE,
        resource,
        title,
        details.build(),
        detectedAt,
        identity);
  }

  private static String title(
      String rule, String output, String pod, String container, String hostname) {
    StringBuilder t = new StringBuilder(rule != null ? rule : output);
    if (pod != null) {
      t.append(" in pod ").append(pod);
      if (container != null) {
        t.append(" (container ").append(container).append(')');
      }
      if (hostname != null) {
        t.append(" on ").append(hostname);
      }
    } else if (hostname != null) {
      t.append(" on host ").append(hostname);
    }
    return t.toString();
  }

  /**
   * An output field as text; null when absent, null, blank or Falco's {@code <NA>} placeholder for
   * a value it could not resolve (older Falco versions write it into output_fields too).
   */
  static String field(JsonNode fields, String name) {
    if (fields == null) {
      return null;
    }
    JsonNode n = fields.get(name);
    if (n == null || n.isNull() || !n.isValueNode()) {
      return null;
    }
    String s = n.asText();
    return s.isBlank() || "<NA>".equals(s) ? null : s;
  }

  private static String image(String repository, String tag) {
    if (repository == null) {
      return null;
    }
    return tag == null ? repository : repository + ":" + tag;
  }

  private static List<String> strings(JsonNode array) {
    if (array == null || !array.isArray() || array.isEmpty()) {
      return null;
    }
    List<String> out = new ArrayList<>(array.size());
    for (JsonNode n : array) {
      if (n.isValueNode() && !n.isNull()) {
        out.add(n.asText());
      }
    }
    return out;
  }
}
