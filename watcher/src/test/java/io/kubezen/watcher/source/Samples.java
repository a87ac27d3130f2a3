package io.kubezen.watcher.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** Reads test fixtures from {@code samples/<source>/}. */
public final class Samples {
  private Samples() {}

  public static String text(String path) {
    try (InputStream in = Samples.class.getResourceAsStream("/samples/" + path)) {
      if (in == null) {
        throw new IllegalArgumentException("no sample " + path);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static JsonNode json(String path) {
    return parse(text(path));
  }

  /** The same as {@link #json}: the parsed fixture at {@code samples/<path>}. */
  public static JsonNode sample(String path) {
    return json(path);
  }

  public static JsonNode parse(String json) {
    try {
      return Json.MAPPER.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Newline-delimited JSON as the HTTP layer hands it over: an array of the lines' objects. */
  public static ArrayNode ndjson(String path) {
    ArrayNode array = Json.MAPPER.createArrayNode();
    for (String line : text(path).split("\n")) {
      if (!line.isBlank()) {
        array.add(parse(line));
      }
    }
    return array;
  }
}
