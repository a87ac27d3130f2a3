package io.kubezen.watcher.pipeline.filter;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A parsed filter configuration: rules that apply to every finding ({@code global}) and rules per
 * source name ({@code sources.<name>}). Structure only: the CEL expressions are compiled and
 * type-checked by {@link Filter#compile(FilterConfig)}.
 *
 * <p>The text is YAML or JSON with the same structure (see docs/filter.md). Parsing is strict:
 * unknown keys, wrong types and unknown severities or categories are errors whose message names the
 * exact place ({@code global.minSeverity: ...}), because a typo must never silently disable a
 * filter.
 *
 * @param global rules every finding must pass
 * @param sources rules per source name; a finding must pass {@code global} and its source's rules
 */
public record FilterConfig(Rules global, Map<String, Rules> sources) {

  /** No rules at all: everything passes. */
  public static final FilterConfig EMPTY = new FilterConfig(Rules.NONE, Map.of());

  /** Keys of a rules block, in documentation order. */
  public static final List<String> RULE_KEYS =
      List.of(
          "minSeverity",
          "includeNamespaces",
          "excludeNamespaces",
          "includeKinds",
          "excludeKinds",
          "includeCategories",
          "excludeCategories",
          "includeEventTypes",
          "excludeEventTypes",
          "includeRules",
          "excludeRules",
          "expression");

  private static final List<String> TOP_KEYS = List.of("global", "sources");

  private static final ObjectReader JSON_READER =
      Json.MAPPER.reader().with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private static final YAMLMapper YAML_MAPPER =
      YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  public FilterConfig {
    Objects.requireNonNull(global, "global");
    sources = Map.copyOf(sources);
  }

  /** The rules for a source name; {@link Rules#NONE} when the config has none for it. */
  public Rules forSource(String source) {
    return sources.getOrDefault(source, Rules.NONE);
  }

  /**
   * The rules of one scope ({@code global} or {@code sources.<name>}).
   *
   * @param minSeverity findings less severe than this are dropped; null for no minimum
   * @param includeNamespaces when not empty, only these namespaces pass
   * @param excludeNamespaces these namespaces are dropped ({@code ""} names "no namespace")
   * @param includeKinds when not empty, only these resource kinds pass
   * @param excludeKinds these resource kinds are dropped ({@code ""} names "no resource kind")
   * @param includeCategories when not empty, only these categories pass
   * @param excludeCategories these categories are dropped
   * @param includeEventTypes when not empty, only these event types pass
   * @param excludeEventTypes these event types are dropped
   * @param includeRules when not empty, only findings whose details.rule, details.policy or
   *     details.check_id is listed pass
   * @param excludeRules findings whose details.rule, details.policy or details.check_id is listed
   *     are dropped ({@code ""} names "no rule")
   * @param expression a CEL expression that must be true for the finding to pass; null for none
   */
  public record Rules(
      Severity minSeverity,
      Set<String> includeNamespaces,
      Set<String> excludeNamespaces,
      Set<String> includeKinds,
      Set<String> excludeKinds,
      Set<Category> includeCategories,
      Set<Category> excludeCategories,
      Set<String> includeEventTypes,
      Set<String> excludeEventTypes,
      Set<String> includeRules,
      Set<String> excludeRules,
      String expression) {

    public static final Rules NONE =
        new Rules(
            null, Set.of(), Set.of(), Set.of(), Set.of(), Set.of(), Set.of(), Set.of(), Set.of(),
            Set.of(), Set.of(), null);

    public Rules {
      includeNamespaces = copy(includeNamespaces);
      excludeNamespaces = copy(excludeNamespaces);
      includeKinds = copy(includeKinds);
      excludeKinds = copy(excludeKinds);
      includeCategories = copy(includeCategories);
      excludeCategories = copy(excludeCategories);
      includeEventTypes = copy(includeEventTypes);
      excludeEventTypes = copy(excludeEventTypes);
      includeRules = copy(includeRules);
      excludeRules = copy(excludeRules);
      expression = expression == null || expression.isBlank() ? null : expression.strip();
    }

    /** True when these rules let everything through. */
    public boolean isEmpty() {
      return equals(NONE);
    }

    private static <T> Set<T> copy(Set<T> s) {
      return s == null ? Set.of() : Set.copyOf(s);
    }
  }

  /** Parses YAML or JSON text: JSON first when the text starts with '{', else YAML. */
  public static FilterConfig parse(String text) throws FilterConfigException {
    return fromTree(readTree(text));
  }

  /** Builds a config from an already parsed tree (null or missing: the empty config). */
  public static FilterConfig fromTree(JsonNode root) throws FilterConfigException {
    if (root == null || root.isMissingNode() || root.isNull()) {
      return EMPTY;
    }
    if (!root.isObject()) {
      throw new FilterConfigException(
          "(top level): must be a mapping with keys " + TOP_KEYS + ", found " + describe(root));
    }
    checkKeys(root, "", TOP_KEYS);
    Rules global = Rules.NONE;
    JsonNode g = root.get("global");
    if (g != null && !g.isNull()) {
      global = rules(g, "global");
    }
    Map<String, Rules> sources = new LinkedHashMap<>();
    JsonNode s = root.get("sources");
    if (s != null && !s.isNull()) {
      if (!s.isObject()) {
        throw new FilterConfigException(
            "sources: must be a mapping from source name to rules, found " + describe(s));
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = s.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String name = e.getKey();
        String place = "sources." + name;
        if (!Finding.SOURCE_NAME.matcher(name).matches()) {
          throw new FilterConfigException(
              place
                  + ": a source name must be a DNS-1123 label (lower-case"
                  + " letters, digits and '-', at most 40 characters)");
        }
        sources.put(name, e.getValue().isNull() ? Rules.NONE : rules(e.getValue(), place));
      }
    }
    return new FilterConfig(global, sources);
  }

  static JsonNode readTree(String text) throws FilterConfigException {
    Objects.requireNonNull(text, "text");
    String t = text.startsWith("\uFEFF") ? text.substring(1) : text;
    if (t.isBlank()) {
      return null;
    }
    if (t.stripLeading().startsWith("{")) {
      try {
        return JSON_READER.readTree(t);
      } catch (JsonProcessingException jsonError) {
        // A YAML flow mapping also starts with '{': give YAML its chance, report the JSON error.
        try {
          return YAML_MAPPER.readTree(t);
        } catch (IOException yamlError) {
          throw new FilterConfigException(
              "(document): not valid JSON: " + jsonError.getOriginalMessage() + location(jsonError),
              jsonError);
        }
      }
    }
    try {
      return YAML_MAPPER.readTree(t);
    } catch (JsonProcessingException e) {
      throw new FilterConfigException(
          "(document): not valid YAML: " + e.getOriginalMessage() + location(e), e);
    } catch (IOException e) {
      throw new FilterConfigException("(document): not valid YAML: " + e.getMessage(), e);
    }
  }

  private static String location(JsonProcessingException e) {
    return e.getLocation() == null
        ? ""
        : " (line "
            + e.getLocation().getLineNr()
            + ", column "
            + e.getLocation().getColumnNr()
            + ")";
  }

  private static Rules rules(JsonNode node, String place) throws FilterConfigException {
    if (!node.isObject()) {
      throw new FilterConfigException(
          place + ": must be a mapping with keys " + RULE_KEYS + ", found " + describe(node));
    }
    checkKeys(node, place + ".", RULE_KEYS);
    Severity minSeverity = null;
    JsonNode ms = node.get("minSeverity");
    if (ms != null && !ms.isNull()) {
      String text = string(ms, place + ".minSeverity");
      minSeverity =
          Severity.parse(text)
              .orElseThrow(
                  () ->
                      new FilterConfigException(
                          place
                              + ".minSeverity: unknown severity '"
                              + text
                              + "' (expected one of "
                              + wires(Severity.values(), Severity::wire)
                              + ")"));
    }
    String expression = null;
    JsonNode ex = node.get("expression");
    if (ex != null && !ex.isNull()) {
      expression = string(ex, place + ".expression");
    }
    return new Rules(
        minSeverity,
        names(node, place, "includeNamespaces", false),
        names(node, place, "excludeNamespaces", true),
        names(node, place, "includeKinds", false),
        names(node, place, "excludeKinds", true),
        categories(node, place, "includeCategories"),
        categories(node, place, "excludeCategories"),
        eventTypes(node, place, "includeEventTypes"),
        eventTypes(node, place, "excludeEventTypes"),
        names(node, place, "includeRules", false),
        names(node, place, "excludeRules", true),
        expression);
  }

  private static void checkKeys(JsonNode node, String prefix, List<String> known)
      throws FilterConfigException {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!known.contains(key)) {
        throw new FilterConfigException(
            prefix + key + ": unknown key (known keys: " + String.join(", ", known) + ")");
      }
    }
  }

  /** Plain names; "" is allowed only in exclude lists, where it names "no value". */
  private static Set<String> names(JsonNode node, String place, String key, boolean emptyAllowed)
      throws FilterConfigException {
    Set<String> out = new LinkedHashSet<>();
    List<String> values = strings(node.get(key), place + "." + key);
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i).strip();
      if (v.isEmpty() && !emptyAllowed) {
        throw new FilterConfigException(
            place
                + "."
                + key
                + "["
                + i
                + "]: an empty name never matches here;"
                + " findings with no value are never dropped by include lists (list \"\" in the exclude list to"
                + " drop them)");
      }
      out.add(v);
    }
    return out;
  }

  private static Set<Category> categories(JsonNode node, String place, String key)
      throws FilterConfigException {
    Set<Category> out = new LinkedHashSet<>();
    List<String> values = strings(node.get(key), place + "." + key);
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i);
      int index = i;
      out.add(
          Category.parse(v)
              .orElseThrow(
                  () ->
                      new FilterConfigException(
                          place
                              + "."
                              + key
                              + "["
                              + index
                              + "]: unknown category '"
                              + v
                              + "' (expected one of "
                              + wires(Category.values(), Category::wire)
                              + ")")));
    }
    return out;
  }

  private static Set<String> eventTypes(JsonNode node, String place, String key)
      throws FilterConfigException {
    Set<String> out = new LinkedHashSet<>();
    List<String> values = strings(node.get(key), place + "." + key);
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i).strip();
      if (!Finding.EVENT_TYPE.matcher(v).matches()) {
        throw new FilterConfigException(
            place
                + "."
                + key
                + "["
                + i
                + "]: '"
                + v
                + "' is not an event type (event types match ^[a-z0-9_]+$, e.g. runtime_threat)");
      }
      out.add(v);
    }
    return out;
  }

  private static List<String> strings(JsonNode list, String place) throws FilterConfigException {
    if (list == null || list.isNull()) {
      return List.of();
    }
    if (!list.isArray()) {
      throw new FilterConfigException(
          place + ": must be a list of strings, found " + describe(list));
    }
    String[] out = new String[list.size()];
    for (int i = 0; i < list.size(); i++) {
      out[i] = string(list.get(i), place + "[" + i + "]");
    }
    return Arrays.asList(out);
  }

  private static String string(JsonNode node, String place) throws FilterConfigException {
    if (!node.isTextual()) {
      throw new FilterConfigException(place + ": must be a string, found " + describe(node));
    }
    return node.textValue();
  }

  private static String describe(JsonNode node) {
    return switch (node.getNodeType()) {
      case ARRAY -> "a list";
      case OBJECT -> "a mapping";
      case BOOLEAN -> "a boolean (" + node.asText() + ")";
      case NUMBER -> "a number (" + node.asText() + ")";
      case NULL -> "null";
      case STRING -> "a string";
      default -> node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    };
  }

  private static <E> String wires(E[] values, Function<E, String> wire) {
    return Arrays.stream(values).map(wire).collect(Collectors.joining(", "));
  }
}
