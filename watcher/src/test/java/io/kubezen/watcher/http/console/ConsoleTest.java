package io.kubezen.watcher.http.console;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The console's routes over real HTTP on loopback, with the real SQLite store. */
class ConsoleTest {
  @TempDir Path dir;
  SqliteObservationStore store;
  Vertx vertx;
  HttpServer server;
  String base;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() {
    store = SqliteObservationStore.open(dir.resolve("c.db"), Clock.systemUTC());
    vertx = Vertx.vertx();
    Router router = Router.router(vertx);
    new Console(
            store,
            Clock.systemUTC(),
            () ->
                Map.of(
                    "role",
                    "leader",
                    "sources",
                    Map.of(
                        "trivy:aquasecurity.github.io/v1alpha1/vulnerabilityreports",
                        "waiting for CRD x")),
            "sqlite")
        .mount(router);
    server =
        vertx
            .createHttpServer()
            .requestHandler(router)
            .listen(0, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .join();
    base = "http://127.0.0.1:" + server.actualPort();
  }

  @AfterEach
  void stop() {
    vertx.close().toCompletionStage().toCompletableFuture().join();
    store.close();
  }

  static Observation obs(String name, String title, Map<String, Object> details) {
    Instant t = Instant.now().minusSeconds(60);
    Observation o = new Observation();
    o.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("shop").build());
    o.setSpec(
        new ObservationSpec(
            "falco",
            Category.SECURITY,
            Severity.HIGH,
            "runtime_threat",
            ResourceRef.of("v1", "Pod", "shop", "web-1"),
            title,
            details,
            t.toString(),
            "0".repeat(64),
            3600L,
            "c1"));
    o.setStatus(ObservationStatus.seen(1, t.toString(), t.toString()));
    return o;
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create(base + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void everyPageEscapesFindingTextAndCarriesTheSecurityHeaders() throws Exception {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("output", "<img src=x onerror=alert(1)>");
    details.put("primaryLink", "javascript:alert(1)");
    details.put("advisory", "https://example.org/a?b=1&c=2");
    store.createOrMerge(List.of(obs("falco-1", "<script>alert(1)</script>", details)));
    for (String path :
        List.of(
            "/",
            "/findings",
            "/findings/shop/falco-1",
            "/resource?kind=Pod&namespace=shop&resource=web-1",
            "/sources",
            "/report",
            "/findings?q=%3Cscript")) {
      HttpResponse<String> r = get(path);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(r.body()).as(path).doesNotContain("<script>alert").doesNotContain("<img src=x");
      assertThat(r.headers().firstValue("Content-Security-Policy")).as(path).hasValue(Console.CSP);
      assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
      assertThat(r.headers().firstValue("Referrer-Policy")).hasValue("same-origin");
      assertThat(r.body())
          .as("no inline script or style")
          .doesNotContainPattern("<script>|<style|style=\"");
    }
    String detail = get("/findings/shop/falco-1").body();
    assertThat(detail)
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        .contains("&lt;img src=x onerror=alert(1)&gt;");
    assertThat(detail).doesNotContain("href=\"javascript:");
    assertThat(detail).contains("href=\"https://example.org/a?b=1&amp;c=2\"");
    assertThat(get("/findings?q=%3Cscript").body()).contains("value=\"&lt;script\"");
    assertThat(get("/sources").body()).contains("waiting for CRD x").contains("badge waiting");
  }

  @Test
  void everyFieldIsEscapedIncludingSourceClusterEventTypeAndResourceInTablesChartsAndExports()
      throws Exception {
    Instant t = Instant.now().minusSeconds(60);
    Observation o = new Observation();
    o.setMetadata(new ObjectMetaBuilder().withName("x-1").withNamespace("shop").build());
    o.setSpec(
        new ObservationSpec(
            "<script>s()</script>",
            Category.SECURITY,
            Severity.CRITICAL,
            "<svg onload=e()>",
            ResourceRef.of("v1", "<b>Kind</b>", "<i>ns</i>", "<img src=r onerror=r()>"),
            "<script>t()</script>",
            Map.of("<u>key</u>", "<iframe src=x>"),
            t.toString(),
            "0".repeat(64),
            3600L,
            "<script>c()</script>"));
    o.setStatus(ObservationStatus.seen(1, t.toString(), t.toString()));
    store.createOrMerge(List.of(o));
    String resource =
        "/resource?kind="
            + java.net.URLEncoder.encode("<b>Kind</b>", "UTF-8")
            + "&namespace="
            + java.net.URLEncoder.encode("<i>ns</i>", "UTF-8")
            + "&resource="
            + java.net.URLEncoder.encode("<img src=r onerror=r()>", "UTF-8");
    for (String path :
        List.of(
            "/",
            "/?range=7d",
            "/findings?state=all",
            "/findings/shop/x-1",
            resource,
            "/sources",
            "/report?state=all",
            "/findings?source=%3Cscript%3Es()%3C/script%3E")) {
      HttpResponse<String> r = get(path);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(r.body())
          .as(path)
          .doesNotContain("<script>s()")
          .doesNotContain("<script>c()")
          .doesNotContain("<script>t()")
          .doesNotContain("<svg onload")
          .doesNotContain("<img src=r")
          .doesNotContain("<b>Kind")
          .doesNotContain("<i>ns")
          .doesNotContain("<iframe")
          .doesNotContain("<u>key");
    }
    String overview = get("/").body();
    assertThat(overview)
        .contains("&lt;script&gt;s()&lt;/script&gt;")
        .contains("&lt;script&gt;c()&lt;/script&gt;");
    assertThat(get("/findings/shop/x-1").body())
        .contains("&lt;iframe src=x&gt;")
        .contains("&lt;u&gt;key&lt;/u&gt;");
    // The exports: JSON is JSON (no HTML context), CSV quotes what needs it.
    assertThat(get("/export/findings.csv?state=all").body()).contains("<script>s()</script>");
    assertThat(get("/export/findings.json?state=all").headers().firstValue("Content-Type"))
        .hasValue("application/json");
  }

  @Test
  void badInputIs4xxJson() throws Exception {
    for (String path :
        List.of(
            "/findings?severity=urgent",
            "/findings?state=gone",
            "/findings?sort=name",
            "/findings?limit=0",
            "/findings?firstFrom=yesterday",
            "/findings?after=%21%21",
            "/resource",
            "/export/findings.csv?category=x")) {
      HttpResponse<String> r = get(path);
      assertThat(r.statusCode()).as(path).isEqualTo(400);
      JsonNode body = Json.MAPPER.readTree(r.body());
      assertThat(body.get("error").asText()).isEqualTo("bad_request");
      assertThat(body.get("status").asInt()).isEqualTo(400);
      assertThat(r.headers().firstValue("Content-Security-Policy")).hasValue(Console.CSP);
    }
    HttpResponse<String> missing = get("/findings/shop/none");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(Json.MAPPER.readTree(missing.body()).get("error").asText()).isEqualTo("not_found");
  }

  @Test
  void exportsStreamEveryRowAcrossStorePages() throws Exception {
    List<Observation> many = new ArrayList<>();
    for (int i = 0; i < Console.EXPORT_PAGE * 2 + 7; i++) {
      many.add(
          obs(
              "falco-" + i,
              i == 0 ? "=HYPERLINK(\"http://x\")" : "title " + i,
              Map.of("rule", "r")));
    }
    store.createOrMerge(many);
    HttpResponse<String> csv = get("/export/findings.csv");
    assertThat(csv.statusCode()).isEqualTo(200);
    assertThat(csv.headers().firstValue("Content-Disposition").orElseThrow())
        .startsWith("attachment; filename=");
    List<String> lines = csv.body().lines().toList();
    assertThat(lines).hasSize(many.size() + 1);
    assertThat(csv.body()).contains(",\"'=HYPERLINK(\"\"http://x\"\")\",");
    JsonNode json = Json.MAPPER.readTree(get("/export/findings.json").body());
    assertThat(json.get("items").size()).isEqualTo(many.size());
    assertThat(
            Json.MAPPER
                .readTree(get("/export/findings.json?severity=low").body())
                .get("items")
                .size())
        .isZero();
  }

  @Test
  void stampAnswers304WhileNothingChanged() throws Exception {
    HttpResponse<String> first = get("/console/stamp");
    String etag = first.headers().firstValue("ETag").orElseThrow();
    HttpResponse<String> same =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/console/stamp"))
                .header("If-None-Match", etag)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(same.statusCode()).isEqualTo(304);
    store.createOrMerge(List.of(obs("falco-new", "t", Map.of())));
    HttpResponse<String> changed =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/console/stamp"))
                .header("If-None-Match", etag)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(changed.statusCode()).isEqualTo(200);
    assertThat(changed.headers().firstValue("ETag").orElseThrow()).isNotEqualTo(etag);
  }

  @Test
  void assetsAreServedFromTheJarWithLongCaching() throws Exception {
    String page = get("/").body();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("/assets/htmx\\.min\\.js\\?v=([0-9a-f]+)").matcher(page);
    assertThat(m.find()).isTrue();
    HttpResponse<String> htmx = get(m.group());
    assertThat(htmx.statusCode()).isEqualTo(200);
    assertThat(htmx.headers().firstValue("Cache-Control"))
        .hasValue("public, max-age=31536000, immutable");
    assertThat(htmx.headers().firstValue("Content-Type").orElseThrow())
        .startsWith("text/javascript");
    assertThat(htmx.body()).contains("htmx");
    assertThat(get("/assets/console.css").statusCode()).isEqualTo(200);
    assertThat(get("/assets/nothing.js").statusCode()).isEqualTo(404);
  }

  @Test
  void aResolvedBarOfTheChartLinksToTheFindingsResolvedInItsHour() throws Exception {
    store.createOrMerge(
        List.of(
            obs("early", "resolved two hours ago", Map.of()),
            obs("late", "resolved just now", Map.of()),
            obs("open", "still open", Map.of())));
    Instant now = Instant.now();
    store.resolve(
        List.of(new io.kubezen.watcher.store.ObservationKey("shop", "early")),
        now.minusSeconds(7200));
    store.resolve(List.of(new io.kubezen.watcher.store.ObservationKey("shop", "late")), now);

    String page = get("/?range=24h").body();
    // Each resolved bar: <a href="URL"><rect class="resolved" ...><title>N resolved, ...
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "<a href=\"([^\"]+)\"><rect class=\"resolved\"[^>]*><title>(\\d+) resolved")
            .matcher(page);
    List<String> withOne = new ArrayList<>();
    while (m.find()) {
      if (m.group(2).equals("1")) {
        withOne.add(m.group(1).replace("&amp;", "&"));
      }
    }
    assertThat(withOne).hasSize(2);
    List<String> listed = new ArrayList<>();
    for (String url : withOne) {
      assertThat(url).contains("state=resolved").contains("resolvedFrom=").contains("resolvedTo=");
      String findings = get(url).body();
      assertThat(findings).doesNotContain("still open");
      listed.add(
          findings.contains("resolved two hours ago") && !findings.contains("resolved just now")
              ? "early"
              : findings.contains("resolved just now")
                      && !findings.contains("resolved two hours ago")
                  ? "late"
                  : "both or none");
    }
    // Each bar's link lists its own finding only, not every resolved one.
    assertThat(listed).containsExactlyInAnyOrder("early", "late");
  }
}
