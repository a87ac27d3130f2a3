package io.kubezen.watcher.source.generic;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.JsonFields;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceKind;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Any JSON object, or array of objects, POSTed to {@code /ingest/<name>} for a name that no other
 * source claims. A fixed default mapping reads the usual field names; the other top-level scalars
 * become the details. See docs/sources/generic.md for the mapping tables.
 */
public final class GenericNormalizer implements Normalizer {
  public static final String DEFAULT_EVENT_TYPE = "custom_event";

  /** Longest eventType taken from the input; longer ones give {@link #DEFAULT_EVENT_TYPE}. */
  public static final int MAX_EVENT_TYPE = 63;

  /** Longest key copied into the details; longer keys are left out. */
  public static final int MAX_DETAIL_KEY = 128;

  /** What a missing or unrecognised severity becomes. */
  public static final Severity DEFAULT_SEVERITY = Severity.MEDIUM;

  static final List<String> SEVERITY_FIELDS = List.of("severity", "priority", "level");
  static final List<String> TITLE_FIELDS = List.of("title", "message", "msg", "output", "summary");
  static final List<String> EVENT_TYPE_FIELDS = List.of("eventType", "event_type", "type");
  static final List<String> TIME_FIELDS = List.of("timestamp", "time", "@timestamp", "eventTime");

  private static final Pattern EVENT_TYPE_SEPARATORS = Pattern.compile("[-./ ]");
  private static final Pattern NAMESPACE = Pattern.compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  private static final Pattern WHITESPACE = Pattern.compile("\\s+");
  private static final BigDecimal EPOCH_SECONDS_LIMIT = BigDecimal.valueOf(100_000_000_000L);

  /** Words tools use for a severity, by the severity they mean. */
  private static final Map<String, Severity> SEVERITY_WORDS =
      Map.ofEntries(
          Map.entry("critical", Severity.CRITICAL),
          Map.entry("crit", Severity.CRITICAL),
          Map.entry("emergency", Severity.CRITICAL),
          Map.entry("emerg", Severity.CRITICAL),
          Map.entry("alert", Severity.CRITICAL),
          Map.entry("fatal", Severity.CRITICAL),
          Map.entry("panic", Severity.CRITICAL),
          Map.entry("blocker", Severity.CRITICAL),
          Map.entry("high", Severity.HIGH),
          Map.entry("error", Severity.HIGH),
          Map.entry("err", Severity.HIGH),
          Map.entry("major", Severity.HIGH),
          Map.entry("severe", Severity.HIGH),
          Map.entry("important", Severity.HIGH),
          Map.entry("medium", Severity.MEDIUM),
          Map.entry("warning", Severity.MEDIUM),
          Map.entry("warn", Severity.MEDIUM),
          Map.entry("moderate", Severity.MEDIUM),
          Map.entry("low", Severity.LOW),
          Map.entry("notice", Severity.LOW),
          Map.entry("minor", Severity.LOW),
          Map.entry("info", Severity.INFO),
          Map.entry("informational", Severity.INFO),
          Map.entry("information", Severity.INFO),
          Map.entry("debug", Severity.INFO),
          Map.entry("trace", Severity.INFO),
          Map.entry("ok", Severity.INFO),
          Map.entry("none", Severity.INFO));

  private final String source;

  public GenericNormalizer(String sourceName) {
    if (sourceName == null || !Finding.SOURCE_NAME.matcher(sourceName).matches()) {
      throw new IllegalArgumentException(
          "a source name must be a DNS-1123 label of at most 40 characters: " + sourceName);
    }
    this.source = sourceName;
  }

  @Override
  public String source() {
    return source;
  }

  @Override
  public SourceKind kind() {
    return SourceKind.EVENT;
  }

  @Override
  public List<Finding> normalize(JsonNode input, IngestContext context) {
    List<JsonNode> items = JsonFields.items(input);
    List<Finding> out = new ArrayList<>(items.size());
    for (JsonNode item : items) {
      out.add(finding(item, context));
    }
    return out;
  }

  private Finding finding(JsonNode n, IngestContext context) {
    Set<String> used = new HashSet<>();

    Severity severity = DEFAULT_SEVERITY;
    for (String f : SEVERITY_FIELDS) {
      Optional<Severity> s = severity(textual(n, f));
      if (s.isPresent()) {
        severity = s.get();
        used.add(f);
        break;
      }
    }

    String title = null;
    for (String f : TITLE_FIELDS) {
      String t = textual(n, f);
      if (t != null) {
        title = WHITESPACE.matcher(t.strip()).replaceAll(" ");
        used.add(f);
        break;
      }
    }

    Category category = Category.SECURITY;
    Optional<Category> c = Category.parse(textual(n, "category"));
    if (c.isPresent()) {
      category = c.get();
      used.add("category");
    }

    String eventType = DEFAULT_EVENT_TYPE;
    for (String f : EVENT_TYPE_FIELDS) {
      String t = eventType(textual(n, f));
      if (t != null) {
        eventType = t;
        used.add(f);
        break;
      }
    }

    ResourceRef resource = resource(n, used);

    Instant detectedAt = null;
    for (String f : TIME_FIELDS) {
      detectedAt = time(n.get(f));
      if (detectedAt != null) {
        used.add(f);
        break;
      }
    }
    if (detectedAt == null) {
      detectedAt = context.receivedAt();
    }

    Details details = Details.builder();
    n.fields()
        .forEachRemaining(
            e -> {
              JsonNode v = e.getValue();
              if (used.contains(e.getKey())
                  || e.getKey().isBlank()
                  || e.getKey().length() > MAX_DETAIL_KEY) {
                return;
              }
              if (v.isTextual()) {
                details.put(e.getKey(), v.textValue());
              } else if (v.isNumber()) {
                details.put(e.getKey(), v.numberValue());
              } else if (v.isBoolean()) {
                details.put(e.getKey(), v.booleanValue());
              }
            });

    List<String> identity =
        List.of(
            severity.wire(),
            title == null ? "" : title,
            category.wire(),
            eventType,
            resource == null ? "" : nullToEmpty(resource.apiVersion()),
            resource == null ? "" : nullToEmpty(resource.kind()),
            resource == null ? "" : nullToEmpty(resource.namespace()),
            resource == null ? "" : nullToEmpty(resource.name()));

    return new Finding(
        source,
        category,
        severity,
        eventType,
        resource,
        title,
        details.build(),
        detectedAt,
        identity);
  }

  /**
   * A severity word (case-insensitive, see {@link #SEVERITY_WORDS}); empty for anything else,
   * numbers included.
   */
  static Optional<Severity> severity(String raw) {
    if (raw == null) {
      return Optional.empty();
    }
    return Optional.ofNullable(SEVERITY_WORDS.get(raw.strip().toLowerCase(Locale.ROOT)));
  }

  /**
   * Lower-cased, {@code - . / space} replaced by {@code _}; null when the result is not {@code
   * ^[a-z0-9_]+$}.
   */
  static String eventType(String raw) {
    if (raw == null) {
      return null;
    }
    String t = EVENT_TYPE_SEPARATORS.matcher(raw.strip().toLowerCase(Locale.ROOT)).replaceAll("_");
    return t.length() <= MAX_EVENT_TYPE && Finding.EVENT_TYPE.matcher(t).matches() ? t : null;
  }

  // resource {apiVersion, kind, name, namespace} when it is an object, else the top-level fields;
  // namespace from namespace, metadata.namespace, resource.namespace: the first valid one.
  private static ResourceRef resource(JsonNode n, Set<String> used) {
    JsonNode r = JsonFields.at(n, "resource");
    String apiVersion;
    String kind;
    String name;
    if (r != null && r.isObject()) {
      used.add("resource");
      apiVersion = JsonFields.text(r, "apiVersion");
      kind = JsonFields.text(r, "kind");
      name = JsonFields.text(r, "name");
    } else {
      apiVersion = take(n, "apiVersion", used);
      kind = take(n, "kind", used);
      name = take(n, "name", used);
      if (name == null) {
        name = JsonFields.text(n, "metadata", "name");
      }
    }
    String namespace = validNamespace(take(n, "namespace", used));
    if (namespace == null) {
      used.remove("namespace");
      namespace = validNamespace(JsonFields.text(n, "metadata", "namespace"));
    }
    if (namespace == null) {
      namespace = validNamespace(JsonFields.text(n, "resource", "namespace"));
    }
    ResourceRef ref = ResourceRef.of(apiVersion, kind, namespace, name);
    return ref.apiVersion() == null
            && ref.kind() == null
            && ref.name() == null
            && ref.namespace() == null
        ? null
        : ref;
  }

  // A namespace must be one Kubernetes could hold (a DNS-1123 label): the Observation is stored in
  // it.
  private static String validNamespace(String ns) {
    return ns != null && ns.length() <= 63 && NAMESPACE.matcher(ns).matches() ? ns : null;
  }

  private static String take(JsonNode n, String field, Set<String> used) {
    JsonNode v = n.get(field);
    if (v == null || !v.isTextual() || v.textValue().isBlank()) {
      return null;
    }
    used.add(field);
    return v.textValue();
  }

  /**
   * RFC 3339 text, or a positive number of seconds (below 10^11) or milliseconds since the epoch.
   */
  static Instant time(JsonNode v) {
    return io.kubezen.watcher.model.Times.sane(parseTime(v));
  }

  private static Instant parseTime(JsonNode v) {
    if (v == null) {
      return null;
    }
    if (v.isTextual()) {
      return JsonFields.time(v);
    }
    if (!v.isNumber()) {
      return null;
    }
    try {
      BigDecimal d = v.decimalValue(); // NumberFormatException for an infinite double such as 1e400
      if (d.signum() <= 0) {
        return null;
      }
      BigDecimal whole = d.setScale(0, RoundingMode.FLOOR);
      if (d.compareTo(EPOCH_SECONDS_LIMIT) < 0) {
        long nanos = d.subtract(whole).movePointRight(9).longValue();
        return Instant.ofEpochSecond(whole.longValueExact(), nanos);
      }
      return Instant.ofEpochMilli(whole.longValueExact());
    } catch (ArithmeticException | NumberFormatException | DateTimeException e) {
      return null;
    }
  }

  private static String textual(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v != null && v.isTextual() && !v.textValue().isBlank() ? v.textValue() : null;
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
