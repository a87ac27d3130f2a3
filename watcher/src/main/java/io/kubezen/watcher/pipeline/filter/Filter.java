package io.kubezen.watcher.pipeline.filter;

import dev.cel.runtime.CelRuntime;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.watcher.model.Finding;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * A compiled filter: decides for each Finding whether it goes on down the pipeline. Immutable and
 * thread-safe; {@link #apply(Finding)} compiles nothing and allocates little.
 *
 * <p>A finding must pass the {@code global} rules and the rules of its source. The checks run
 * cheapest first: minimum severity, category, event type, namespace, kind, rule (of both scopes),
 * then the CEL expressions (global, then the source's). The first failing check gives the drop
 * reason. A CEL expression that fails to evaluate (e.g. a missing details key) keeps the finding: a
 * security tool never silently loses one; the {@link Decision} says so.
 */
public final class Filter {

  /** Lets everything through. */
  public static final Filter ALLOW_ALL = new Filter(FilterConfig.EMPTY, null, Map.of());

  private static final String[] RULE_KEYS = {"rule", "policy", "check_id"};

  private final FilterConfig config;
  private final Scope global;
  private final Map<String, Scope> sources;

  /** A filter a finding must pass as well, after this one (an Ingester's own); null for none. */
  private final Filter next;

  private Filter(FilterConfig config, Scope global, Map<String, Scope> sources) {
    this(config, global, sources, null);
  }

  private Filter(FilterConfig config, Scope global, Map<String, Scope> sources, Filter next) {
    this.config = config;
    this.global = global;
    this.sources = sources;
    this.next = next;
  }

  /**
   * This filter, then {@code other}: a finding is kept only when both keep it; the first drop gives
   * the reason, an expression error of either is reported. {@link #config()} stays this filter's.
   */
  public Filter andThen(Filter other) {
    if (other == null || other.allowsAll()) {
      return this;
    }
    if (allowsAll()) {
      return other;
    }
    return new Filter(config, global, sources, next == null ? other : next.andThen(other));
  }

  /**
   * Compiles a config: every CEL expression is compiled and type-checked to bool.
   *
   * @throws FilterConfigException naming the place, e.g. {@code sources.falco.expression: ...}
   */
  public static Filter compile(FilterConfig config) throws FilterConfigException {
    Scope global = Scope.of("global", config.global());
    Map<String, Scope> sources = new HashMap<>();
    for (Map.Entry<String, FilterConfig.Rules> e : config.sources().entrySet()) {
      Scope s = Scope.of("sources." + e.getKey(), e.getValue());
      if (s != null) {
        sources.put(e.getKey(), s);
      }
    }
    if (global == null && sources.isEmpty()) {
      return new Filter(config, null, Map.of());
    }
    return new Filter(config, global, Map.copyOf(sources));
  }

  /** Parses (YAML or JSON) and compiles. */
  public static Filter parse(String text) throws FilterConfigException {
    return compile(FilterConfig.parse(text));
  }

  public FilterConfig config() {
    return config;
  }

  /** True when no rule can drop anything. */
  public boolean allowsAll() {
    return global == null && sources.isEmpty() && next == null;
  }

  /** Decides for one finding. Never throws for a valid Finding. */
  public Decision apply(Finding finding) {
    Decision own = applyOwn(finding);
    if (next == null || own.dropped()) {
      return own;
    }
    Decision then = next.apply(finding);
    return then.dropped() || !own.expressionError() ? then : own;
  }

  private Decision applyOwn(Finding finding) {
    Scope source = sources.isEmpty() ? null : sources.get(finding.source());
    if (global == null && source == null) {
      return Decision.KEEP;
    }
    if (global != null) {
      Decision d = global.checkFields(finding);
      if (d != null) {
        return d;
      }
    }
    if (source != null) {
      Decision d = source.checkFields(finding);
      if (d != null) {
        return d;
      }
    }
    CelEnvironment.Activation activation = null;
    Decision error = null;
    if (global != null && global.program != null) {
      activation = new CelEnvironment.Activation(finding);
      Decision d = global.evaluate(activation);
      if (d.dropped()) {
        return d;
      }
      if (d.expressionError()) {
        error = d;
      }
    }
    if (source != null && source.program != null) {
      if (activation == null) {
        activation = new CelEnvironment.Activation(finding);
      }
      Decision d = source.evaluate(activation);
      if (d.dropped()) {
        return d;
      }
      if (d.expressionError() && error == null) {
        error = d;
      }
    }
    return error != null ? error : Decision.KEEP;
  }

  @Override
  public String toString() {
    return "Filter" + config;
  }

  /** The compiled rules of one scope; null sets mean "no such rule". */
  private static final class Scope {
    final String name;
    final int minRank;
    final EnumSet<Category> includeCategories;
    final EnumSet<Category> excludeCategories;
    final Set<String> includeEventTypes;
    final Set<String> excludeEventTypes;
    final Set<String> includeNamespaces;
    final Set<String> excludeNamespaces;
    final Set<String> includeKinds;
    final Set<String> excludeKinds;
    final Set<String> includeRules;
    final Set<String> excludeRules;
    final CelRuntime.Program program;
    final Map<DropReason, Decision> drops = new EnumMap<>(DropReason.class);

    private Scope(String name, FilterConfig.Rules r, CelRuntime.Program program) {
      this.name = name;
      this.minRank = r.minSeverity() == null ? Integer.MIN_VALUE : r.minSeverity().rank();
      this.includeCategories =
          r.includeCategories().isEmpty() ? null : EnumSet.copyOf(r.includeCategories());
      this.excludeCategories =
          r.excludeCategories().isEmpty() ? null : EnumSet.copyOf(r.excludeCategories());
      this.includeEventTypes = orNull(r.includeEventTypes());
      this.excludeEventTypes = orNull(r.excludeEventTypes());
      this.includeNamespaces = orNull(r.includeNamespaces());
      this.excludeNamespaces = orNull(r.excludeNamespaces());
      this.includeKinds = orNull(r.includeKinds());
      this.excludeKinds = orNull(r.excludeKinds());
      this.includeRules = orNull(r.includeRules());
      this.excludeRules = orNull(r.excludeRules());
      this.program = program;
      for (DropReason reason : DropReason.values()) {
        drops.put(reason, Decision.drop(reason, name));
      }
    }

    static Scope of(String name, FilterConfig.Rules rules) throws FilterConfigException {
      if (rules.isEmpty()) {
        return null;
      }
      CelRuntime.Program program =
          rules.expression() == null
              ? null
              : CelEnvironment.compile(rules.expression(), name + ".expression");
      return new Scope(name, rules, program);
    }

    private static Set<String> orNull(Set<String> s) {
      return s.isEmpty() ? null : s;
    }

    /** The non-CEL rules, cheapest first; null when they all pass. */
    Decision checkFields(Finding f) {
      if (f.severity().rank() < minRank) {
        return drops.get(DropReason.MIN_SEVERITY);
      }
      if ((includeCategories != null && !includeCategories.contains(f.category()))
          || (excludeCategories != null && excludeCategories.contains(f.category()))) {
        return drops.get(DropReason.CATEGORY);
      }
      if ((includeEventTypes != null && !includeEventTypes.contains(f.eventType()))
          || (excludeEventTypes != null && excludeEventTypes.contains(f.eventType()))) {
        return drops.get(DropReason.EVENT_TYPE);
      }
      ResourceRef r = f.resource();
      if ((includeNamespaces != null || excludeNamespaces != null)
          && !passes(r == null ? null : r.namespace(), includeNamespaces, excludeNamespaces)) {
        return drops.get(DropReason.NAMESPACE);
      }
      if ((includeKinds != null || excludeKinds != null)
          && !passes(r == null ? null : r.kind(), includeKinds, excludeKinds)) {
        return drops.get(DropReason.KIND);
      }
      if ((includeRules != null || excludeRules != null) && !rulePasses(f.details())) {
        return drops.get(DropReason.RULE);
      }
      return null;
    }

    /**
     * A missing value ("" or null) is not judged by the include list (a cluster-scoped or
     * host-level finding is not "outside" a namespace list); an exclude list drops it when it names
     * "".
     */
    private static boolean passes(String value, Set<String> include, Set<String> exclude) {
      String v = value == null ? "" : value;
      if (v.isEmpty()) {
        return exclude == null || !exclude.contains("");
      }
      if (exclude != null && exclude.contains(v)) {
        return false;
      }
      return include == null || include.contains(v);
    }

    /**
     * The rule names are details.rule, details.policy and details.check_id, whichever are present.
     */
    private boolean rulePasses(Map<String, Object> details) {
      boolean any = false;
      boolean included = includeRules == null;
      for (String key : RULE_KEYS) {
        Object v = details.get(key);
        if (v == null) {
          continue;
        }
        String name = v.toString();
        if (name.isEmpty()) {
          continue;
        }
        any = true;
        if (excludeRules != null && excludeRules.contains(name)) {
          return false;
        }
        if (!included && includeRules.contains(name)) {
          included = true;
        }
      }
      if (!any) {
        return excludeRules == null || !excludeRules.contains("");
      }
      return included;
    }

    Decision evaluate(CelEnvironment.Activation activation) {
      Object result;
      try {
        result = io.kubezen.watcher.model.CelBudget.eval(program, activation);
      } catch (Exception e) {
        return Decision.keptWithError(name, name + ".expression: " + e.getMessage());
      }
      if (result instanceof Boolean b) {
        return b ? Decision.KEEP : drops.get(DropReason.EXPRESSION);
      }
      return Decision.keptWithError(
          name,
          name
              + ".expression: evaluated to "
              + (result == null ? "null" : result.getClass().getSimpleName())
              + ", not a bool");
    }
  }
}
