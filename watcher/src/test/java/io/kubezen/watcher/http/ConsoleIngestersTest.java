package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sources page shows each file-defined Ingester's Ready condition (standalone, INGESTERS_DIR):
 * status, reason, message and since, escaped; a change of a file shows after the next poll.
 */
class ConsoleIngestersTest {
  @TempDir Path dir;

  static String webhook(String name, String source, String path, String extra) {
    return """
        apiVersion: zen.kube-zen.io/v1alpha1
        kind: Ingester
        metadata: {name: %s}
        spec:
          source: %s
          type: webhook
          webhook: {path: %s}
          mapping:
            severity: object.level
            title: object.summary
            eventType: "'runtime_' + object.rule"
        %s
        """
        .formatted(name, source, path, extra);
  }

  @Test
  void eachIngestersReadyConditionIsShownEscaped() throws Exception {
    Path ingesters = Files.createDirectories(dir.resolve("ingesters"));
    Files.writeString(ingesters.resolve("a.yaml"), webhook("acme", "acme", "acme-alerts", ""));
    Files.writeString(
        ingesters.resolve("b.yaml"),
        webhook(
            "bad",
            "bravo",
            "bravo",
            "  dedup: {window: \"<script>window.x=1</script><img src=x onerror=alert(1)>\"}"));
    try (TestWatcher zw =
        new TestWatcher(
            dir, Map.of("INGESTERS_DIR", ingesters.toString(), "INGESTERS_POLL_SECONDS", "1"))) {
      String page = zw.get("/sources").body();
      String table =
          page.substring(
              page.indexOf("<table id=\"ingesters\""),
              page.indexOf("</table>", page.indexOf("<table id=\"ingesters\"")));
      // The served one: Ready True, Valid, its path, a since time.
      assertThat(table)
          .containsPattern(
              "<code>a\\.yaml#0 \\(acme\\)</code> <small>\\(file\\)</small></th><td>webhook"
                  + "</td><td><a href=\"/findings\\?source=acme&amp;state=all\">acme</a></td><td><span class=\"badge active\">"
                  + "True</span></td><td>Valid</td><td class=\"text\">serving /ingest/acme-alerts</td><td><time>20\\d\\d-");
      // The invalid one: Ready False, InvalidSpec, its problem, the attacker's text as text.
      assertThat(table)
          .contains("<code>b.yaml#0 (bad)</code>")
          .contains("<span class=\"badge inactive\">False</span>" + "</td><td>InvalidSpec</td>")
          .contains("&lt;script&gt;window.x=1&lt;/script&gt;&lt;img src=x");
      assertThat(page).doesNotContain("<script>window").doesNotContain("<img src=x");

      // Fixed on disk: Ready after the next poll, with a new since.
      Files.writeString(ingesters.resolve("b.yaml"), webhook("bad", "bravo", "bravo", ""));
      await()
          .atMost(Duration.ofSeconds(15))
          .untilAsserted(
              () ->
                  assertThat(zw.get("/sources").body())
                      .containsPattern(
                          "b\\.yaml#0 \\(bad\\).*?badge active\">True</span></td><td>Valid</td><td class=\"text\">"
                              + "serving /ingest/bravo"));
    }
  }

  @Test
  void withoutIngestersThePageSaysSo() throws Exception {
    try (TestWatcher zw = new TestWatcher(dir, Map.of())) {
      assertThat(zw.get("/sources").body()).contains("No Ingester is declared");
    }
  }
}
