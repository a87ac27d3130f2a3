package io.kubezen.watcher.ingester.spec;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads Ingester documents from YAML (or JSON) text: one or more documents separated by {@code
 * ---}. Pure.
 */
public final class IngesterFiles {
  private static final YAMLMapper YAML = new YAMLMapper();
  private static final ObjectReader SPEC =
      Json.MAPPER
          .readerFor(IngesterSpec.class)
          .with(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  public static final String API_VERSION = Observation.GROUP + "/" + Observation.VERSION;

  private IngesterFiles() {}

  /** One document: its Ingester's name and spec, or the problems that make it unusable. */
  public record Document(int index, String name, IngesterSpec spec, List<String> problems) {}

  /**
   * The documents of a text; empty documents are skipped.
   *
   * @throws IOException when the text is not YAML at all (nothing in it can be used)
   */
  public static List<Document> parse(String text) throws IOException {
    List<Document> out = new ArrayList<>();
    try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(text)) {
      int index = 0;
      while (it.hasNextValue()) {
        JsonNode doc = it.nextValue();
        if (doc == null
            || doc.isNull()
            || doc.isMissingNode()
            || (doc.isObject() && doc.isEmpty())) {
          index++;
          continue;
        }
        out.add(document(index++, doc));
      }
    }
    return out;
  }

  private static Document document(int index, JsonNode doc) {
    List<String> problems = new ArrayList<>();
    if (!doc.isObject()) {
      return new Document(index, null, null, List.of("(document): not a mapping"));
    }
    String kind = doc.path("kind").asText(null);
    String apiVersion = doc.path("apiVersion").asText(null);
    String name = doc.path("metadata").path("name").asText(null);
    if (!"Ingester".equals(kind)) {
      problems.add("kind: must be Ingester, found " + (kind == null ? "none" : "'" + kind + "'"));
    }
    if (!API_VERSION.equals(apiVersion)) {
      problems.add(
          "apiVersion: must be "
              + API_VERSION
              + ", found "
              + (apiVersion == null ? "none" : "'" + apiVersion + "'"));
    }
    IngesterSpec spec = null;
    JsonNode s = doc.get("spec");
    if (s == null || !s.isObject()) {
      problems.add("spec: missing");
    } else {
      try {
        spec = SPEC.readValue(s);
      } catch (IOException e) {
        problems.add("spec: " + oneLine(e));
      }
    }
    return new Document(index, name, spec, problems);
  }

  private static String oneLine(IOException e) {
    String m =
        e instanceof com.fasterxml.jackson.core.JsonProcessingException j
            ? j.getOriginalMessage()
            : e.getMessage();
    return m == null ? e.getClass().getSimpleName() : m.split("\n")[0];
  }
}
