package io.kubezen.watcher.source.kubebench;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.JsonFields;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code kube-bench --json} output: an object with {@code Controls[]} (and {@code Totals}), a
 * single Controls object ({@code id, version, text, node_type, tests[]}), or a JSON array of
 * either. Each Controls holds {@code tests[]} (sections) of {@code results[]} (checks).
 *
 * <p>One Finding per check with status {@code FAIL} (high when scored, else medium) or {@code WARN}
 * (low); {@code PASS} and {@code INFO} give none. The resource is the Node the benchmark ran on:
 * its name comes from the input ({@code node_name}, {@code nodeName} or {@code NodeName} at the top
 * of an object), else from the request parameter {@code node}. kube-bench's own output names no
 * node, and a name is never made up: with neither, findings have no resource and the node part of
 * their identity is empty. See docs/sources/kube-bench.md.
 */
public final class KubeBenchNormalizer implements Normalizer {
  public static final String SOURCE = "kube-bench";
  public static final String EVENT_TYPE = "cis_benchmark_fail";

  /** The request parameter naming the node ({@code /ingest/kube-bench?node=NODE}). */
  public static final String NODE_PARAM = "node";

  private static final String[] NODE_FIELDS = {"node_name", "nodeName", "NodeName"};

  public KubeBenchNormalizer() {}

  @Override
  public String source() {
    return SOURCE;
  }

  @Override
  public SourceKind kind() {
    return SourceKind.STATE;
  }

  @Override
  public List<Finding> normalize(JsonNode input, IngestContext context) {
    List<JsonNode> documents = JsonFields.items(input);
    // Validate everything first: a bad element rejects the whole input, never half of it.
    List<Run> runs = new ArrayList<>();
    for (JsonNode doc : documents) {
      String node = firstNonNull(nodeName(doc), context.param(NODE_PARAM));
      for (JsonNode controls : controlsOf(doc)) {
        runs.add(new Run(controls, firstNonNull(nodeName(controls), node)));
      }
    }
    List<Finding> out = new ArrayList<>();
    for (Run run : runs) {
      addFindings(run.controls(), run.node(), context, out);
    }
    return out;
  }

  private record Run(JsonNode controls, String node) {}

  /** The Controls objects of one document: its {@code Controls[]}, or the document itself. */
  private static List<JsonNode> controlsOf(JsonNode doc) {
    JsonNode list = firstNonNull(JsonFields.at(doc, "Controls"), JsonFields.at(doc, "controls"));
    if (list != null) {
      if (!list.isArray()) {
        throw new InvalidInputException("kube-bench: Controls is not an array");
      }
      List<JsonNode> out = new ArrayList<>();
      for (JsonNode c : list) {
        if (!c.isObject()) {
          throw new InvalidInputException("kube-bench: an element of Controls is not an object");
        }
        checkTests(c);
        out.add(c);
      }
      return out;
    }
    if (JsonFields.at(doc, "tests") != null) {
      checkTests(doc);
      return List.of(doc);
    }
    throw new InvalidInputException(
        "kube-bench reads `kube-bench --json` output: an object with Controls[] or a Controls object with tests[]; got an object with neither");
  }

  private static void checkTests(JsonNode controls) {
    JsonNode tests = JsonFields.at(controls, "tests");
    if (tests != null && !tests.isArray()) {
      throw new InvalidInputException(
          "kube-bench: tests of controls " + JsonFields.text(controls, "id") + " is not an array");
    }
  }

  private static void addFindings(
      JsonNode controls, String node, IngestContext context, List<Finding> out) {
    String nodeType = JsonFields.text(controls, "node_type");
    String benchmark = JsonFields.text(controls, "version");
    String controlsText = JsonFields.text(controls, "text");
    ResourceRef resource = node == null ? null : ResourceRef.of("v1", "Node", null, node);

    for (JsonNode group : JsonFields.array(controls, "tests")) {
      String section = JsonFields.text(group, "section");
      String sectionDesc = JsonFields.text(group, "desc");
      for (JsonNode check : JsonFields.array(group, "results")) {
        String status = JsonFields.text(check, "status");
        boolean scored = JsonFields.bool(check, "scored");
        Severity severity = severity(status, scored);
        if (severity == null) {
          continue;
        }
        String testNumber = JsonFields.text(check, "test_number");
        String testDesc = JsonFields.text(check, "test_desc");
        String upperStatus = status.trim().toUpperCase(Locale.ROOT);

        Map<String, Object> details =
            Details.builder()
                .put("test_number", testNumber)
                .put("test_desc", testDesc)
                .put("status", upperStatus)
                .put("scored", scored)
                .put("section", section)
                .put("section_desc", sectionDesc)
                .put("node_type", nodeType)
                .put("benchmark", benchmark)
                .put("controls", controlsText)
                .put("remediation", JsonFields.text(check, "remediation"))
                .put("actual_value", JsonFields.text(check, "actual_value"))
                .put("expected_result", JsonFields.text(check, "expected_result"))
                .put("reason", JsonFields.text(check, "reason"))
                .put("type", JsonFields.text(check, "type"))
                .build();

        out.add(
            new Finding(
                SOURCE,
                Category.COMPLIANCE,
                severity,
                EVENT_TYPE,
                resource,
                title(testNumber, upperStatus, testDesc, node),
                details,
                context.receivedAt(),
                List.of(
                    node == null ? "" : node,
                    testNumber != null
                        ? testNumber
                        : "desc:" + (testDesc == null ? "" : testDesc))));
      }
    }
  }

  /**
   * FAIL: high when scored, else medium; WARN: low; PASS, INFO and anything else: null (no
   * Finding).
   */
  static Severity severity(String status, boolean scored) {
    if (status == null) {
      return null;
    }
    return switch (status.trim().toUpperCase(Locale.ROOT)) {
      case "FAIL" -> scored ? Severity.HIGH : Severity.MEDIUM;
      case "WARN" -> Severity.LOW;
      default -> null;
    };
  }

  private static String title(String testNumber, String status, String testDesc, String node) {
    StringBuilder t = new StringBuilder("CIS ");
    t.append(testNumber == null ? "check" : testNumber).append(' ').append(status);
    if (node != null) {
      t.append(" on node ").append(node);
    }
    if (testDesc != null) {
      t.append(": ").append(testDesc);
    }
    return t.toString();
  }

  private static String nodeName(JsonNode doc) {
    for (String field : NODE_FIELDS) {
      String v = JsonFields.text(doc, field);
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  @SafeVarargs
  private static <T> T firstNonNull(T... values) {
    for (T v : values) {
      if (v != null) {
        return v;
      }
    }
    return null;
  }
}
