package io.kubezen.watcher.pipeline.filter;

import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationResult;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.extensions.CelExtensions;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelVariableResolver;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.watcher.model.Finding;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The CEL environment of filter expressions: the declared variables, the options, and the
 * translation of a Finding into values CEL understands. One immutable, thread-safe instance.
 */
final class CelEnvironment {
  /** Bounds the work one comprehension (all, exists, map, filter) may do on one finding. */
  static final int MAX_COMPREHENSION_ITERATIONS = 1_000;

  /** Longest accepted expression, in code points. */
  static final int MAX_EXPRESSION_LENGTH = 10_000;

  static final List<String> VARIABLES =
      List.of(
          "source",
          "category",
          "severity",
          "severityRank",
          "eventType",
          "title",
          "resource",
          "details");

  private static final CelOptions OPTIONS =
      CelOptions.current()
          .enableHeterogeneousNumericComparisons(true)
          .comprehensionMaxIterations(MAX_COMPREHENSION_ITERATIONS)
          .maxExpressionCodePointSize(MAX_EXPRESSION_LENGTH)
          .build();

  private static final Cel CEL =
      CelFactory.standardCelBuilder()
          .setOptions(OPTIONS)
          .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
          .addCompilerLibraries(CelExtensions.strings())
          .addRuntimeLibraries(io.kubezen.watcher.model.CelBudget.runtimeStrings())
          .addFunctionBindings(io.kubezen.watcher.model.CelBudget.bindings())
          .addVar("source", SimpleType.STRING)
          .addVar("category", SimpleType.STRING)
          .addVar("severity", SimpleType.STRING)
          .addVar("severityRank", SimpleType.INT)
          .addVar("eventType", SimpleType.STRING)
          .addVar("title", SimpleType.STRING)
          .addVar("resource", MapType.create(SimpleType.STRING, SimpleType.STRING))
          .addVar("details", MapType.create(SimpleType.STRING, SimpleType.DYN))
          .setResultType(SimpleType.BOOL)
          .build();

  private CelEnvironment() {}

  /**
   * Compiles and type-checks an expression to a program; the message of a failure starts with
   * place.
   */
  static CelRuntime.Program compile(String expression, String place) throws FilterConfigException {
    CelValidationResult result;
    try {
      result = CEL.compile(expression);
    } catch (RuntimeException e) {
      throw new FilterConfigException(place + ": cannot compile: " + e.getMessage(), e);
    }
    if (result.hasError()) {
      throw new FilterConfigException(place + ": " + result.getErrorString());
    }
    CelRuntime.Program program;
    try {
      program = CEL.createProgram(result.getAst());
    } catch (Exception e) {
      throw new FilterConfigException(place + ": " + e.getMessage(), e);
    }
    // Over the cost limit on a worst-case finding: refused at load (the last good filter stays).
    try {
      io.kubezen.watcher.model.CelBudget.eval(program, new Activation(PROBE));
    } catch (io.kubezen.watcher.model.CelBudget.ExceededException e) {
      throw new FilterConfigException(
          place
              + ": refused: on a finding with fields of the largest size it "
              + e.getMessage().replaceFirst("^the expression ", ""));
    } catch (Exception ignored) {
      // other evaluation errors (a missing details key) are the expression's business at run time
    }
    return program;
  }

  /** The worst-case finding: every field as long as it may be. */
  private static final Finding PROBE =
      new Finding(
          "probe",
          io.kubezen.api.v1alpha1.Category.SECURITY,
          io.kubezen.api.v1alpha1.Severity.CRITICAL,
          "probe_" + "x".repeat(58),
          new ResourceRef(
              "x".repeat(io.kubezen.watcher.model.CelBudget.PROBE_STRING),
              "x".repeat(io.kubezen.watcher.model.CelBudget.PROBE_STRING),
              "x".repeat(io.kubezen.watcher.model.CelBudget.PROBE_STRING),
              "probe"),
          "x".repeat(Finding.MAX_TITLE),
          io.kubezen.watcher.model.CelBudget.probeObject(),
          java.time.Instant.EPOCH,
          List.of());

  /**
   * The variables of one finding. Each is computed only when the expression reads it, and at most
   * once per evaluation (an expression often reads {@code details} several times). Not thread-safe:
   * one instance per evaluation.
   */
  static final class Activation implements CelVariableResolver {
    private final Finding finding;
    private Map<String, String> resource;
    private Map<String, Object> details;

    Activation(Finding finding) {
      this.finding = finding;
    }

    @Override
    public Optional<Object> find(String name) {
      return Optional.ofNullable(
          switch (name) {
            case "source" -> finding.source();
            case "category" -> finding.category().wire();
            case "severity" -> finding.severity().wire();
            case "severityRank" -> (long) finding.severity().rank();
            case "eventType" -> finding.eventType();
            case "title" -> finding.title();
            case "resource" -> resource();
            case "details" -> details();
            default -> null;
          });
    }

    private Map<String, String> resource() {
      if (resource == null) {
        ResourceRef r = finding.resource();
        resource =
            r == null
                ? EMPTY_RESOURCE
                : Map.of(
                    "apiVersion",
                    orEmpty(r.apiVersion()),
                    "kind",
                    orEmpty(r.kind()),
                    "name",
                    orEmpty(r.name()),
                    "namespace",
                    orEmpty(r.namespace()));
      }
      return resource;
    }

    private Map<String, Object> details() {
      if (details == null) {
        details = celMap(finding.details());
      }
      return details;
    }
  }

  private static final Map<String, String> EMPTY_RESOURCE =
      Map.of("apiVersion", "", "kind", "", "name", "", "namespace", "");

  private static String orEmpty(String s) {
    return s == null ? "" : s;
  }

  /**
   * A map CEL can read: CEL integers are longs and its doubles are doubles, so other number types
   * are widened; null values are left out (so {@code has(details.x)} is false). Returns the map
   * itself when it needs no change, which is the usual case for strings and booleans only.
   */
  @SuppressWarnings("unchecked")
  static Map<String, Object> celMap(Map<?, ?> map) {
    boolean native_ = true;
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (!(e.getKey() instanceof String) || !isNative(e.getValue())) {
        native_ = false;
        break;
      }
    }
    if (native_) {
      return (Map<String, Object>) map;
    }
    Map<String, Object> out = new HashMap<>(map.size() * 2);
    for (Map.Entry<?, ?> e : map.entrySet()) {
      Object v = celValue(e.getValue());
      if (v != null && e.getKey() != null) {
        out.put(String.valueOf(e.getKey()), v);
      }
    }
    return out;
  }

  private static boolean isNative(Object v) {
    if (v instanceof String || v instanceof Long || v instanceof Double || v instanceof Boolean) {
      return true;
    }
    if (v instanceof List<?> list) {
      for (Object o : list) {
        if (!(o instanceof String
            || o instanceof Long
            || o instanceof Double
            || o instanceof Boolean)) {
          return false;
        }
      }
      return true;
    }
    return false;
  }

  private static Object celValue(Object v) {
    if (v == null || isNative(v)) {
      return v;
    }
    if (v instanceof Integer || v instanceof Short || v instanceof Byte) {
      return ((Number) v).longValue();
    }
    if (v instanceof Float f) {
      return f.doubleValue();
    }
    if (v instanceof BigInteger b) {
      return b.bitLength() < 64 ? (Object) b.longValue() : (Object) b.doubleValue();
    }
    if (v instanceof BigDecimal || v instanceof Number) {
      return ((Number) v).doubleValue();
    }
    if (v instanceof Map<?, ?> m) {
      return celMap(m);
    }
    if (v instanceof Iterable<?> it) {
      List<Object> out = new ArrayList<>();
      for (Object o : it) {
        Object c = celValue(o);
        if (c != null) {
          out.add(c);
        }
      }
      return out;
    }
    return String.valueOf(v);
  }
}
