package io.kubezen.api.crd;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * Renders {@code kubectl explain} text from a CRD's schema, in the layout of kubectl's plaintext
 * template (kubectl 1.27 and later): a header, the field with its type, its enum values, its
 * description, and for an object its fields with their types, {@code -required-}, enums and
 * descriptions, wrapped at 80 columns. Written because the build has no kubectl and the test API
 * server serves no OpenAPI; it reads only the generated schema, so it shows exactly what a cluster
 * with these CRDs would explain. One difference: for the resource itself kubectl also lists {@code
 * apiVersion}, {@code kind} and {@code metadata}, which the API server adds to every resource; they
 * are not in the CRD and not shown here.
 */
final class Explain {
  static final int WIDTH = 80;

  private Explain() {}

  /** A schema node and where it is: {@code path} is e.g. {@code observation.spec.severity}. */
  record Node(String path, String name, JSONSchemaProps schema, boolean required) {}

  /**
   * The node at {@code path} (the singular name, then field names; an array's fields are those of
   * its items, as kubectl does).
   */
  static Node find(CustomResourceDefinition crd, String path) {
    String[] parts = path.split("\\.");
    String singular = crd.getSpec().getNames().getSingular();
    if (!parts[0].equals(singular)) {
      throw new IllegalArgumentException(path + " does not start with " + singular);
    }
    Node node = new Node(singular, singular, version(crd).getSchema().getOpenAPIV3Schema(), false);
    for (int i = 1; i < parts.length; i++) {
      JSONSchemaProps object = fieldsOf(node.schema());
      JSONSchemaProps child =
          object == null || object.getProperties() == null
              ? null
              : object.getProperties().get(parts[i]);
      if (child == null) {
        throw new IllegalArgumentException(
            "field " + parts[i] + " does not exist in " + node.path());
      }
      node = new Node(node.path() + "." + parts[i], parts[i], child, isRequired(object, parts[i]));
    }
    return node;
  }

  /** Every node of the schema, depth first, fields in name order; the root first. */
  static List<Node> all(CustomResourceDefinition crd) {
    List<Node> out = new ArrayList<>();
    String singular = crd.getSpec().getNames().getSingular();
    walk(
        new Node(singular, singular, version(crd).getSchema().getOpenAPIV3Schema(), false),
        out::add);
    return out;
  }

  private static void walk(Node node, java.util.function.Consumer<Node> visit) {
    visit.accept(node);
    JSONSchemaProps object = fieldsOf(node.schema());
    if (object != null && object.getProperties() != null) {
      new TreeMap<>(object.getProperties())
          .forEach(
              (name, child) ->
                  walk(
                      new Node(node.path() + "." + name, name, child, isRequired(object, name)),
                      visit));
    }
  }

  /** What {@code kubectl explain <path>} prints. */
  static String explain(CustomResourceDefinition crd, String path) {
    Node node = find(crd, path);
    StringBuilder out = new StringBuilder();
    if (!crd.getSpec().getGroup().isEmpty()) {
      out.append("GROUP:      ").append(crd.getSpec().getGroup()).append('\n');
    }
    out.append("KIND:       ").append(crd.getSpec().getNames().getKind()).append('\n');
    out.append("VERSION:    ").append(version(crd).getName()).append("\n\n");
    boolean root = !node.path().contains(".");
    if (!root) {
      out.append("FIELD: ")
          .append(node.name())
          .append(" <")
          .append(typeOf(node.schema()))
          .append(">\n");
      List<String> values = enumValues(node.schema());
      if (!values.isEmpty()) {
        out.append("\nENUM:\n");
        values.forEach(v -> out.append("    ").append(v).append('\n'));
      }
      out.append('\n');
    }
    out.append("DESCRIPTION:\n");
    wrap(description(node.schema()), "    ", out);
    JSONSchemaProps object = fieldsOf(node.schema());
    if (object != null && object.getProperties() != null && !object.getProperties().isEmpty()) {
      out.append("\nFIELDS:\n");
      boolean first = true;
      for (Map.Entry<String, JSONSchemaProps> f :
          new TreeMap<>(object.getProperties()).entrySet()) {
        if (!first) {
          out.append('\n');
        }
        first = false;
        out.append("  ")
            .append(f.getKey())
            .append('\t')
            .append('<')
            .append(typeOf(f.getValue()))
            .append('>');
        if (isRequired(object, f.getKey())) {
          out.append(" -required-");
        }
        out.append('\n');
        List<String> values = enumValues(f.getValue());
        if (!values.isEmpty()) {
          out.append("  enum: ").append(String.join(", ", values)).append('\n');
        }
        wrap(description(f.getValue()), "    ", out);
      }
    }
    return out.toString();
  }

  /** For each node: the path and a problem when its description is missing or says nothing. */
  static void descriptionProblems(
      CustomResourceDefinition crd, BiConsumer<String, String> problem) {
    for (Node node : all(crd)) {
      String problemText = descriptionProblem(node.name(), node.schema().getDescription());
      if (problemText != null) {
        problem.accept(node.path(), problemText);
      }
    }
  }

  /**
   * Null when {@code description} says something about the field {@code name}; else what is wrong:
   * missing, blank, fewer than three words, or only the field's name again.
   */
  static String descriptionProblem(String name, String description) {
    if (description == null || description.isBlank()) {
      return "no description";
    }
    String words = description.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", " ").trim();
    String nameWords =
        name.replaceAll("([a-z0-9])([A-Z])", "$1 $2")
            .toLowerCase(Locale.ROOT)
            .replaceAll("[^a-z0-9]+", " ")
            .trim();
    if (words.equals(nameWords)
        || words.equals("the " + nameWords)
        || words.equals(nameWords.replace(" ", ""))) {
      return "the description only repeats the field name: '" + description + "'";
    }
    if (words.split(" ").length < 3) {
      return "the description is too short to say what the field means: '" + description + "'";
    }
    return null;
  }

  private static CustomResourceDefinitionVersion version(CustomResourceDefinition crd) {
    return crd.getSpec().getVersions().stream()
        .filter(CustomResourceDefinitionVersion::getStorage)
        .findFirst()
        .orElseThrow();
  }

  /**
   * The schema whose properties are a node's fields: the node's own, or its items' for an array.
   */
  private static JSONSchemaProps fieldsOf(JSONSchemaProps s) {
    if ("array".equals(s.getType())) {
      return s.getItems() == null ? null : s.getItems().getSchema();
    }
    return s;
  }

  private static boolean isRequired(JSONSchemaProps object, String field) {
    return object.getRequired() != null && object.getRequired().contains(field);
  }

  static String typeOf(JSONSchemaProps s) {
    String type = s.getType() == null ? "Object" : s.getType();
    return switch (type) {
      case "array" ->
          "[]"
              + (s.getItems() == null || s.getItems().getSchema() == null
                  ? "Object"
                  : typeOf(s.getItems().getSchema()));
      case "object" ->
          s.getAdditionalProperties() != null && s.getAdditionalProperties().getSchema() != null
              ? "map[string]" + typeOf(s.getAdditionalProperties().getSchema())
              : "Object";
      default -> type;
    };
  }

  private static List<String> enumValues(JSONSchemaProps s) {
    return s.getEnum() == null
        ? List.of()
        : s.getEnum().stream().map(n -> n.asText()).sorted().toList();
  }

  private static String description(JSONSchemaProps s) {
    return s.getDescription() == null ? "<empty>" : s.getDescription();
  }

  /**
   * Appends {@code text} wrapped at {@link #WIDTH} columns, each line starting with {@code indent}.
   */
  static void wrap(String text, String indent, StringBuilder out) {
    for (String paragraph : text.split("\n")) {
      StringBuilder line = new StringBuilder(indent);
      for (String word : paragraph.trim().split("\\s+")) {
        if (line.length() > indent.length() && line.length() + 1 + word.length() > WIDTH) {
          out.append(line).append('\n');
          line = new StringBuilder(indent);
        }
        if (line.length() > indent.length()) {
          line.append(' ');
        }
        line.append(word);
      }
      out.append(line).append('\n');
    }
  }
}
