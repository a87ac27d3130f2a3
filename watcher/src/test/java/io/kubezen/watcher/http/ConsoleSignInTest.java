package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.http.auth.ReadSessions;
import io.kubezen.watcher.http.console.Console;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * READ_AUTH=token in a browser: the sign-in page, its cookie, the redirects and their edge cases,
 * over real HTTP against a real zen-watcher (the browser test, ConsoleBrowserIT, signs in with
 * Chromium).
 */
class ConsoleSignInTest {
  static final String TOKEN = "s3cret-read-token-0123456789";
  static final String HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

  @TempDir Path dir;
  TestWatcher zw;
  String origin;

  @BeforeEach
  void start() {
    zw = new TestWatcher(dir, Map.of("READ_AUTH", "token", "READ_AUTH_TOKEN", TOKEN));
    origin = zw.base;
  }

  @AfterEach
  void stop() {
    zw.close();
  }

  TestWatcher.Response get(String path, String... headers) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(zw.base + path)).timeout(Duration.ofSeconds(30)).GET();
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return zw.send(b.build());
  }

  TestWatcher.Response login(String token, String next, String originHeader) {
    String form =
        "token="
            + URLEncoder.encode(token, StandardCharsets.UTF_8)
            + (next == null ? "" : "&next=" + URLEncoder.encode(next, StandardCharsets.UTF_8));
    List<String> h = new ArrayList<>(List.of("Accept", HTML));
    if (originHeader != null) {
      h.add("Origin");
      h.add(originHeader);
    }
    return zw.post(
        "/login",
        "application/x-www-form-urlencoded",
        form.getBytes(StandardCharsets.UTF_8),
        h.toArray(String[]::new));
  }

  static String cookieOf(TestWatcher.Response r) {
    String set = r.headers().firstValue("Set-Cookie").orElseThrow();
    return set.substring(0, set.indexOf(';'));
  }

  @Test
  void aBrowserIsSentToTheSignInPageAndAnApiClientGets401Json() {
    TestWatcher.Response page = get("/findings?severity=high&q=a%20b", "Accept", HTML);
    assertThat(page.status()).isEqualTo(303);
    assertThat(page.headers().firstValue("Location"))
        .hasValue(
            "/login?next="
                + URLEncoder.encode("/findings?severity=high&q=a%20b", StandardCharsets.UTF_8));
    // htmx (a boosted link or the live check's refresh): a full-page redirect through HX-Redirect.
    TestWatcher.Response htmx = get("/findings", "HX-Request", "true");
    assertThat(htmx.status()).isEqualTo(401);
    assertThat(htmx.headers().firstValue("HX-Redirect")).hasValue("/login?next=%2Ffindings");
    // API clients, and anything that does not ask for HTML: 401 JSON, as before.
    for (String path : List.of("/api/v1/observations", "/console/stamp", "/export/findings.csv")) {
      TestWatcher.Response api = get(path, "Accept", "application/json");
      assertThat(api.status()).as(path).isEqualTo(401);
      assertThat(api.json().get("error").asText()).isEqualTo("unauthorized");
      assertThat(api.json().get("status").asInt()).isEqualTo(401);
    }
    assertThat(get("/api/v1/observations", "Authorization", "Bearer " + TOKEN).status())
        .isEqualTo(200);
    assertThat(get("/api/v1/observations", "Authorization", "Bearer wrong").status())
        .isEqualTo(401);
    // The sign-in page and the assets it needs are open; probes stay open.
    TestWatcher.Response form = get("/login?next=%2Ffindings", "Accept", HTML);
    assertThat(form.status()).isEqualTo(200);
    assertThat(form.body())
        .contains("<form method=\"post\" action=\"/login\"")
        .contains("value=\"/findings\"")
        .doesNotContainPattern("<script>|<style|style=\"");
    assertThat(form.headers().firstValue("Content-Security-Policy")).hasValue(Console.CSP);
    assertThat(form.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(get("/assets/console.css").status()).isEqualTo(200);
    assertThat(get("/health").status()).isEqualTo(200);
  }

  @Test
  void signInBrowseAndSignOut() {
    TestWatcher.Response ok = login(TOKEN, "/findings?state=all", origin);
    assertThat(ok.status()).isEqualTo(303);
    assertThat(ok.headers().firstValue("Location")).hasValue("/findings?state=all");
    String set = ok.headers().firstValue("Set-Cookie").orElseThrow();
    assertThat(set)
        .startsWith(ReadSessions.COOKIE + "=")
        .containsIgnoringCase("HttpOnly")
        .contains("SameSite=Strict")
        .contains("Path=/")
        .contains("Max-Age=43200")
        .doesNotContain("Secure"); // plain HTTP here
    assertThat(set).doesNotContain(TOKEN);
    String cookie = cookieOf(ok);

    TestWatcher.Response page = get("/findings?state=all", "Accept", HTML, "Cookie", cookie);
    assertThat(page.status()).isEqualTo(200);
    assertThat(page.body()).contains("action=\"/logout\"");
    assertThat(get("/api/v1/observations", "Cookie", cookie).status()).isEqualTo(200);
    // Signed in, /login goes straight on.
    TestWatcher.Response again = get("/login?next=%2Fsources", "Accept", HTML, "Cookie", cookie);
    assertThat(again.status()).isEqualTo(303);
    assertThat(again.headers().firstValue("Location")).hasValue("/sources");
    // A changed cookie is no session.
    String tampered =
        cookie.substring(0, cookie.length() - 2) + (cookie.endsWith("AA") ? "BB" : "AA");
    assertThat(get("/", "Accept", HTML, "Cookie", tampered).status()).isEqualTo(303);
    String longer = cookie.replaceFirst("\\.(\\d+)\\.", ".9$1.");
    assertThat(get("/", "Accept", HTML, "Cookie", longer).status())
        .as("an extended expiry breaks the MAC")
        .isEqualTo(303);
    // The cookie is not a bearer token, nor is the token a cookie.
    assertThat(
            get(
                    "/api/v1/observations",
                    "Authorization",
                    "Bearer " + cookie.substring(cookie.indexOf('=') + 1))
                .status())
        .isEqualTo(401);
    assertThat(get("/api/v1/observations", "Cookie", ReadSessions.COOKIE + "=" + TOKEN).status())
        .isEqualTo(401);

    // Sign out: the cookie is cleared and the session ends here even if a copy is replayed.
    TestWatcher.Response out =
        zw.post(
            "/logout",
            "application/x-www-form-urlencoded",
            new byte[0],
            "Origin",
            origin,
            "Cookie",
            cookie);
    assertThat(out.status()).isEqualTo(303);
    assertThat(out.headers().firstValue("Location")).hasValue("/login");
    assertThat(out.headers().firstValue("Set-Cookie").orElseThrow())
        .startsWith(ReadSessions.COOKIE + "=;")
        .contains("Max-Age=0");
    assertThat(get("/", "Accept", HTML, "Cookie", cookie).status()).isEqualTo(303);
    assertThat(get("/api/v1/observations", "Cookie", cookie).status()).isEqualTo(401);
  }

  @Test
  void nextIsOnlyALocalPath() {
    for (String next :
        List.of(
            "//evil.example",
            "//evil.example/findings",
            "https://evil.example/",
            "http:evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "findings",
            "/%0d%0aLocation: https://evil.example",
            "/login?next=https://evil.example",
            "")) {
      TestWatcher.Response r = login(TOKEN, next, origin);
      assertThat(r.status()).as(next).isEqualTo(303);
      assertThat(r.headers().firstValue("Location")).as(next).hasValue("/");
    }
    TestWatcher.Response r = login(TOKEN, "/resource?namespace=shop&kind=Pod", origin);
    assertThat(r.headers().firstValue("Location")).hasValue("/resource?namespace=shop&kind=Pod");
    // The form carries next as it was given, escaped; a bad one becomes /.
    assertThat(
            get("/login?next=" + URLEncoder.encode("/findings?a=1&b='x'", StandardCharsets.UTF_8))
                .body())
        .contains("value=\"/findings?a=1&amp;b=&#39;x&#39;\"");
    assertThat(
            get("/login?next=" + URLEncoder.encode("/x?a=\"><script>", StandardCharsets.UTF_8))
                .body())
        .contains("name=\"next\" value=\"/\"")
        .doesNotContain("<script>");
    assertThat(get("/login?next=%2F%2Fevil.example").body()).contains("name=\"next\" value=\"/\"");
  }

  @Test
  void aPostFromAnotherOriginIsRefused() {
    for (String bad :
        new String[] {
          null,
          "null",
          "http://evil.example",
          "https://127.0.0.1:" + zw.watcher.port(),
          "http://127.0.0.1:1",
          "http://localhost:" + zw.watcher.port(),
          origin + "/path"
        }) {
      TestWatcher.Response r = login(TOKEN, "/", bad);
      assertThat(r.status()).as("Origin %s", bad).isEqualTo(403);
      assertThat(r.json().get("error").asText()).isEqualTo("forbidden");
      assertThat(r.headers().firstValue("Set-Cookie")).isEmpty();
    }
    assertThat(
            zw.post(
                    "/logout",
                    "application/x-www-form-urlencoded",
                    new byte[0],
                    "Origin",
                    "http://evil.example")
                .status())
        .isEqualTo(403);
  }

  @Test
  void aWrongTokenShowsTheFormAgainAfterADelayAndManyAreRateLimited() throws Exception {
    long t0 = System.nanoTime();
    TestWatcher.Response wrong = login("<script>alert(1)</script>", "/findings", origin);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(wrong.status()).isEqualTo(401);
    assertThat(ms)
        .as("a wrong token is answered after the delay")
        .isGreaterThanOrEqualTo(ReadSessions.FAILURE_DELAY.toMillis() - 50);
    assertThat(wrong.body())
        .contains("id=\"login-error\"")
        .contains("That is not the read token.")
        .contains("value=\"/findings\"")
        .doesNotContain("alert(1)");
    assertThat(wrong.headers().firstValue("Set-Cookie")).isEmpty();
    assertThat(wrong.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/html");
    // A token one character off, and an empty one, are wrong too.
    List<CompletableFuture<Integer>> tries = new ArrayList<>();
    for (int i = 1; i < ReadSessions.MAX_FAILURES; i++) {
      String t = i == 1 ? "" : TOKEN.substring(0, TOKEN.length() - 1) + (char) ('a' + i);
      tries.add(CompletableFuture.supplyAsync(() -> login(t, "/", origin).status()));
    }
    for (CompletableFuture<Integer> f : tries) {
      assertThat(f.get()).isEqualTo(401);
    }
    // MAX_FAILURES wrong tokens in the window: the next try, even the right token, waits (429).
    TestWatcher.Response limited = login(TOKEN, "/", origin);
    assertThat(limited.status()).isEqualTo(429);
    assertThat(limited.headers().firstValue("Retry-After")).hasValue("60");
    assertThat(limited.body()).contains("Too many wrong tokens");
    assertThat(limited.headers().firstValue("Set-Cookie")).isEmpty();
    // Bearer clients are not affected by the sign-in limit.
    assertThat(get("/api/v1/observations", "Authorization", "Bearer " + TOKEN).status())
        .isEqualTo(200);
  }

  @Test
  void aTooLargeSignInBodyIs413Json() {
    byte[] big = ("token=" + "a".repeat(8000)).getBytes(StandardCharsets.UTF_8);
    TestWatcher.Response r =
        zw.post("/login", "application/x-www-form-urlencoded", big, "Origin", origin);
    assertThat(r.status()).isEqualTo(413);
    assertThat(r.json().get("status").asInt()).isEqualTo(413);
  }
}
