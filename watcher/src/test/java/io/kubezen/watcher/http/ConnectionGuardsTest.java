package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.model.Json;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Issue 10, points 7 to 10: read access, connection exhaustion, log flooding and the answers the
 * HTTP decoder gives, against a real server over loopback.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConnectionGuardsTest {
  static final String TOKEN = "read-token-0123456789abcdef";
  @TempDir static Path dir;
  TestWatcher zw;
  ListAppender<ILoggingEvent> logs = new ListAppender<>();

  @BeforeAll
  void start() {
    zw =
        new TestWatcher(
            dir,
            Map.of(
                "READ_AUTH",
                "token",
                "READ_AUTH_TOKEN",
                TOKEN,
                "HTTP_MAX_CONNECTIONS",
                "8",
                "HTTP_HEADER_TIMEOUT",
                "700ms"));
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    logs.start();
    root.addAppender(logs);
  }

  @AfterAll
  void stop() {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    zw.close();
  }

  TestWatcher.Response get(String path, String... headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(zw.base + path)).timeout(Duration.ofSeconds(10)).GET();
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return zw.send(b.build());
  }

  @Test
  void readsNeedTheTokenProbesWebhooksAndMetricsDoNot() {
    TestWatcher.Response none = get("/api/v1/observations");
    assertThat(none.status()).isEqualTo(401);
    assertThat(none.json().get("error").asText()).isEqualTo("unauthorized");
    assertThat(none.headers().firstValue("WWW-Authenticate"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
    assertThat(
            get("/api/v1/observations", "Authorization", "Bearer wrong-token-0123456789").status())
        .isEqualTo(401);
    assertThat(get("/api/v1/observations", "Authorization", "Basic " + TOKEN).status())
        .isEqualTo(401);
    assertThat(get("/api/v1/observations", "Authorization", "Bearer " + TOKEN).status())
        .isEqualTo(200);
    assertThat(get("/api/v1/observations/shop/x", "Authorization", "Bearer " + TOKEN).status())
        .isEqualTo(404);
    // Any other path (the console's pages and assets, added later) is guarded by the same guard.
    assertThat(get("/").status()).isEqualTo(401);
    assertThat(get("/console/findings?x=1").status()).isEqualTo(401);
    assertThat(get("/health").status()).isEqualTo(200);
    assertThat(get("/ready").status()).isEqualTo(200);
    assertThat(get("/metrics").status()).as("open unless METRICS_AUTH=token").isEqualTo(200);
    assertThat(
            zw.post("/ingest/falco", "application/json", WebhookApiTest.sample("falco-alert.json"))
                .status())
        .isEqualTo(200);
  }

  @Test
  void metricsAuthTokenGuardsMetricsWithTheSameToken(@TempDir Path other) {
    try (TestWatcher m =
        new TestWatcher(other, Map.of("METRICS_AUTH", "token", "READ_AUTH_TOKEN", TOKEN))) {
      assertThat(m.get("/metrics").status()).isEqualTo(401);
      assertThat(
              m.send(
                      HttpRequest.newBuilder(URI.create(m.base + "/metrics"))
                          .header("Authorization", "Bearer " + TOKEN)
                          .GET()
                          .build())
                  .status())
          .isEqualTo(200);
      assertThat(m.get("/api/v1/observations").status()).as("READ_AUTH stays none").isEqualTo(200);
      assertThat(m.get("/ready").status()).isEqualTo(200);
    }
  }

  static String raw(Socket s, String request) throws Exception {
    s.setSoTimeout(5000);
    OutputStream out = s.getOutputStream();
    out.write(request.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    InputStream in = s.getInputStream();
    return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
  }

  @Test
  void anHttp2RequestLineGetsAJsonAnswer() throws Exception {
    try (Socket s = new Socket("127.0.0.1", zw.watcher.port())) {
      String answer = raw(s, "GET /health HTTP/2.0\r\nHost: x\r\n\r\n");
      assertThat(answer).startsWith("HTTP/1.1 505");
      JsonNode body = Json.MAPPER.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
      assertThat(body.get("status").asInt()).isEqualTo(505);
      assertThat(body.get("message").asText()).contains("HTTP/1");
    }
    try (Socket s = new Socket("127.0.0.1", zw.watcher.port())) {
      String answer = raw(s, "GET /" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(answer).matches("(?s)HTTP/1.[01] 414 .*");
      assertThat(answer).contains("\"status\":414");
    }
  }

  static boolean closedByServer(Socket s, Duration within) throws Exception {
    s.setSoTimeout((int) within.toMillis());
    try {
      return s.getInputStream().read() == -1;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (java.net.SocketException e) {
      return true; // reset
    }
  }

  @Test
  void idleConnectionsAreClosedAndTheCapKeepsRoomForRealSenders() throws Exception {
    // A slowloris: the head never completes; closed after HTTP_HEADER_TIMEOUT.
    try (Socket slow = new Socket("127.0.0.1", zw.watcher.port())) {
      slow.getOutputStream()
          .write("POST /ingest/falco HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
      long t0 = System.nanoTime();
      assertThat(closedByServer(slow, Duration.ofSeconds(5))).isTrue();
      assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(300L, 4000L);
    }
    // Over the cap: closed at once. Once the idle ones are gone, real senders get through. (The
    // test's HTTP client may hold keep-alive connections of its own: they count too.)
    Thread.sleep(200);
    int open = zw.watcher.webServer().connections();
    List<Socket> idle = new ArrayList<>();
    try {
      for (int i = open; i < 8; i++) {
        idle.add(new Socket("127.0.0.1", zw.watcher.port()));
      }
      await().atMost(Duration.ofSeconds(2)).until(() -> zw.watcher.webServer().connections() >= 8);
      try (Socket over = new Socket("127.0.0.1", zw.watcher.port())) {
        assertThat(closedByServer(over, Duration.ofMillis(500)))
            .as("refused over the cap")
            .isTrue();
      }
      for (Socket s : idle) {
        assertThat(closedByServer(s, Duration.ofSeconds(5)))
            .as("idle closed by the header timeout")
            .isTrue();
      }
    } finally {
      for (Socket s : idle) {
        s.close();
      }
    }
    assertThat(get("/health").status()).isEqualTo(200);
    assertThat(zw.watcher.webServer().refusedConnections()).isGreaterThanOrEqualTo(1);
  }

  @Test
  void clientFaultsDoNotLogErrors() throws Exception {
    int before = errors();
    for (int i = 0; i < 20; i++) {
      // a body shorter than its Content-Length, then gone
      try (Socket s = new Socket("127.0.0.1", zw.watcher.port())) {
        s.getOutputStream()
            .write(
                ("POST /ingest/falco HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 100000\r\n\r\n{\"rule\":")
                    .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        Thread.sleep(20);
      }
      // a malformed chunk
      try (Socket s = new Socket("127.0.0.1", zw.watcher.port())) {
        raw(
            s,
            "POST /ingest/falco HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n");
      }
    }
    Thread.sleep(300);
    assertThat(errors()).as("ERROR lines: " + errorLines()).isEqualTo(before);
    assertThat(get("/health").status()).isEqualTo(200);
  }

  int errors() {
    return (int) logs.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR)).count();
  }

  List<String> errorLines() {
    return logs.list.stream()
        .filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR))
        .map(
            e ->
                e.getLoggerName()
                    + ": "
                    + e.getFormattedMessage()
                    + (e.getThrowableProxy() == null
                        ? ""
                        : " "
                            + e.getThrowableProxy().getClassName()
                            + ": "
                            + e.getThrowableProxy().getMessage()))
        .distinct()
        .toList();
  }
}
