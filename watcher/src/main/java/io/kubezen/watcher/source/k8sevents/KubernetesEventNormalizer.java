package io.kubezen.watcher.source.k8sevents;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.ResourceRef;
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
import java.util.Optional;

/**
 * Kubernetes Events, core {@code v1} ({@code involvedObject}, {@code message}) and {@code
 * events.k8s.io/v1} ({@code regarding}, {@code note}): one Event, an array of them, or an {@code
 * EventList}/{@code List}. Only {@code type: Warning} Events that match a rule of {@link
 * EventRules} give a Finding; everything else gives none. See docs/sources/k8s-events.md.
 */
public final class KubernetesEventNormalizer implements Normalizer {
  public static final String SOURCE = "k8s-events";

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
    List<JsonNode> items = JsonFields.items(input);
    // Check the whole input first: a batch is accepted or refused as one.
    List<EventView> events = new ArrayList<>(items.size());
    for (JsonNode item : items) {
      events.add(EventView.of(item));
    }
    List<Finding> out = new ArrayList<>();
    for (EventView e : events) {
      finding(e, context).ifPresent(out::add);
    }
    return out;
  }

  private static Optional<Finding> finding(EventView e, IngestContext context) {
    if (!"Warning".equalsIgnoreCase(e.type())) {
      return Optional.empty();
    }
    ResourceRef involved = e.involved();
    String kind = involved == null ? null : involved.kind();
    Optional<EventRules.Rule> rule = EventRules.match(e.reason(), e.message(), kind);
    if (rule.isEmpty()) {
      return Optional.empty();
    }
    EventRules.Rule r = rule.get();
    Instant last = e.lastTimestamp();
    Instant detectedAt = last != null ? last : context.receivedAt();

    Details details =
        Details.builder()
            .put("reason", e.reason())
            .put("message", e.message())
            .put("rule", r.name())
            .put("reportingComponent", e.reportingComponent())
            .put("count", e.count())
            .put(
                "firstTimestamp", e.firstTimestamp() == null ? null : e.firstTimestamp().toString())
            .put("lastTimestamp", last == null ? null : last.toString())
            .put("involvedObjectUid", e.involvedUid())
            .put("fieldPath", e.fieldPath());

    return Optional.of(
        new Finding(
            SOURCE,
            r.category(),
            r.severity(),
            r.eventType(),
            involved,
            title(e, involved),
            details.build(),
            detectedAt,
            List.of(objectKey(e, involved), nullToEmpty(e.reason()), r.eventType())));
  }

  // The involved object's uid when the Event carries it, else kind/namespace/name.
  private static String objectKey(EventView e, ResourceRef involved) {
    if (e.involvedUid() != null) {
      return "uid:" + e.involvedUid();
    }
    if (involved == null) {
      return "";
    }
    return nullToEmpty(involved.kind())
        + "/"
        + nullToEmpty(involved.namespace())
        + "/"
        + nullToEmpty(involved.name());
  }

  private static String title(EventView e, ResourceRef involved) {
    StringBuilder sb = new StringBuilder(e.reason() == null ? "Warning" : e.reason());
    if (involved != null && involved.name() != null) {
      sb.append(" on ").append(involved.kind() == null ? "object" : involved.kind()).append(' ');
      if (involved.namespace() != null) {
        sb.append(involved.namespace()).append('/');
      }
      sb.append(involved.name());
    }
    if (e.message() != null) {
      sb.append(": ").append(e.message());
    }
    return sb.toString();
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }

  /** The fields of either Event API, read once. */
  record EventView(
      String type,
      String reason,
      String message,
      ResourceRef involved,
      String involvedUid,
      String fieldPath,
      String reportingComponent,
      Long count,
      Instant firstTimestamp,
      Instant lastTimestamp) {

    static EventView of(JsonNode n) {
      String apiVersion = JsonFields.text(n, "apiVersion");
      String kind = JsonFields.text(n, "kind");
      JsonNode regarding = JsonFields.at(n, "regarding");
      JsonNode involvedObject = JsonFields.at(n, "involvedObject");
      boolean newApi = false;
      boolean coreApi = false;
      if (kind == null || "Event".equals(kind)) {
        if (apiVersion == null) {
          // Items of a raw EventList carry no apiVersion/kind of their own: recognise them by
          // shape.
          newApi = regarding != null && regarding.isObject();
          coreApi = !newApi && involvedObject != null && involvedObject.isObject();
        } else {
          newApi = apiVersion.startsWith("events.k8s.io/");
          coreApi = "v1".equals(apiVersion);
        }
      }
      if (!newApi && !coreApi) {
        throw new InvalidInputException(describe(apiVersion, kind, n));
      }
      return newApi ? fromEventsApi(n, regarding) : fromCoreApi(n, involvedObject);
    }

    private static EventView fromCoreApi(JsonNode n, JsonNode involvedObject) {
      Instant eventTime = JsonFields.time(n, "eventTime");
      Instant first = firstNonNull(JsonFields.time(n, "firstTimestamp"), eventTime);
      Instant last =
          firstNonNull(
              JsonFields.time(n, "lastTimestamp"),
              JsonFields.time(n, "series", "lastObservedTime"),
              eventTime);
      Long count = number(n, "count");
      if (count == null) {
        count = number(n, "series", "count");
      }
      return new EventView(
          JsonFields.text(n, "type"),
          JsonFields.text(n, "reason"),
          JsonFields.text(n, "message"),
          ref(involvedObject),
          JsonFields.text(involvedObject, "uid"),
          JsonFields.text(involvedObject, "fieldPath"),
          firstNonNull(
              JsonFields.text(n, "reportingComponent"), JsonFields.text(n, "source", "component")),
          count,
          first,
          last);
    }

    private static EventView fromEventsApi(JsonNode n, JsonNode regarding) {
      Instant eventTime = JsonFields.time(n, "eventTime");
      Instant first = firstNonNull(JsonFields.time(n, "deprecatedFirstTimestamp"), eventTime);
      Instant last =
          firstNonNull(
              JsonFields.time(n, "series", "lastObservedTime"),
              JsonFields.time(n, "deprecatedLastTimestamp"),
              eventTime);
      Long count = number(n, "series", "count");
      if (count == null) {
        count = number(n, "deprecatedCount");
      }
      return new EventView(
          JsonFields.text(n, "type"),
          JsonFields.text(n, "reason"),
          JsonFields.text(n, "note"),
          ref(regarding),
          JsonFields.text(regarding, "uid"),
          JsonFields.text(regarding, "fieldPath"),
          firstNonNull(
              JsonFields.text(n, "reportingController"),
              JsonFields.text(n, "deprecatedSource", "component")),
          count,
          first,
          last);
    }

    private static ResourceRef ref(JsonNode o) {
      if (o == null || !o.isObject()) {
        return null;
      }
      ResourceRef r =
          ResourceRef.of(
              JsonFields.text(o, "apiVersion"),
              JsonFields.text(o, "kind"),
              JsonFields.text(o, "namespace"),
              JsonFields.text(o, "name"));
      return r.kind() == null && r.name() == null && r.namespace() == null ? null : r;
    }

    private static Long number(JsonNode n, String... path) {
      JsonNode v = JsonFields.at(n, path);
      return v != null && v.isIntegralNumber() ? v.longValue() : null;
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

    private static String describe(String apiVersion, String kind, JsonNode n) {
      if (kind == null && apiVersion == null) {
        List<String> names = new ArrayList<>();
        n.fieldNames()
            .forEachRemaining(
                f -> {
                  if (names.size() < 8) {
                    names.add(f.length() > 40 ? f.substring(0, 40) + "…" : f);
                  }
                });
        return "expected a Kubernetes Event (v1 or events.k8s.io/v1), an array of them or an EventList;"
            + " found an object with no apiVersion/kind and fields "
            + (names.isEmpty() ? "(none)" : names);
      }
      String found =
          cut(kind == null ? "(no kind)" : kind)
              + " "
              + cut(apiVersion == null ? "(no apiVersion)" : apiVersion);
      String hint =
          apiVersion != null && apiVersion.startsWith("audit.k8s.io/")
              ? " (audit events go to /ingest/k8s-audit)"
              : "";
      return "expected a Kubernetes Event (v1 or events.k8s.io/v1), an array of them or an EventList; found "
          + found
          + hint;
    }

    private static String cut(String s) {
      return s.length() <= 80 ? s : s.substring(0, 80) + "…";
    }
  }
}
