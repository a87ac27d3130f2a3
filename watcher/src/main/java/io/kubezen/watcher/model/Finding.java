package io.kubezen.watcher.model;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One normalized finding, as a normalizer produces it from one raw input. Pure data: no client, no
 * clock.
 *
 * @param source the source name (falco, k8s-audit, ...), a DNS-1123 label
 * @param eventType what kind of finding, {@code ^[a-z0-9_]+$}
 * @param resource the object it is about, or null (a host-level alert)
 * @param title one human line
 * @param details small, source-specific facts (see {@link Details})
 * @param detectedAt when the tool saw it: the input's own time, else the time it was received
 * @param identity the values that make two inputs "the same finding"; the fingerprint is a hash of
 *     the source, these values and, for event-like sources, the dedup time bucket
 */
public record Finding(
    String source,
    Category category,
    Severity severity,
    String eventType,
    ResourceRef resource,
    String title,
    Map<String, Object> details,
    Instant detectedAt,
    List<String> identity) {

  public static final Pattern EVENT_TYPE = Pattern.compile("^[a-z0-9_]+$");
  public static final Pattern SOURCE_NAME = Pattern.compile("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$");

  /** Titles longer than this are cut: a title is one line, not a document. */
  public static final int MAX_TITLE = 512;

  /**
   * The details key that keeps a namespace from the input that is not a valid namespace name (upper
   * case, dots, longer than 63 characters, ...); such findings are stored in the watcher's own
   * namespace.
   */
  public static final String ORIGINAL_NAMESPACE = "originalNamespace";

  /** The namespace of {@link #resource()} when it is a valid namespace name, else null. */
  public String validNamespace() {
    String ns = resource == null ? null : resource.namespace();
    return KubeNames.isNamespace(ns) ? ns : null;
  }

  public Finding {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(category, "category");
    Objects.requireNonNull(severity, "severity");
    Objects.requireNonNull(eventType, "eventType");
    Objects.requireNonNull(detectedAt, "detectedAt");
    Objects.requireNonNull(identity, "identity");
    if (!SOURCE_NAME.matcher(source).matches()) {
      throw new IllegalArgumentException(
          "source must be a DNS-1123 label of at most 40 characters: " + source);
    }
    if (!EVENT_TYPE.matcher(eventType).matches()) {
      throw new IllegalArgumentException("eventType must match ^[a-z0-9_]+$: " + eventType);
    }
    detectedAt = Times.clamp(detectedAt);
    title = oneLine(title == null || title.isBlank() ? eventType : title);
    details = details == null ? Map.of() : details;
    if (resource != null) {
      String ns = resource.namespace();
      if (ns != null && !KubeNames.isNamespace(ns)) {
        // Not a namespace the API server would take: the Observation goes to the watcher's own
        // namespace (see ObservationFactory); the text is kept, bounded, here and in details.
        Map<String, Object> d = new java.util.LinkedHashMap<>(details);
        d.put(ORIGINAL_NAMESPACE, KubeNames.cut(ns));
        details = java.util.Collections.unmodifiableMap(d);
      }
      resource =
          new ResourceRef(
              KubeNames.cut(resource.apiVersion()),
              KubeNames.cut(resource.kind()),
              KubeNames.cut(resource.name()),
              KubeNames.cut(ns));
    }
    identity = identity.stream().map(v -> v == null ? "" : v).toList();
  }

  private static final Pattern LINE_BREAKS = Pattern.compile("\\s*[\\r\\n]+\\s*");

  private static String oneLine(String s) {
    String line = s.strip();
    if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
      line = LINE_BREAKS.matcher(line).replaceAll(" ");
    }
    return line.length() <= MAX_TITLE ? line : line.substring(0, MAX_TITLE - 1) + "…";
  }
}
