package io.kubezen.watcher.ingester.mapping;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.CelErrorCode;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationResult;
import dev.cel.common.types.SimpleType;
import dev.cel.common.values.NullValue;
import dev.cel.extensions.CelExtensions;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CEL environment of Ingester mappings: {@code object} (the input object) and {@code item} (the
 * current element when {@code forEach} is set), both dynamically typed, the standard macros ({@code
 * has}, {@code map}, {@code filter}, ...) and the strings extension. Thread-safe.
 */
final class MappingCel {
  static final int MAX_COMPREHENSION_ITERATIONS = 10_000;
  static final int MAX_EXPRESSION_LENGTH = 4_096;

  private static final CelOptions OPTIONS =
      CelOptions.current()
          .enableHeterogeneousNumericComparisons(true)
          .comprehensionMaxIterations(MAX_COMPREHENSION_ITERATIONS)
          .maxExpressionCodePointSize(MAX_EXPRESSION_LENGTH)
          .build();

  private static final Cel OBJECT_ONLY = base().build();
  private static final Cel WITH_ITEM = base().addVar("item", SimpleType.DYN).build();

  private MappingCel() {}

  private static dev.cel.bundle.CelBuilder base() {
    return CelFactory.standardCelBuilder()
        .setOptions(OPTIONS)
        .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
        .addCompilerLibraries(CelExtensions.strings())
        .addRuntimeLibraries(io.kubezen.watcher.model.CelBudget.runtimeStrings())
        .addFunctionBindings(io.kubezen.watcher.model.CelBudget.bindings())
        .addVar("object", SimpleType.DYN);
  }

  /** Thrown with a message starting with the place ({@code mapping.severity: ...}). */
  static final class CompileException extends Exception {
    CompileException(String message) {
      super(message);
    }
  }

  /**
   * Compiles an expression.
   *
   * @param withItem whether {@code item} is declared (mappings of an Ingester with {@code forEach})
   */
  static CelRuntime.Program compile(String expression, String place, boolean withItem)
      throws CompileException {
    if (expression == null || expression.isBlank()) {
      throw new CompileException(place + ": empty expression");
    }
    Cel cel = withItem ? WITH_ITEM : OBJECT_ONLY;
    CelValidationResult result;
    try {
      result = cel.compile(expression);
    } catch (RuntimeException e) {
      throw new CompileException(place + ": cannot compile: " + e.getMessage());
    }
    if (result.hasError()) {
      throw new CompileException(place + ": " + oneLine(result.getErrorString()));
    }
    CelRuntime.Program program;
    try {
      program = cel.createProgram(result.getAst());
    } catch (Exception e) {
      throw new CompileException(place + ": " + oneLine(e.getMessage()));
    }
    // Over the cost limit on a worst-case object (every key present, each a long string): refused.
    Map<String, Object> probe = io.kubezen.watcher.model.CelBudget.probeObject();
    try {
      io.kubezen.watcher.model.CelBudget.eval(
          program, withItem ? Map.of("object", probe, "item", probe) : Map.of("object", probe));
    } catch (io.kubezen.watcher.model.CelBudget.ExceededException e) {
      throw new CompileException(
          place
              + ": refused: on an input with fields of "
              + io.kubezen.watcher.model.CelBudget.PROBE_STRING
              + " characters it "
              + e.getMessage().replaceFirst("^the expression ", ""));
    } catch (Exception ignored) {
      // other evaluation errors (missing keys, wrong types) depend on the input
    }
    return program;
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*\\n\\s*", " | ");
  }

  /**
   * True when an evaluation failed only because a key or field is absent (the value is "missing").
   */
  static boolean isMissing(CelEvaluationException e) {
    if (e.getErrorCode() == CelErrorCode.ATTRIBUTE_NOT_FOUND) {
      return true;
    }
    String m = e.getMessage();
    return m != null
        && (m.contains("no such key")
            || m.contains("no such field")
            || m.contains("no such attribute"));
  }

  /** A JSON tree as CEL values: maps, lists, strings, longs, doubles, booleans, and CEL null. */
  static Object value(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) {
      return NullValue.NULL_VALUE;
    }
    if (n.isObject()) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        m.put(e.getKey(), value(e.getValue()));
      }
      return m;
    }
    if (n.isArray()) {
      List<Object> l = new ArrayList<>(n.size());
      for (JsonNode e : n) {
        l.add(value(e));
      }
      return l;
    }
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    if (n.isIntegralNumber()) {
      return n.canConvertToLong() ? (Object) n.longValue() : (Object) n.doubleValue();
    }
    if (n.isNumber()) {
      return n.doubleValue();
    }
    return n.asText();
  }
}
