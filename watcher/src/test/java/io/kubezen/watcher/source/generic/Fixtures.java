package io.kubezen.watcher.source.generic;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.model.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Reads the test fixtures under src/test/resources/samples/. */
final class Fixtures {
  private Fixtures() {}

  static JsonNode sample(String path) {
    try (InputStream in = Fixtures.class.getResourceAsStream("/samples/" + path)) {
      if (in == null) {
        throw new IllegalArgumentException("no sample " + path);
      }
      return Json.MAPPER.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static JsonNode json(String json) {
    try {
      return Json.MAPPER.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
