package io.kubezen.watcher.ingester.mapping;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cel.common.values.NullValue;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceKind;
import java.math.BigDecimal;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The normalizer of an Ingester: its {@code mapping} of CEL expressions applied to each input
 * object (see docs/ingesters.md). Every expression is compiled once, here; {@link #normalize} only
 * evaluates. Pure and thread-safe.
 *
 * <p>Inputs: a JSON object is one {@code object}; a JSON array gives one {@code object} per
 * element. With {@code forEach}, each element of the list it yields is {@code item} and gives one
 * finding; without, each object gives one finding.
 *
 * <p>A field whose expression fails because a key is absent is "not set" (its default applies); any
 * other evaluation error (a wrong type, say) makes the input invalid, with a message naming the
 * field.
 */
public final class MappingNormalizer implements Normalizer {
  /** Most findings one input may give; more is an invalid input. */
  public static final int MAX_FINDINGS_PER_INPUT = 10_000;

  public static final String DEFAULT_EVENT_TYPE = "custom_event";
  public static final Severity DEFAULT_SEVERITY = Severity.MEDIUM;
  public static final Category DEFAULT_CATEGORY = Category.SECURITY;

  /** Thrown when a mapping does not compile; {@link #problems()} lists every problem. */
  public static final class MappingException extends IllegalArgumentException {
    private final List<String> problems;

    public MappingException(List<String> problems) {
      super(String.join("; ", problems));
      this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
      return problems;
    }
  }

  private record Expr(String place, CelRuntime.Program program) {}

  private final String source;
  private final SourceKind kind;
  private final Expr forEach;
  private final Expr severity;
  private final Map<String, Severity> severityMap;
  private final Expr title;
  private final Expr eventType;
  private final Expr category;
  private final Expr apiVersion;
  private final Expr resourceKind;
  private final Expr name;
  private final Expr namespace;
  private final Expr timestamp;
  private final Map<String, Expr> details;
  private final List<Expr> identity;

  /**
   * @throws MappingException listing every expression that does not compile and every severityMap
   *     value that is not a severity
   */
  public MappingNormalizer(String source, SourceKind kind, IngesterSpec.Mapping mapping) {
    this.source = Objects.requireNonNull(source, "source");
    this.kind = Objects.requireNonNull(kind, "kind");
    if (!Finding.SOURCE_NAME.matcher(source).matches()) {
      throw new MappingException(
          List.of("source: '" + source + "' is not a DNS-1123 label of at most 40 characters"));
    }
    IngesterSpec.Mapping m =
        mapping != null
            ? mapping
            : new IngesterSpec.Mapping(null, null, null, null, null, null, null, null, null, null);
    List<String> problems = new ArrayList<>();
    Compiler c = new Compiler(problems, m.forEach() != null && !m.forEach().isBlank());
    this.forEach =
        m.forEach() == null || m.forEach().isBlank() ? null : compileForEach(m.forEach(), problems);
    this.severity = c.optional("mapping.severity", m.severity());
    this.title = c.optional("mapping.title", m.title());
    this.eventType = c.optional("mapping.eventType", m.eventType());
    this.category = c.optional("mapping.category", m.category());
    IngesterSpec.ResourceMapping r = m.resource();
    this.apiVersion = r == null ? null : c.optional("mapping.resource.apiVersion", r.apiVersion());
    this.resourceKind = r == null ? null : c.optional("mapping.resource.kind", r.kind());
    this.name = r == null ? null : c.optional("mapping.resource.name", r.name());
    this.namespace = r == null ? null : c.optional("mapping.resource.namespace", r.namespace());
    this.timestamp = c.optional("mapping.timestamp", m.timestamp());
    Map<String, Expr> d = new LinkedHashMap<>();
    if (m.details() != null) {
      for (Map.Entry<String, String> e : m.details().entrySet()) {
        String key = e.getKey();
        if (key == null || key.isBlank() || key.length() > 128) {
          problems.add("mapping.details: a key must be 1 to 128 characters: '" + key + "'");
          continue;
        }
        Expr x = c.required("mapping.details." + key, e.getValue());
        if (x != null) {
          d.put(key, x);
        }
      }
    }
    this.details = d;
    List<Expr> id = new ArrayList<>();
    if (m.identity() != null) {
      for (int i = 0; i < m.identity().size(); i++) {
        Expr x = c.required("mapping.identity[" + i + "]", m.identity().get(i));
        if (x != null) {
          id.add(x);
        }
      }
    }
    this.identity = id;
    Map<String, Severity> sm = new HashMap<>();
    if (m.severityMap() != null) {
      for (Map.Entry<String, String> e : m.severityMap().entrySet()) {
        Severity s = Severity.parse(e.getValue()).orElse(null);
        if (s == null) {
          problems.add(
              "mapping.severityMap."
                  + e.getKey()
                  + ": '"
                  + e.getValue()
                  + "' is not a severity (critical, high, medium, low, info)");
        } else if (e.getKey() != null) {
          sm.put(e.getKey().strip().toLowerCase(Locale.ROOT), s);
        }
      }
    }
    this.severityMap = Map.copyOf(sm);
    if (!problems.isEmpty()) {
      throw new MappingException(problems);
    }
  }

  /**
   * The normalizer an Ingester declares: its source and mapping; EVENT for webhooks, STATE for
   * informers.
   */
  public static MappingNormalizer of(IngesterSpec spec) {
    SourceKind kind =
        spec.type() == IngesterSpec.Type.INFORMER ? SourceKind.STATE : SourceKind.EVENT;
    return new MappingNormalizer(spec.source(), kind, spec.mapping());
  }

  private static Expr compileForEach(String expression, List<String> problems) {
    try {
      return new Expr("mapping.forEach", MappingCel.compile(expression, "mapping.forEach", false));
    } catch (MappingCel.CompileException e) {
      problems.add(e.getMessage());
      return null;
    }
  }

  private static final class Compiler {
    final List<String> problems;
    final boolean withItem;

    Compiler(List<String> problems, boolean withItem) {
      this.problems = problems;
      this.withItem = withItem;
    }

    Expr optional(String place, String expression) {
      return expression == null || expression.isBlank() ? null : required(place, expression);
    }

    Expr required(String place, String expression) {
      try {
        return new Expr(place, MappingCel.compile(expression, place, withItem));
      } catch (MappingCel.CompileException e) {
        problems.add(e.getMessage());
        return null;
      }
    }
  }

  @Override
  public String source() {
    return source;
  }

  @Override
  public SourceKind kind() {
    return kind;
  }

  @Override
  public List<Finding> normalize(JsonNode input, IngestContext context) {
    if (input == null || input.isNull() || input.isMissingNode()) {
      throw new InvalidInputException("expected a JSON object or an array of objects, got nothing");
    }
    List<JsonNode> objects = new ArrayList<>();
    if (input.isArray()) {
      for (JsonNode e : input) {
        if (!e.isObject()) {
          throw new InvalidInputException(
              "expected an array of objects, found an element that is "
                  + e.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        objects.add(e);
      }
    } else if (input.isObject()) {
      objects.add(input);
    } else {
      throw new InvalidInputException(
          "expected a JSON object or an array of objects, got "
              + input.getNodeType().name().toLowerCase(Locale.ROOT));
    }
    List<Finding> out = new ArrayList<>();
    for (JsonNode o : objects) {
      Object object = MappingCel.value(o);
      if (forEach == null) {
        add(out, Map.of("object", object), context);
        continue;
      }
      Object list = eval(forEach, Map.of("object", object));
      if (list == null) {
        continue;
      }
      if (!(list instanceof List<?> items)) {
        throw new InvalidInputException(
            "mapping.forEach: must give a list, gave " + describe(list));
      }
      for (Object item : items) {
        Map<String, Object> vars = new HashMap<>(4);
        vars.put("object", object);
        vars.put("item", item);
        add(out, vars, context);
      }
    }
    return out;
  }

  private void add(List<Finding> out, Map<String, Object> vars, IngestContext context) {
    if (out.size() >= MAX_FINDINGS_PER_INPUT) {
      throw new InvalidInputException(
          "one input gives more than " + MAX_FINDINGS_PER_INPUT + " findings");
    }
    out.add(finding(vars, context));
  }

  private Finding finding(Map<String, Object> vars, IngestContext context) {
    String sev = text(eval(severity, vars));
    Severity s = null;
    if (sev != null) {
      s = severityMap.get(sev.strip().toLowerCase(Locale.ROOT));
      if (s == null) {
        s = Severity.parse(sev).orElse(null);
      }
    }
    if (s == null) {
      s = DEFAULT_SEVERITY;
    }
    String type = text(eval(eventType, vars));
    if (type == null || type.length() > 63 || !Finding.EVENT_TYPE.matcher(type).matches()) {
      type = DEFAULT_EVENT_TYPE;
    }
    Category cat = Category.parse(text(eval(category, vars))).orElse(DEFAULT_CATEGORY);
    String t = text(eval(title, vars));
    ResourceRef resource =
        ResourceRef.of(
            text(eval(apiVersion, vars)),
            text(eval(resourceKind, vars)),
            text(eval(namespace, vars)),
            text(eval(name, vars)));
    if (resource.apiVersion() == null
        && resource.kind() == null
        && resource.name() == null
        && resource.namespace() == null) {
      resource = null;
    }
    Instant at = time(eval(timestamp, vars));
    Details d = Details.builder();
    List<String> detailIdentity = new ArrayList<>();
    for (Map.Entry<String, Expr> e : details.entrySet()) {
      Object v = detailValue(eval(e.getValue(), vars));
      d.put(e.getKey(), v);
      detailIdentity.add(e.getKey() + "=" + (v == null ? "" : String.valueOf(v)));
    }
    List<String> id = new ArrayList<>();
    if (!identity.isEmpty()) {
      for (Expr x : identity) {
        String v = text(eval(x, vars));
        id.add(v == null ? "" : v);
      }
    } else {
      id.add(type);
      id.add(resource == null ? "" : nz(resource.apiVersion()));
      id.add(resource == null ? "" : nz(resource.kind()));
      id.add(resource == null ? "" : nz(resource.namespace()));
      id.add(resource == null ? "" : nz(resource.name()));
      id.add(nz(t));
      id.add(s.wire());
      id.add(cat.wire());
      id.addAll(detailIdentity);
    }
    return new Finding(
        source, cat, s, type, resource, t, d.build(), at != null ? at : context.receivedAt(), id);
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }

  /** Evaluates; null when the expression is absent or reads a missing key. */
  private static Object eval(Expr x, Map<String, Object> vars) {
    if (x == null) {
      return null;
    }
    Object v;
    try {
      v = io.kubezen.watcher.model.CelBudget.eval(x.program(), vars);
    } catch (CelEvaluationException e) {
      if (MappingCel.isMissing(e)) {
        return null;
      }
      throw new InvalidInputException(x.place() + ": " + e.getMessage());
    } catch (RuntimeException e) {
      throw new InvalidInputException(x.place() + ": " + e.getMessage());
    }
    return v instanceof NullValue ? null : v;
  }

  /** A scalar as text; lists and maps as JSON; null stays null. */
  static String text(Object v) {
    if (v == null || v instanceof NullValue) {
      return null;
    }
    if (v instanceof String s) {
      return s.isBlank() ? null : s;
    }
    if (v instanceof Double d && d == Math.rint(d) && !d.isInfinite() && Math.abs(d) < 1e15) {
      return Long.toString(d.longValue());
    }
    if (v instanceof Number || v instanceof Boolean) {
      return v.toString();
    }
    if (v instanceof com.google.protobuf.ByteString b) {
      return b.toStringUtf8();
    }
    if (v instanceof Map<?, ?> || v instanceof List<?>) {
      try {
        return Json.MAPPER.writeValueAsString(plain(v));
      } catch (Exception e) {
        return String.valueOf(v);
      }
    }
    return String.valueOf(v);
  }

  private static Object detailValue(Object v) {
    if (v == null || v instanceof NullValue) {
      return null;
    }
    if (v instanceof Number || v instanceof Boolean || v instanceof String) {
      return v;
    }
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      for (Object o : l) {
        Object c = o instanceof List<?> ? text(o) : detailValue(o);
        if (c != null) {
          out.add(c instanceof Map<?, ?> ? text(c) : c);
        }
      }
      return out;
    }
    return text(v);
  }

  /** CEL values back to plain JSON-able Java values. */
  private static Object plain(Object v) {
    if (v instanceof NullValue) {
      return null;
    }
    if (v instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      m.forEach((k, val) -> out.put(String.valueOf(k), plain(val)));
      return out;
    }
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      l.forEach(o -> out.add(plain(o)));
      return out;
    }
    return v;
  }

  /** An RFC 3339 string, or epoch seconds (a number or a numeric string); null otherwise. */
  static Instant time(Object v) {
    return io.kubezen.watcher.model.Times.sane(parseTime(v));
  }

  private static Instant parseTime(Object v) {
    if (v == null) {
      return null;
    }
    try {
      if (v instanceof Number n) {
        return epochSeconds(new BigDecimal(n.toString()));
      }
      if (v instanceof Instant i) {
        return i;
      }
      if (v instanceof com.google.protobuf.Timestamp ts) {
        return Instant.ofEpochSecond(ts.getSeconds(), ts.getNanos());
      }
      String s = String.valueOf(v).strip();
      if (s.isEmpty()) {
        return null;
      }
      if (s.matches("-?\\d+(\\.\\d+)?")) {
        return epochSeconds(new BigDecimal(s));
      }
      try {
        return OffsetDateTime.parse(s).toInstant();
      } catch (DateTimeException e) {
        return Instant.parse(s);
      }
    } catch (DateTimeException | NumberFormatException | ArithmeticException e) {
      return null;
    }
  }

  private static Instant epochSeconds(BigDecimal seconds) {
    BigDecimal whole = seconds.setScale(0, java.math.RoundingMode.FLOOR);
    long nanos = seconds.subtract(whole).movePointRight(9).longValue();
    return Instant.ofEpochSecond(whole.longValueExact(), nanos);
  }

  private static String describe(Object v) {
    if (v instanceof Map<?, ?>) {
      return "a map";
    }
    if (v instanceof String) {
      return "a string";
    }
    return v.getClass().getSimpleName();
  }
}
