package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A corpus of hostile and broken requests, each with the exact answer it must get: never a 5xx,
 * always a JSON body saying what was wrong, and the process keeps serving and keeps what it had.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputTest {
  @TempDir static Path dir;
  TestWatcher zw;

  @BeforeAll
  void start() {
    zw =
        new TestWatcher(
            dir, Map.of("WEBHOOK_MAX_BODY_BYTES", "65536", "WEBHOOK_MAX_FINDINGS", "1000"));
    assertThat(
            zw.post("/ingest/falco", "application/json", WebhookApiTest.sample("falco-alert.json"))
                .status())
        .isEqualTo(200);
  }

  @AfterAll
  void stop() {
    zw.close();
  }

  record Case(
      String name,
      String method,
      String path,
      String contentType,
      byte[] body,
      int status,
      String[] headers) {
    static Case post(String name, String path, String contentType, String body, int status) {
      return new Case(
          name,
          "POST",
          path,
          contentType,
          body.getBytes(StandardCharsets.UTF_8),
          status,
          new String[0]);
    }

    static Case post(
        String name, String path, String contentType, byte[] body, int status, String... headers) {
      return new Case(name, "POST", path, contentType, body, status, headers);
    }
  }

  static String nested(int depth) {
    return "[".repeat(depth) + "]".repeat(depth);
  }

  static byte[] gzip(byte[] data) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
        gz.write(data);
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  List<Case> corpus() {
    String json = "application/json";
    String yaml = "application/yaml";
    List<Case> c = new ArrayList<>();
    // malformed and truncated
    c.add(Case.post("malformed JSON", "/ingest/falco", json, "{\"rule\": ", 400));
    c.add(
        Case.post(
            "truncated object", "/ingest/falco", json, "{\"rule\":\"x\",\"output\":\"y\"", 400));
    c.add(Case.post("truncated array", "/ingest/k8s-audit", json, "[1,2", 400));
    c.add(
        Case.post(
            "trailing garbage",
            "/ingest/falco",
            json,
            "{\"rule\":\"x\",\"output\":\"y\"} xyz",
            400));
    c.add(Case.post("single quotes", "/ingest/generic-x", json, "{'a': 1}", 400));
    c.add(Case.post("empty body", "/ingest/falco", json, "", 400));
    c.add(Case.post("whitespace body", "/ingest/falco", json, "  \n\t ", 400));
    c.add(
        Case.post(
            "invalid UTF-8",
            "/ingest/falco",
            json,
            new byte[] {'{', '"', 'r', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'},
            400));
    c.add(Case.post("nested 2000 deep", "/ingest/generic-x", json, nested(2000), 400));
    c.add(
        Case.post(
            "nested objects 500 deep",
            "/ingest/falco",
            json,
            "{\"a\":".repeat(500) + "1" + "}".repeat(500),
            400));
    c.add(
        Case.post(
            "ndjson bad line",
            "/ingest/k8s-audit",
            "application/x-ndjson",
            "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\"}\n{oops\n",
            400));
    c.add(Case.post("malformed YAML", "/ingest/trivy", yaml, "kind: [unclosed\n  - x: {", 400));
    // The YAML parser does not expand aliases into copies, so a "billion laughs" stays small: it is
    // read as a plain object, which is not a report (422), without blowing up memory.
    c.add(
        Case.post(
            "YAML alias bomb",
            "/ingest/trivy",
            yaml,
            """
        a: &a ["x","x","x","x","x","x","x","x","x"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        """,
            422));
    c.add(
        Case.post(
            "YAML duplicate keys",
            "/ingest/kyverno",
            yaml,
            "kind: PolicyReport\nkind: Other\n",
            400));
    // well-formed but the wrong shape for the source
    c.add(Case.post("string for falco", "/ingest/falco", json, "\"just a string\"", 422));
    c.add(Case.post("number for falco", "/ingest/falco", json, "42", 422));
    c.add(Case.post("null for falco", "/ingest/falco", json, "null", 422));
    c.add(Case.post("empty object for falco", "/ingest/falco", json, "{}", 422));
    c.add(Case.post("array of numbers for falco", "/ingest/falco", json, "[1,2,3]", 422));
    c.add(
        Case.post(
            "pod for audit",
            "/ingest/k8s-audit",
            json,
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}",
            422));
    c.add(Case.post("string for audit", "/ingest/k8s-audit", json, "\"x\"", 422));
    c.add(
        Case.post(
            "pod for trivy",
            "/ingest/trivy",
            json,
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}",
            422));
    c.add(
        Case.post(
            "pod for kyverno",
            "/ingest/kyverno",
            json,
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}",
            422));
    c.add(Case.post("string for kube-bench", "/ingest/kube-bench", json, "\"x\"", 422));
    c.add(Case.post("empty object for checkov", "/ingest/checkov", json, "{}", 422));
    c.add(
        Case.post(
            "pod for k8s-events",
            "/ingest/k8s-events",
            json,
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\"}",
            422));
    c.add(Case.post("number for generic", "/ingest/generic-x", json, "7", 422));
    c.add(Case.post("scalar YAML for trivy", "/ingest/trivy", yaml, "hello", 422));
    // odd but acceptable: answered 200, nothing lost, nothing crashes
    c.add(Case.post("empty array for falco", "/ingest/falco", json, "[]", 200));
    c.add(
        Case.post(
            "empty EventList",
            "/ingest/k8s-audit",
            json,
            "{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"items\":[]}",
            200));
    c.add(
        Case.post(
            "wrong types in falco fields",
            "/ingest/falco",
            json,
            "{\"rule\":\"r\",\"output\":\"o\",\"priority\":[1],\"time\":42,\"output_fields\":\"nope\",\"tags\":{\"a\":1}}",
            200));
    c.add(
        Case.post(
            "unicode everywhere",
            "/ingest/falco",
            json,
            "{\"rule\":\"Ünïcødé 🚨 规则 \\u0000 \\ud83d\\ude00\",\"output\":\"ﬁ\\u202e<script>\",\"priority\":\"Critical\"}",
            200));
    c.add(
        Case.post(
            "huge string",
            "/ingest/generic-x",
            json,
            "{\"title\":\"" + "A".repeat(60_000) + "\"}",
            200));
    c.add(Case.post("BOM prefixed", "/ingest/generic-x", json, "\uFEFF{\"title\":\"bom\"}", 200));
    c.add(
        Case.post(
            "duplicate JSON keys",
            "/ingest/generic-x",
            json,
            "{\"title\":\"a\",\"title\":\"b\"}",
            200));
    c.add(
        Case.post(
            "huge number", "/ingest/generic-x", json, "{\"title\":\"n\",\"score\":1e999999}", 200));
    c.add(
        Case.post(
            "YAML with a Java tag",
            "/ingest/trivy",
            yaml,
            "!!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://127.0.0.1:1/\"]]]]",
            422));
    // size
    c.add(
        Case.post(
            "over the body limit",
            "/ingest/falco",
            json,
            "{\"rule\":\"" + "x".repeat(70_000) + "\"}",
            413));
    c.add(
        Case.post(
            "gzip bomb",
            "/ingest/generic-x",
            json,
            gzip(
                ("{\"title\":\"" + " ".repeat(5_000_000) + "\"}").getBytes(StandardCharsets.UTF_8)),
            413,
            "Content-Encoding",
            "gzip"));
    // issue 10: more findings than WEBHOOK_MAX_FINDINGS (set to 1000 here), refused before any tree
    // is built
    c.add(
        Case.post(
            "too many findings", "/ingest/generic-x", json, "[" + "{},".repeat(1000) + "{}]", 413));
    c.add(
        Case.post(
            "too many NDJSON audit events",
            "/ingest/k8s-audit",
            "application/x-ndjson",
            "{}\n".repeat(1001),
            413));
    c.add(
        Case.post(
            "too many List items",
            "/ingest/k8s-events",
            json,
            "{\"kind\":\"EventList\",\"items\":[" + "{},".repeat(1000) + "{}]}",
            413));
    // issue 10: namespaces the API server would refuse, and times out of range: stored, never a 5xx
    c.add(
        Case.post(
            "namespace with upper case and underscore",
            "/ingest/falco",
            json,
            "{\"rule\":\"r\",\"output\":\"o\",\"output_fields\":{\"k8s.ns.name\":\"Shop_Prod\"}}",
            200));
    c.add(
        Case.post(
            "namespace path traversal",
            "/ingest/k8s-audit",
            json,
            "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"verb\":\"delete\",\"stage\":\"ResponseComplete\","
                + "\"user\":{\"username\":\"u\"},\"objectRef\":{\"resource\":\"secrets\",\"namespace\":\"../../x/%00/y\","
                + "\"name\":\"s\"},\"responseStatus\":{\"code\":200}}",
            200));
    c.add(
        Case.post(
            "time far in the future",
            "/ingest/falco",
            json,
            "{\"rule\":\"r\",\"output\":\"o\",\"time\":\"+999999999-12-31T23:59:59Z\"}",
            200));
    c.add(
        Case.post(
            "generic epoch overflow",
            "/ingest/generic-x",
            json,
            "{\"title\":\"t\",\"timestamp\":99999999999999999999}",
            200));
    // content type
    c.add(Case.post("text/plain", "/ingest/falco", "text/plain", "{}", 415));
    c.add(
        Case.post(
            "form encoded", "/ingest/falco", "application/x-www-form-urlencoded", "a=b", 415));
    c.add(Case.post("YAML to falco", "/ingest/falco", yaml, "rule: x", 415));
    c.add(Case.post("ndjson to trivy", "/ingest/trivy", "application/x-ndjson", "{}", 415));
    c.add(Case.post("garbage content type", "/ingest/falco", "%%%/;;;", "{}", 415));
    // paths and methods
    c.add(new Case("GET on ingest", "GET", "/ingest/falco", null, new byte[0], 405, new String[0]));
    c.add(
        new Case(
            "PUT on ingest",
            "PUT",
            "/ingest/falco",
            json,
            "{}".getBytes(StandardCharsets.UTF_8),
            405,
            new String[0]));
    c.add(
        new Case(
            "DELETE on ingest", "DELETE", "/ingest/falco", null, new byte[0], 405, new String[0]));
    c.add(
        new Case(
            "POST on read API",
            "POST",
            "/api/v1/observations",
            json,
            "{}".getBytes(StandardCharsets.UTF_8),
            405,
            new String[0]));
    c.add(Case.post("upper-case source name", "/ingest/FALCO", json, "{}", 404));
    c.add(Case.post("dotted source name", "/ingest/a.b", json, "{}", 404));
    c.add(Case.post("too long source name", "/ingest/" + "a".repeat(64), json, "{}", 404));
    c.add(Case.post("unknown path", "/nope", json, "{}", 404));
    c.add(Case.post("ingest without source", "/ingest/", json, "{}", 404));
    c.add(
        new Case(
            "limit not a number",
            "GET",
            "/api/v1/observations?limit=abc",
            null,
            new byte[0],
            400,
            new String[0]));
    c.add(
        new Case(
            "limit zero",
            "GET",
            "/api/v1/observations?limit=0",
            null,
            new byte[0],
            400,
            new String[0]));
    c.add(
        new Case(
            "limit too large",
            "GET",
            "/api/v1/observations?limit=100000",
            null,
            new byte[0],
            400,
            new String[0]));
    c.add(
        new Case(
            "bad severity",
            "GET",
            "/api/v1/observations?severity=bogus",
            null,
            new byte[0],
            400,
            new String[0]));
    c.add(
        new Case(
            "garbage continue token",
            "GET",
            "/api/v1/observations?continue=%25%25garbage",
            null,
            new byte[0],
            400,
            new String[0]));
    c.add(
        new Case(
            "missing observation",
            "GET",
            "/api/v1/observations/shop/nope",
            null,
            new byte[0],
            404,
            new String[0]));
    c.add(
        new Case(
            "cluster filter on a store of one cluster",
            "GET",
            "/api/v1/observations?cluster=east",
            null,
            new byte[0],
            400,
            new String[0]));
    return c;
  }

  @TestFactory
  List<DynamicTest> everyHostileRequestGetsItsExactAnswer() {
    return corpus().stream()
        .map(
            c ->
                DynamicTest.dynamicTest(
                    c.name(),
                    () -> {
                      HttpRequest.Builder b =
                          HttpRequest.newBuilder(URI.create(zw.base + c.path()))
                              .timeout(Duration.ofSeconds(30))
                              .method(
                                  c.method(),
                                  c.body().length == 0 && !c.method().equals("POST")
                                      ? HttpRequest.BodyPublishers.noBody()
                                      : HttpRequest.BodyPublishers.ofByteArray(c.body()));
                      if (c.contentType() != null) {
                        b.header("Content-Type", c.contentType());
                      }
                      for (int i = 0; i + 1 < c.headers().length; i += 2) {
                        b.header(c.headers()[i], c.headers()[i + 1]);
                      }
                      TestWatcher.Response r = zw.send(b.build());
                      assertThat(r.status()).as(c.name() + ": " + r.body()).isEqualTo(c.status());
                      JsonNode body = r.json();
                      if (c.status() >= 400) {
                        assertThat(body.get("error").asText()).as(c.name()).isNotBlank();
                        assertThat(body.get("message").asText()).as(c.name()).isNotBlank();
                        assertThat(body.get("status").asInt()).as(c.name()).isEqualTo(c.status());
                      }
                    }))
        .toList();
  }

  @Test
  void afterTheCorpusTheProcessServesAndKeptWhatItHad() {
    corpus()
        .forEach(
            c ->
                zw.send(
                    HttpRequest.newBuilder(URI.create(zw.base + c.path()))
                        .method(c.method(), HttpRequest.BodyPublishers.ofByteArray(c.body()))
                        .header(
                            "Content-Type",
                            c.contentType() == null ? "application/json" : c.contentType())
                        .build()));
    assertThat(zw.get("/health").status()).isEqualTo(200);
    assertThat(zw.get("/ready").status()).isEqualTo(200);
    assertThat(zw.get("/api/v1/observations?source=falco").json().get("items").size())
        .isGreaterThanOrEqualTo(1);
    assertThat(
            zw.post("/ingest/falco", "application/json", WebhookApiTest.sample("falco-alert.json"))
                .status())
        .isEqualTo(200);
    // the 500 and 503 series exist from the start (at 0): none was answered
    assertThat(
            zw.get("/metrics")
                .body()
                .lines()
                .filter(l -> l.startsWith("zen_watcher_webhook_requests_total{"))
                .filter(l -> l.contains("code=\"500\"") || l.contains("code=\"503\"")))
        .isNotEmpty()
        .allSatisfy(l -> assertThat(l).endsWith(" 0.0"));
  }
}
