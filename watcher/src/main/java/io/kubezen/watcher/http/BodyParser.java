package io.kubezen.watcher.http;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.BodyFormat;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Turns a webhook body into a JSON tree, refusing anything malformed with a message that says where
 * and what. Hostile input stays cheap: nesting is capped at {@link Json#MAX_NESTING}, YAML aliases
 * are capped, and the body size was capped before this is called.
 */
public final class BodyParser {

  /** The body is not well-formed in its format: HTTP 400. */
  public static final class MalformedBodyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    MalformedBodyException(String message) {
      super(message, null, false, false);
    }
  }

  private static final ObjectMapper YAML;

  static {
    LoaderOptions options = new LoaderOptions();
    options.setMaxAliasesForCollections(20);
    options.setNestingDepthLimit(Json.MAX_NESTING);
    options.setCodePointLimit(Integer.MAX_VALUE);
    options.setAllowDuplicateKeys(false);
    YAML = new YAMLMapper(YAMLFactory.builder().loaderOptions(options).build());
    YAML.getFactory()
        .setStreamReadConstraints(
            StreamReadConstraints.builder().maxNestingDepth(Json.MAX_NESTING).build());
  }

  private static final ObjectReader JSON_VALUES = Json.MAPPER.readerFor(JsonNode.class);

  /** The body holds more findings than the request may: HTTP 413. */
  public static final class TooManyFindingsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TooManyFindingsException(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * What a body will cost before it is turned into a tree: its tokens (each a tree node) and its
   * elements (each a finding, at most): the top-level values, the elements of a top-level array,
   * and the elements of the arrays of a top-level object ({@code items} of a List).
   */
  public record Scan(long tokens, long elements) {
    /** Estimated heap bytes of the parsed tree, the findings and their Observations. */
    public long estimatedBytes(long bodyBytes) {
      return bodyBytes + tokens * BYTES_PER_TOKEN + elements * BYTES_PER_ELEMENT;
    }
  }

  /**
   * A tree node with its map entry and text: measured ~100 bytes on a 64-bit JVM with compressed
   * oops.
   */
  static final long BYTES_PER_TOKEN = 128;

  /** A Finding, its Observation, dedup entry and queue slot: a few KiB with details. */
  static final long BYTES_PER_ELEMENT = 4096;

  /**
   * Reads the body as a token stream, without building anything, and counts its tokens and
   * elements; stops as soon as the elements exceed {@code maxElements}.
   *
   * @throws TooManyFindingsException over {@code maxElements}
   * @throws MalformedBodyException when it is not well-formed (the same answer the parse would
   *     give)
   */
  public static Scan scan(byte[] body, BodyFormat format, int maxElements) {
    if (isBlank(body)) {
      throw new MalformedBodyException("the request body is empty");
    }
    com.fasterxml.jackson.core.JsonFactory factory =
        format == BodyFormat.YAML ? YAML.getFactory() : Json.MAPPER.getFactory();
    long tokens = 0;
    long elements = 0;
    long topValues = 0;
    // containers[d]: true when the container at depth d is an array
    boolean[] arrays = new boolean[Json.MAX_NESTING + 2];
    int depth = 0;
    try (com.fasterxml.jackson.core.JsonParser p = factory.createParser(body)) {
      com.fasterxml.jackson.core.JsonToken t;
      while ((t = p.nextToken()) != null) {
        tokens++;
        if (t == com.fasterxml.jackson.core.JsonToken.END_OBJECT
            || t == com.fasterxml.jackson.core.JsonToken.END_ARRAY) {
          depth--;
          continue;
        }
        if (t == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
          continue;
        }
        // a value starts at this depth
        if (depth == 0) {
          topValues++;
        } else if ((depth == 1 && arrays[1]) || (depth == 2 && arrays[2] && !arrays[1])) {
          elements++;
          if (elements > maxElements) {
            throw new TooManyFindingsException(
                "the request holds more than "
                    + maxElements
                    + " findings (elements); send them in smaller batches");
          }
        }
        if (t == com.fasterxml.jackson.core.JsonToken.START_OBJECT
            || t == com.fasterxml.jackson.core.JsonToken.START_ARRAY) {
          depth++;
          if (depth < arrays.length) {
            arrays[depth] = t == com.fasterxml.jackson.core.JsonToken.START_ARRAY;
          }
        }
      }
    } catch (StreamConstraintsException e) {
      throw new MalformedBodyException(
          "the body is nested too deeply or too large (" + e.getOriginalMessage() + ")");
    } catch (JacksonException e) {
      throw new MalformedBodyException(
          "malformed "
              + (format == BodyFormat.JSON ? "JSON" : format.name())
              + where(e)
              + ": "
              + shorten(e.getOriginalMessage()));
    } catch (IOException | RuntimeException e) {
      if (e instanceof TooManyFindingsException tm) {
        throw tm;
      }
      throw new MalformedBodyException(
          "malformed " + format.name() + ": " + shorten(String.valueOf(e.getMessage())));
    }
    long count = Math.max(elements, topValues);
    if (count > maxElements) {
      throw new TooManyFindingsException(
          "the request holds more than "
              + maxElements
              + " findings (values); send them in smaller batches");
    }
    return new Scan(tokens, count);
  }

  private BodyParser() {}

  /**
   * @return one value as it is; several values (NDJSON lines, YAML documents, or concatenated JSON
   *     values where {@code sequence} allows them) as an array of them
   * @param sequence whether several top-level JSON values are allowed (audit logs)
   */
  public static JsonNode parse(byte[] body, BodyFormat format, boolean sequence) {
    if (isBlank(body)) {
      throw new MalformedBodyException("the request body is empty");
    }
    try {
      return switch (format) {
        case JSON -> sequence ? values(JSON_VALUES, body, "JSON") : Json.MAPPER.readTree(body);
        case NDJSON -> values(JSON_VALUES, body, "NDJSON");
        case YAML -> values(YAML.readerFor(JsonNode.class), body, "YAML");
      };
    } catch (StreamConstraintsException e) {
      throw new MalformedBodyException(
          "the body is nested too deeply or too large (" + e.getOriginalMessage() + ")");
    } catch (JacksonException e) {
      throw new MalformedBodyException(
          "malformed "
              + (format == BodyFormat.JSON ? "JSON" : format.name())
              + where(e)
              + ": "
              + shorten(e.getOriginalMessage()));
    } catch (IOException | RuntimeException e) {
      // SnakeYAML reports some problems (alias limits, duplicate keys) as its own runtime
      // exceptions.
      throw new MalformedBodyException(
          "malformed " + format.name() + ": " + shorten(String.valueOf(e.getMessage())));
    }
  }

  private static JsonNode values(ObjectReader reader, byte[] body, String what) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    try (MappingIterator<JsonNode> it = reader.readValues(body)) {
      while (it.hasNextValue()) {
        JsonNode n = it.nextValue();
        if (n != null && !n.isNull() && !n.isMissingNode()) {
          out.add(n);
        }
      }
    }
    if (out.isEmpty()) {
      throw new MalformedBodyException("the " + what + " body holds no value");
    }
    if (out.size() == 1) {
      return out.get(0);
    }
    ArrayNode array = Json.MAPPER.createArrayNode();
    out.forEach(array::add);
    return array;
  }

  private static String where(JacksonException e) {
    JsonLocation loc = e.getLocation();
    if (loc == null || loc.getLineNr() < 0) {
      return "";
    }
    return " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
  }

  /** Jackson messages quote input: keep them short and on one line. */
  static String shorten(String message) {
    if (message == null) {
      return "unreadable input";
    }
    String one = message.replaceAll("\\s+", " ").strip();
    return one.length() <= 300 ? one : one.substring(0, 299) + "…";
  }

  private static boolean isBlank(byte[] body) {
    for (byte b : body) {
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        return false;
      }
    }
    return true;
  }
}
