package io.kubezen.watcher.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.testing.KubeApiServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The operations artifacts of the repository (alert rules, their promtool tests, dashboards) and
 * what the tests need to read from them: PromQL expressions and the metric names they use.
 */
final class OpsArtifacts {
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Pattern METRIC =
      Pattern.compile("\\b(?:zen_watcher|zenwatcher)_[a-z0-9_]+\\b");

  private OpsArtifacts() {}

  static Path root() {
    return KubeApiServer.repositoryRoot();
  }

  static Path rulesFile() {
    return root().resolve("config/prometheus/rules/zen-watcher.rules.yaml");
  }

  static Path chartRulesFile() {
    return root().resolve("charts/zen-watcher/files/alert-rules.yaml");
  }

  static List<Path> ruleTests() {
    return list(root().resolve("config/prometheus/rules/tests"), ".yaml");
  }

  static List<Path> dashboards() {
    return list(root().resolve("config/dashboards"), ".json");
  }

  static List<Path> list(Path dir, String suffix) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
    } catch (IOException e) {
      throw new AssertionError("cannot list " + dir, e);
    }
  }

  static JsonNode rules() {
    try {
      return YAML.readTree(rulesFile().toFile());
    } catch (IOException e) {
      throw new AssertionError("cannot read " + rulesFile(), e);
    }
  }

  static JsonNode dashboard(Path p) {
    try {
      return Json.MAPPER.readTree(p.toFile());
    } catch (IOException e) {
      throw new AssertionError(p + " is not valid JSON", e);
    }
  }

  /** Every rule of the rules file (alerting and recording). */
  static List<JsonNode> ruleList() {
    List<JsonNode> out = new ArrayList<>();
    rules().path("groups").forEach(g -> g.path("rules").forEach(out::add));
    return out;
  }

  /** The expressions of the rules. */
  static List<String> ruleExpressions() {
    return ruleList().stream().map(r -> r.path("expr").asText()).toList();
  }

  /** The expressions of every dashboard: panel targets (rows included) and templating queries. */
  static List<String> dashboardExpressions() {
    List<String> out = new ArrayList<>();
    for (Path p : dashboards()) {
      JsonNode d = dashboard(p);
      panels(d)
          .forEach(panel -> panel.path("targets").forEach(t -> out.add(t.path("expr").asText())));
      d.path("templating")
          .path("list")
          .forEach(
              v -> {
                JsonNode q = v.path("query");
                String text = q.isObject() ? q.path("query").asText() : q.asText();
                if (METRIC.matcher(text).find()) {
                  out.add(text);
                }
              });
    }
    return out;
  }

  /** Panels, with the panels nested in collapsed rows. */
  static List<JsonNode> panels(JsonNode dashboard) {
    List<JsonNode> out = new ArrayList<>();
    dashboard
        .path("panels")
        .forEach(
            p -> {
              out.add(p);
              p.path("panels").forEach(out::add);
            });
    return out;
  }

  /**
   * The metric names an expression uses, with a histogram's _bucket/_count/_sum reduced to its
   * name.
   */
  static Set<String> metricNames(String expr) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(expr);
    while (m.find()) {
      names.add(baseName(m.group()));
    }
    return names;
  }

  static String baseName(String sample) {
    for (String suffix : List.of("_bucket", "_count", "_sum")) {
      if (sample.endsWith(suffix)) {
        return sample.substring(0, sample.length() - suffix.length());
      }
    }
    return sample;
  }

  /** The base names of the samples in a Prometheus text exposition. */
  static Set<String> exposedNames(String exposition) {
    Set<String> names = new TreeSet<>();
    for (String line : exposition.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int end = 0;
      while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
        end++;
      }
      names.add(baseName(line.substring(0, end)));
    }
    return names;
  }

  /** promtool from PATH; fails (never skips) when it is missing. */
  static String promtool() {
    return onPath("promtool");
  }

  static String prometheus() {
    return onPath("prometheus");
  }

  private static String onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      Path p = Path.of(dir, tool);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new AssertionError(
        tool
            + " is not on PATH: install Debian's prometheus package (apt-get install -y"
            + " prometheus), as .ci/run does; the alert-rule and Prometheus tests need it");
  }

  record Result(int exit, String output) {}

  /** Runs a command (bounded to 60 s) and returns its exit code and merged output. */
  static Result run(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("timed out: " + command);
      }
      return new Result(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new AssertionError("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
