package io.kubezen.watcher.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.http.error.HttpError;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * docs/troubleshooting.md stays honest: the metrics it names are exported, the settings it names
 * exist, its links resolve, and the codes, reasons and statuses it tabulates are the program's.
 */
class TroubleshootingDocTest {
  private static final Pattern BACKTICKED = Pattern.compile("`([^`]+)`");
  private static final Pattern FENCED = Pattern.compile("(?ms)^```.*?^```$");

  /**
   * An UPPER_CASE name with at least one underscore, e.g. KUBE_WRITE_QPS or
   * WEBHOOK_MAX_BODY_BYTES_<SOURCE>.
   */
  private static final Pattern SETTING_WORD =
      Pattern.compile("(?<![A-Za-z0-9_<])[A-Z][A-Z0-9]*(?:_(?:[A-Z0-9]+|<SOURCE>))+");

  /**
   * A whole backticked span that is one UPPER_CASE word, optionally with a value: SOURCES,
   * KUBECONFIG=...
   */
  private static final Pattern SETTING_SPAN = Pattern.compile("^([A-Z][A-Z0-9_]*)(=\\S*)?$");

  private static final Pattern TABLE_NAME = Pattern.compile("^\\| `([A-Z][A-Z0-9_<>]*)` \\|");
  private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
  private static final Pattern HEADING = Pattern.compile("^#{1,6} (.+)$");
  private static final Pattern STATUS_ROW = Pattern.compile("^\\| (\\d{3}) \\| `([a-z_]+)` \\|");
  private static final Pattern REASON_ROW = Pattern.compile("^\\| `([A-Z][a-z]+[A-Za-z]*)` \\|");

  static Path docs() {
    return OpsArtifacts.root().resolve("docs");
  }

  static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String page() {
    return read(docs().resolve("troubleshooting.md"));
  }

  @Test
  void everyMetricItNamesIsExportedAndDocumented() throws Exception {
    Set<String> mentioned = OpsArtifacts.metricNames(page());
    assertThat(mentioned).as("metric names found in the page").hasSizeGreaterThanOrEqualTo(15);
    // The names the program declares (Metrics' constants, with their Prometheus suffixes), as
    // ExportedMetricsTest checks the rules and dashboards against; metrics.md pins the exact
    // suffix.
    Set<String> declared = ExportedMetricsTest.declaredPrometheusNames();
    String metricsDoc = read(docs().resolve("metrics.md"));
    List<String> wrong = new ArrayList<>();
    for (String name : mentioned) {
      if (!declared.contains(name) || !metricsDoc.contains("`" + name + "`")) {
        wrong.add(name);
      }
    }
    assertThat(wrong)
        .as("metric names in troubleshooting.md that the program does not export under that name")
        .isEmpty();
  }

  @Test
  void everySettingItNamesIsInTheConfigurationTable() {
    Set<String> table = new TreeSet<>();
    for (String line : read(docs().resolve("configuration.md")).split("\n")) {
      Matcher m = TABLE_NAME.matcher(line);
      if (m.find()) {
        table.add(m.group(1));
      }
    }
    assertThat(table).contains("KUBE_WRITE_QPS", "SOURCES", "WEBHOOK_MAX_BODY_BYTES_<SOURCE>");
    Set<String> mentioned = settingNames(page());
    assertThat(mentioned).as("settings found in the page").hasSizeGreaterThanOrEqualTo(20);
    Set<String> unknown = new TreeSet<>(mentioned);
    unknown.removeAll(table);
    assertThat(unknown)
        .as("settings named in troubleshooting.md but not in configuration.md's tables")
        .isEmpty();
  }

  @Test
  void theSettingNameParserFindsNamesInMessagesAndSkipsOtherWords() {
    assertThat(
            settingNames(
                "`ACCESS_SCOPE=namespaces`, `SOURCES`, `FILTER_CONFIGMAP and FILTER_CONFIG: set one`,"
                    + " `WEBHOOK_MAX_BODY_BYTES_<SOURCE>`, `Retry-After`, `zen_watcher_events_total`, `{action=\"refused\"}`,"
                    + " `PathConflict`, `Bearer <token>` and NOT_IN_BACKTICKS\n```\nIN_A_FENCE=1\n```\n"))
        .containsExactly(
            "ACCESS_SCOPE",
            "FILTER_CONFIG",
            "FILTER_CONFIGMAP",
            "SOURCES",
            "WEBHOOK_MAX_BODY_BYTES_<SOURCE>");
  }

  /** The names in inline code spans (fenced blocks are left out: their backticks are not spans). */
  static Set<String> settingNames(String text) {
    Set<String> names = new TreeSet<>();
    Matcher span = BACKTICKED.matcher(FENCED.matcher(text).replaceAll(""));
    while (span.find()) {
      String s = span.group(1);
      Matcher whole = SETTING_SPAN.matcher(s);
      if (whole.matches()) {
        names.add(whole.group(1));
      }
      Matcher w = SETTING_WORD.matcher(s);
      while (w.find()) {
        names.add(w.group());
      }
    }
    return names;
  }

  @Test
  void everyLinkResolvesToAFileAndItsSection() {
    String page = page();
    Matcher m = LINK.matcher(page);
    int checked = 0;
    List<String> broken = new ArrayList<>();
    while (m.find()) {
      String target = m.group(1);
      if (target.startsWith("http://")
          || target.startsWith("https://")
          || target.startsWith("mailto:")) {
        continue;
      }
      int hash = target.indexOf('#');
      String file = hash < 0 ? target : target.substring(0, hash);
      String anchor = hash < 0 ? null : target.substring(hash + 1);
      Path p =
          file.isEmpty() ? docs().resolve("troubleshooting.md") : docs().resolve(file).normalize();
      checked++;
      if (!Files.exists(p)) {
        broken.add(target + " (no such file)");
      } else if (anchor != null && !anchors(p).contains(anchor)) {
        broken.add(target + " (no such section; there are " + anchors(p) + ")");
      }
    }
    assertThat(checked).as("links found in the page").isGreaterThanOrEqualTo(15);
    assertThat(broken).as("links of troubleshooting.md that do not resolve").isEmpty();
  }

  /** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
  static Set<String> anchors(Path markdown) {
    Set<String> out = new TreeSet<>();
    boolean fenced = false;
    for (String line : read(markdown).split("\n")) {
      if (line.startsWith("```")) {
        fenced = !fenced;
        continue;
      }
      Matcher h = HEADING.matcher(line);
      if (!fenced && h.matches()) {
        out.add(slug(h.group(1)));
      }
    }
    return out;
  }

  static String slug(String heading) {
    return heading
        .strip()
        .toLowerCase(Locale.ROOT)
        .replaceAll("[^a-z0-9 _-]", "")
        .replace(' ', '-');
  }

  @Test
  void theSlugIsGitHubs() {
    assertThat(slug("Forbidden (403) from the API server in the logs"))
        .isEqualTo("forbidden-403-from-the-api-server-in-the-logs");
    assertThat(slug("`/ready` answers 503")).isEqualTo("ready-answers-503");
    assertThat(slug("Count, resolved, TTL and garbage collection"))
        .isEqualTo("count-resolved-ttl-and-garbage-collection");
  }

  @Test
  void theWebhookTableUsesTheProgramsErrorCodes() {
    int rows = 0;
    for (String line : page().split("\n")) {
      Matcher m = STATUS_ROW.matcher(line);
      if (m.find()) {
        rows++;
        int status = Integer.parseInt(m.group(1));
        assertThat(m.group(2))
            .as("error code of HTTP " + status)
            .isEqualTo(HttpError.reasonFor(status));
      }
    }
    assertThat(rows).as("rows of the webhook table").isGreaterThanOrEqualTo(11);
  }

  @Test
  void theIngesterReasonsAreTheControllersReasons() throws IOException {
    StringBuilder code = new StringBuilder();
    Path main = OpsArtifacts.root().resolve("watcher/src/main/java/io/kubezen/watcher");
    for (String dir : List.of("ingester")) {
      try (Stream<Path> files = Files.walk(main.resolve(dir))) {
        for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
          code.append(read(f));
        }
      }
    }
    String page = page();
    String section =
        page.substring(page.indexOf("## Ingesters not Ready"), page.indexOf("## A filter change"));
    Set<String> reasons = new TreeSet<>();
    for (String line : section.split("\n")) {
      Matcher m = REASON_ROW.matcher(line);
      if (m.find()) {
        reasons.add(m.group(1));
      }
    }
    assertThat(reasons).hasSizeGreaterThanOrEqualTo(6);
    for (String reason : reasons) {
      assertThat(code.toString())
          .as("Ingester reason " + reason)
          .contains("Readiness(false, \"" + reason + "\"");
    }
  }

  @Test
  void theSourceStatusesAreTheSourceManagers() {
    // The statuses are SourceState's; CrdAvailability words the CRD ones.
    Path kube = OpsArtifacts.root().resolve("watcher/src/main/java/io/kubezen/watcher/kube");
    String code =
        read(kube.resolve("SourceManager.java"))
            + read(kube.resolve("SourceState.java"))
            + read(kube.resolve("CrdAvailability.java"));
    String page = page();
    String table =
        page.substring(page.indexOf("| Status | Means | Do |"), page.indexOf("## Webhook answers"));
    int rows = 0;
    for (String line : table.split("\n")) {
      Matcher m = Pattern.compile("^\\| `([^`]+)`").matcher(line);
      if (m.find()) {
        rows++;
        String status = m.group(1);
        // A whole string literal, or the literal start of one with a placeholder ("waiting for CRD
        // <crd>").
        String literal =
            status.contains("<")
                ? "\"" + status.substring(0, status.indexOf('<'))
                : "\"" + status + "\"";
        assertThat(code).as("/ready source status '" + status + "'").contains(literal);
      }
    }
    assertThat(rows).isGreaterThanOrEqualTo(7);
  }
}
