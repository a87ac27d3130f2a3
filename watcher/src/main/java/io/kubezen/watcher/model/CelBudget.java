package io.kubezen.watcher.model;

import dev.cel.extensions.CelExtensions;
import dev.cel.extensions.CelStringExtensions;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelFunctionBinding;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelVariableResolver;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A cost budget for CEL evaluations (filters and Ingester mappings), since cel-java has no cost
 * limit of its own. Two bounds:
 *
 * <ul>
 *   <li>{@code replace}, the one string function whose result can be many times larger than its
 *       inputs ({@code title.replace('', title)} squares the length), is bound here with its result
 *       size computed before anything is built: over the limit it fails instead of allocating;
 *   <li>every evaluation is traced and the sizes of all intermediate results (characters of
 *       strings, elements of lists and maps, one per other value) are summed: over the limit the
 *       evaluation stops.
 * </ul>
 *
 * <p>Between two traced results memory grows at most by a bounded factor (concatenation doubles,
 * {@code replace} is checked), so an evaluation holds at most a few times the limit. Expressions
 * are also evaluated once at load on a worst-case input ({@link #probeFinding()}, a map that has
 * every key): one over the limit there is refused with a clear error.
 */
public final class CelBudget {
  /** The default of CEL_COST_LIMIT. */
  public static final long DEFAULT_LIMIT = 100_000;

  private static volatile long limit = DEFAULT_LIMIT;

  private CelBudget() {}

  /** Sets the limit for every evaluation from now on (CEL_COST_LIMIT; set once at start). */
  public static void setLimit(long value) {
    if (value < 1) {
      throw new IllegalArgumentException("the CEL cost limit must be positive");
    }
    limit = value;
  }

  public static long limit() {
    return limit;
  }

  /** The evaluation went over the budget. */
  public static final class ExceededException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ExceededException(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * The strings extension for the runtime: everything but {@code replace} (see {@link
   * #bindings()}).
   */
  public static CelStringExtensions runtimeStrings() {
    Set<CelStringExtensions.Function> all = EnumSet.allOf(CelStringExtensions.Function.class);
    all.remove(CelStringExtensions.Function.REPLACE);
    return CelExtensions.strings(all);
  }

  /** {@code replace} with its result size checked against the limit before it is built. */
  public static List<CelFunctionBinding> bindings() {
    return List.of(
        CelFunctionBinding.from(
            "string_replace_string_string",
            List.<Class<?>>of(String.class, String.class, String.class),
            args -> replace((String) args[0], (String) args[1], (String) args[2], -1)),
        CelFunctionBinding.from(
            "string_replace_string_string_int",
            List.<Class<?>>of(String.class, String.class, String.class, Long.class),
            args -> replace((String) args[0], (String) args[1], (String) args[2], (Long) args[3])));
  }

  static String replace(String s, String old, String replacement, long max) {
    if (max == 0) {
      return s;
    }
    long count;
    if (old.isEmpty()) {
      count = s.codePointCount(0, s.length()) + 1L;
    } else {
      count = 0;
      for (int i = s.indexOf(old); i >= 0; i = s.indexOf(old, i + old.length())) {
        count++;
      }
    }
    if (max > 0) {
      count = Math.min(count, max);
    }
    long size = s.length() + count * (replacement.length() - old.length());
    if (size > limit) {
      throw new ExceededException(
          "replace() would build a string of "
              + size
              + " characters, more than the CEL "
              + "cost limit of "
              + limit
              + " (CEL_COST_LIMIT)");
    }
    StringBuilder out = new StringBuilder((int) Math.max(0, size));
    long done = 0;
    if (old.isEmpty()) {
      int i = 0;
      while (i <= s.length()) {
        if (done < count) {
          out.append(replacement);
          done++;
        }
        if (i == s.length()) {
          break;
        }
        int cp = s.codePointAt(i);
        out.appendCodePoint(cp);
        i += Character.charCount(cp);
      }
      return out.toString();
    }
    int from = 0;
    for (int i = s.indexOf(old); i >= 0 && done < count; i = s.indexOf(old, from)) {
      out.append(s, from, i).append(replacement);
      from = i + old.length();
      done++;
    }
    return out.append(s, from, s.length()).toString();
  }

  /** Evaluates {@code program} within the budget. */
  public static Object eval(CelRuntime.Program program, CelVariableResolver vars)
      throws CelEvaluationException {
    long max = limit;
    long[] used = {0};
    try {
      return program.trace(
          vars,
          (expr, result) -> {
            used[0] += 1 + size(result);
            if (used[0] > max) {
              throw new ExceededException(
                  "the expression went over the CEL cost limit of "
                      + max
                      + " (CEL_COST_LIMIT: characters, elements and values built by one evaluation)");
            }
          });
    } catch (RuntimeException | CelEvaluationException e) {
      ExceededException x = exceeded(e);
      if (x != null) {
        throw x;
      }
      throw e;
    }
  }

  /** The same with the variables of a map. */
  public static Object eval(CelRuntime.Program program, Map<String, ?> vars)
      throws CelEvaluationException {
    return eval(program, name -> java.util.Optional.ofNullable(vars.get(name)));
  }

  /** The budget failure in {@code e}'s causes, if it is one. */
  public static ExceededException exceeded(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ExceededException x) {
        return x;
      }
    }
    return null;
  }

  private static long size(Object v) {
    if (v instanceof CharSequence s) {
      return s.length();
    }
    if (v instanceof Collection<?> c) {
      return c.size();
    }
    if (v instanceof Map<?, ?> m) {
      return m.size();
    }
    return 0;
  }

  /** Characters of each probe string: as long as a finding's longest field (details strings). */
  public static final int PROBE_STRING = Details.MAX_STRING;

  /**
   * A map that has every key, each a {@link #PROBE_STRING}-character string: the worst-case input
   * for an expression over a JSON object, since CEL's field selection on a map reads any key.
   */
  public static Map<String, Object> probeObject() {
    return new java.util.AbstractMap<>() {
      private final String value = "x".repeat(PROBE_STRING);

      @Override
      public boolean containsKey(Object key) {
        return true;
      }

      @Override
      public Object get(Object key) {
        return value;
      }

      @Override
      public Set<Entry<String, Object>> entrySet() {
        return Set.of(Map.entry("x", value));
      }
    };
  }
}
