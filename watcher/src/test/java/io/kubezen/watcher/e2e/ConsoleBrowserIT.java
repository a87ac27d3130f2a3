package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.deque.html.axecore.results.Results;
import com.deque.html.axecore.results.Rule;
import com.deque.html.axecore.selenium.AxeBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.model.Json;
import java.io.File;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web console in a real browser: Debian's chromium driven through its chromedriver (both from
 * /usr/bin, no driver download), against the jar started as a process and filled through its own
 * webhooks with a sample of every source. On failure the screenshot and page source are saved under
 * target/console-failures/.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserIT {
  static final Path CHROMIUM = Path.of(System.getProperty("chromium.binary", "/usr/bin/chromium"));
  static final Path CHROMEDRIVER =
      Path.of(System.getProperty("chromedriver.binary", "/usr/bin/chromedriver"));
  static final Path FAILURES = Path.of("target", "console-failures");

  /** The README tour's screenshot, made by this test. */
  static final Path TOUR_SCREENSHOT =
      Path.of(System.getProperty("console.screenshot", "../docs/images/console-overview.png"));

  static final String XSS_RULE =
      "<script>window.__zwXss = 1</script>Shell <img src=x onerror=\"window.__zwXss=2\">";

  final JarRunner jar = new JarRunner();
  Path dir;
  JarRunner.Running zw;
  String base;
  ChromeDriverService service;
  WebDriver driver;
  Path profile;

  @RegisterExtension
  final TestWatcher onFailure =
      new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
          saveEvidence(context.getRequiredTestMethod().getName());
        }
      };

  @BeforeAll
  void start() throws Exception {
    dir = Files.createTempDirectory("zw-console-it");
    zw = jar.start(dir, Map.of("CLUSTER_NAME", "tour", "LOG_FORMAT", "text"));
    jar.awaitReady(zw);
    base = "http://127.0.0.1:" + zw.port();
    post("falco", JarRunner.sample("falco-alert.json"), "application/json");
    post("k8s-audit", JarRunner.sample("audit-eventlist.json"), "application/json");
    post("kube-bench", JarRunner.sample("kube-bench.json"), "application/json");
    post("checkov", JarRunner.sample("checkov.json"), "application/json");
    post("kyverno", JarRunner.sample("kyverno-report.json"), "application/json");
    post("trivy", JarRunner.sample("trivy-report.yaml"), "application/yaml");
    post("k8s-events", JarRunner.sample("k8s-event.json"), "application/json");
    post(
        "falco",
        falcoAlert(XSS_RULE, "Critical", Instant.now().minusSeconds(120)),
        "application/json");

    profile = Files.createTempDirectory("zw-chromium");
    service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .withLogFile(dir.resolve("chromedriver.log").toFile())
            .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--window-size=1280,1600",
        "--user-data-dir=" + profile);
    driver = new ChromeDriver(service, options);
    driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
  }

  @AfterAll
  void stop() throws Exception {
    if (driver != null) {
      driver.quit();
    }
    if (service != null) {
      service.stop();
    }
    if (zw != null) {
      zw.process().destroy();
      if (!zw.process().waitFor(20, TimeUnit.SECONDS)) {
        JarRunner.kill(zw);
      }
    }
  }

  @BeforeEach
  void home() {
    driver.get(base + "/");
  }

  @Test
  @Order(1)
  void overviewShowsEverySourceAndASeverityCountOpensTheFilteredList() throws Exception {
    wait(d -> d.findElement(By.id("open-total")));
    long open = Long.parseLong(driver.findElement(By.id("open-total")).getText());
    assertThat(open).isEqualTo(api("?limit=1000").get("items").size());
    String page = driver.findElement(By.tagName("main")).getText();
    for (String source :
        List.of("falco", "k8s-audit", "kube-bench", "checkov", "kyverno", "trivy", "k8s-events")) {
      assertThat(page).as("overview lists %s", source).contains(source);
    }
    assertThat(driver.findElement(By.className("clusters")).getText()).contains("tour");
    assertThat(driver.findElements(By.cssSelector(".chart svg rect.opened")))
        .hasSize(24); // one per hour of the last 24 h
    Files.createDirectories(TOUR_SCREENSHOT.toAbsolutePath().getParent());
    Files.copy(
        ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE).toPath(),
        TOUR_SCREENSHOT,
        StandardCopyOption.REPLACE_EXISTING);

    // The "high" total of all sources: the list filtered to open high findings.
    WebElement high = driver.findElement(By.cssSelector("table.matrix tfoot td:nth-of-type(2) a"));
    long highCount = Long.parseLong(high.getText());
    high.click();
    wait(d -> d.getCurrentUrl().contains("severity=high"));
    wait(d -> !d.findElements(By.cssSelector("table.findings tbody tr")).isEmpty());
    List<WebElement> sev = driver.findElements(By.cssSelector("table.findings tbody tr .sev"));
    assertThat(sev).hasSize((int) highCount);
    assertThat(sev).allSatisfy(e -> assertThat(e.getText()).isEqualTo("high"));
    assertThat(api("?severity=high").get("items").size()).isEqualTo(highCount);
  }

  @Test
  @Order(2)
  void filterByNamespaceKeepsTheStateInTheUrlAndTheBackButtonWorks() {
    driver.get(base + "/findings");
    int all = rows().size();
    new Select(driver.findElement(By.id("f-namespace"))).selectByValue("shop");
    driver.findElement(By.id("apply")).click();
    wait(d -> d.getCurrentUrl().contains("namespace=shop"));
    wait(d -> rows().size() < all);
    int shop = rows().size();
    assertThat(shop).isPositive();
    // Every row's resource is in shop (resources are shown kind/namespace/name).
    for (WebElement r : rows()) {
      List<WebElement> res = r.findElements(By.cssSelector("td:nth-of-type(4) a"));
      if (!res.isEmpty()) {
        assertThat(res.get(0).getText()).contains("/shop/");
      }
    }
    // Reload keeps it; back returns to the unfiltered list.
    driver.navigate().refresh();
    wait(
        d ->
            new Select(d.findElement(By.id("f-namespace")))
                .getFirstSelectedOption()
                .getAttribute("value")
                .equals("shop"));
    assertThat(rows()).hasSize(shop);
    driver.navigate().back();
    wait(d -> !d.getCurrentUrl().contains("namespace=shop"));
    wait(d -> rows().size() == all);
  }

  @Test
  @Order(3)
  void searchACveOpenItsDetailAndFollowTheResourceLink() {
    driver.get(base + "/findings");
    WebElement q = driver.findElement(By.id("f-q"));
    q.sendKeys("cve-2023-44487");
    driver.findElement(By.id("apply")).click();
    wait(d -> d.getCurrentUrl().contains("q=cve-2023-44487"));
    wait(d -> rows().size() == 1);
    rows().get(0).findElement(By.cssSelector("td.title a")).click();
    wait(d -> d.getCurrentUrl().contains("/findings/shop/trivy-"));
    String details = wait(d -> d.findElement(By.cssSelector("table.details"))).getText();
    assertThat(details).contains("CVE-2023-44487");
    WebElement link =
        driver.findElement(
            By.cssSelector("table.details a[href='https://avd.aquasec.com/nvd/cve-2023-44487']"));
    assertThat(link.getAttribute("rel")).contains("noopener");
    assertThat(driver.findElement(By.cssSelector("dl.fields")).getText())
        .contains("First seen")
        .contains("Count");
    // The other CVE of the same image is listed as another finding on this resource.
    assertThat(driver.findElement(By.id("h-related")).findElement(By.xpath("..")).getText())
        .contains("CVE-2024-0001");

    driver.findElement(By.cssSelector("dl.fields a[href^='/resource']")).click();
    wait(d -> d.getCurrentUrl().contains("/resource?"));
    assertThat(wait(d -> d.findElement(By.id("resource-title"))).getText()).contains("web-7d4b9");
    assertThat(driver.findElements(By.cssSelector("section.group h2")))
        .extracting(WebElement::getText)
        .anySatisfy(t -> assertThat(t).startsWith("trivy"));
  }

  @Test
  @Order(4)
  void csvExportMatchesTheReadApi() throws Exception {
    driver.get(base + "/findings?state=all");
    String href = wait(d -> d.findElement(By.id("export-csv"))).getAttribute("href");
    HttpResponse<String> csv =
        jar.http.send(
            HttpRequest.newBuilder(URI.create(href)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(csv.statusCode()).isEqualTo(200);
    assertThat(csv.headers().firstValue("Content-Type")).hasValue("text/csv; charset=utf-8");
    List<String> lines = csv.body().lines().toList();
    assertThat(lines.get(0)).startsWith("namespace,name,source,severity");
    Set<String> fromCsv = new HashSet<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",", 3);
      fromCsv.add(cells[0] + "/" + cells[1]);
    }
    Set<String> fromApi = new HashSet<>();
    for (JsonNode o : api("?limit=1000").get("items")) {
      fromApi.add(o.at("/metadata/namespace").asText() + "/" + o.at("/metadata/name").asText());
    }
    assertThat(fromCsv).isEqualTo(fromApi);
    // The JSON export of the same filter is an ObservationList with the same items.
    String json = driver.findElement(By.id("export-json")).getAttribute("href");
    JsonNode list =
        Json.MAPPER.readTree(
            jar.http
                .send(
                    HttpRequest.newBuilder(URI.create(json)).build(),
                    HttpResponse.BodyHandlers.ofString())
                .body());
    assertThat(list.get("kind").asText()).isEqualTo("ObservationList");
    assertThat(list.get("items").size()).isEqualTo(fromApi.size());
    // The printable report.
    driver.findElement(By.id("report")).click();
    wait(d -> d.getCurrentUrl().contains("/report"));
    assertThat(driver.findElement(By.tagName("h1")).getText()).isEqualTo("Findings report");
  }

  @Test
  @Order(5)
  void themeToggleSwitchesAndIsRemembered() {
    String before = driver.findElement(By.tagName("html")).getAttribute("data-theme");
    driver.findElement(By.id("theme-toggle")).click();
    String after = driver.findElement(By.tagName("html")).getAttribute("data-theme");
    assertThat(after).isNotEqualTo(before).isIn("dark", "light");
    String bg = driver.findElement(By.tagName("body")).getCssValue("background-color");
    driver.navigate().refresh();
    wait(d -> after.equals(d.findElement(By.tagName("html")).getAttribute("data-theme")));
    assertThat(driver.findElement(By.tagName("body")).getCssValue("background-color"))
        .isEqualTo(bg);
    driver.findElement(By.id("theme-toggle")).click(); // back, for the other tests' screenshots
  }

  @Test
  @Order(6)
  void htmlInAFindingIsShownAsTextNeverRun() {
    driver.get(
        base
            + "/findings?q="
            + java.net.URLEncoder.encode("window.__zwXss", StandardCharsets.UTF_8));
    wait(d -> rows().size() == 1);
    WebElement title = rows().get(0).findElement(By.cssSelector("td.title a"));
    assertThat(title.getText())
        .contains("<script>window.__zwXss = 1</script>")
        .contains("<img src=x onerror=");
    title.click();
    wait(d -> d.getCurrentUrl().contains("/findings/shop/falco-"));
    assertThat(driver.findElement(By.id("finding-title")).getText()).contains("<script>");
    assertThat(((JavascriptExecutor) driver).executeScript("return typeof window.__zwXss"))
        .isEqualTo("undefined");
    assertThat(driver.findElements(By.cssSelector("main img"))).isEmpty();
    assertThat(driver.findElements(By.cssSelector("main script"))).isEmpty();
  }

  @Test
  @Order(7)
  void aFindingPostedWhileThePageIsOpenAppears() throws Exception {
    long before = Long.parseLong(wait(d -> d.findElement(By.id("open-total")).getText()));
    driver.get(base + "/findings?source=falco");
    int rowsBefore = rows().size();
    post(
        "falco",
        falcoAlert("Live finding " + System.nanoTime(), "Warning", Instant.now()),
        "application/json");
    new WebDriverWait(driver, Duration.ofSeconds(20)).until(d -> rows().size() == rowsBefore + 1);
    assertThat(driver.findElement(By.tagName("main")).getText()).contains("Live finding");
    driver.get(base + "/");
    long shown = Long.parseLong(wait(d -> d.findElement(By.id("open-total")).getText()));
    assertThat(shown).isEqualTo(before + 1);
    post("falco", falcoAlert("Second live finding", "Error", Instant.now()), "application/json");
    // the live check swaps the figures in: an element read just before a swap is stale, read it
    // again
    new WebDriverWait(driver, Duration.ofSeconds(20))
        .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
        .until(d -> Long.parseLong(d.findElement(By.id("open-total")).getText()) == before + 2);
  }

  @Test
  @Order(8)
  void sourcesPageShowsTheReplicaAndEachSource() {
    driver.findElement(By.linkText("Sources")).click();
    wait(d -> d.getCurrentUrl().endsWith("/sources"));
    String text = driver.findElement(By.tagName("main")).getText();
    assertThat(text)
        .contains("Store")
        .contains("sqlite")
        .contains("role")
        .contains("leader")
        .contains("trivy");
  }

  @Test
  @Order(9)
  void keyboardReachesTheFiltersAndNoSeriousAccessibilityViolations() {
    List<String> problems = new ArrayList<>();
    for (String path :
        List.of(
            "/",
            "/findings",
            "/findings?state=all&sort=severity",
            "/sources",
            "/resource?namespace=shop",
            "/report")) {
      driver.get(base + path);
      wait(d -> d.findElement(By.id("live")));
      Results results = new AxeBuilder().analyze(driver);
      for (Rule v : results.getViolations()) {
        if ("serious".equals(v.getImpact()) || "critical".equals(v.getImpact())) {
          problems.add(
              path
                  + ": "
                  + v.getId()
                  + " ("
                  + v.getImpact()
                  + ") "
                  + v.getHelp()
                  + " "
                  + v.getNodes().size());
        }
      }
    }
    // The detail page of the first finding, too.
    driver.get(base + "/findings");
    rows().get(0).findElement(By.cssSelector("td.title a")).click();
    wait(d -> d.getCurrentUrl().contains("/findings/"));
    for (Rule v : new AxeBuilder().analyze(driver).getViolations()) {
      if ("serious".equals(v.getImpact()) || "critical".equals(v.getImpact())) {
        problems.add("detail: " + v.getId() + " " + v.getHelp());
      }
    }
    assertThat(problems).isEmpty();
    // Keyboard: the skip link is the first stop and leads to the main content.
    driver.get(base + "/findings");
    driver.findElement(By.tagName("body")).sendKeys(org.openqa.selenium.Keys.TAB);
    WebElement active = driver.switchTo().activeElement();
    assertThat(active.getText()).isEqualTo("Skip to content");
  }

  @Test
  @Order(10)
  void badFiltersAreAnsweredWith400Json() throws Exception {
    HttpResponse<String> r =
        jar.http.send(
            HttpRequest.newBuilder(URI.create(base + "/findings?severity=urgent")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(400);
    JsonNode body = Json.MAPPER.readTree(r.body());
    assertThat(body.get("error").asText()).isEqualTo("bad_request");
    assertThat(body.get("message").asText()).contains("severity");
    assertThat(r.headers().firstValue("Content-Security-Policy"))
        .hasValueSatisfying(v -> assertThat(v).contains("frame-ancestors 'none'"));
    HttpResponse<String> css =
        jar.http.send(
            HttpRequest.newBuilder(URI.create(base + "/")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(css.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
  }

  @Test
  @Order(11)
  void signInWithTheReadTokenBrowseReloadAndSignOut() throws Exception {
    String token = "browser-read-token-" + System.nanoTime();
    Path authDir = Files.createTempDirectory("zw-console-auth");
    JarRunner.Running guarded =
        jar.start(
            authDir, Map.of("READ_AUTH", "token", "READ_AUTH_TOKEN", token, "LOG_FORMAT", "text"));
    try {
      jar.awaitReady(guarded);
      // localhost, not 127.0.0.1: its cookies are not those of the other jar (cookies ignore
      // ports).
      String site = "http://localhost:" + guarded.port();
      HttpResponse<String> posted =
          jar.http.send(
              HttpRequest.newBuilder(URI.create(site + "/ingest/falco"))
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          falcoAlert("Signed-in finding", "Critical", Instant.now())))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(posted.statusCode()).isEqualTo(200);

      driver.get(site + "/findings?severity=critical");
      wait(d -> d.getCurrentUrl().startsWith(site + "/login?next="));
      assertThat(driver.findElement(By.tagName("h1")).getText()).isEqualTo("Sign in");
      assertThat(new AxeBuilder().analyze(driver).getViolations())
          .filteredOn(v -> "serious".equals(v.getImpact()) || "critical".equals(v.getImpact()))
          .isEmpty();
      // A wrong token: the form again, with the error.
      driver.findElement(By.id("token")).sendKeys("not-the-token");
      driver.findElement(By.id("sign-in")).click();
      assertThat(wait(d -> d.findElement(By.id("login-error"))).getText())
          .contains("not the read token");
      assertThat(driver.manage().getCookieNamed("zw_read")).isNull();
      // The right one: back where the browser wanted to go, filter kept.
      driver.findElement(By.id("token")).sendKeys(token + org.openqa.selenium.Keys.ENTER);
      wait(d -> d.getCurrentUrl().equals(site + "/findings?severity=critical"));
      wait(d -> rows().size() == 1);
      assertThat(driver.findElement(By.tagName("main")).getText()).contains("Signed-in finding");
      org.openqa.selenium.Cookie c = driver.manage().getCookieNamed("zw_read");
      assertThat(c.isHttpOnly()).isTrue();
      assertThat(c.getSameSite()).isEqualTo("Strict");
      assertThat(c.getValue()).doesNotContain(token);
      assertThat(((JavascriptExecutor) driver).executeScript("return document.cookie"))
          .isEqualTo("");
      // Reload and browse (boosted links) keep the session.
      driver.navigate().refresh();
      wait(d -> rows().size() == 1);
      driver.findElement(By.linkText("Sources")).click();
      wait(d -> d.getCurrentUrl().equals(site + "/sources"));
      assertThat(wait(d -> d.findElement(By.tagName("h1"))).getText())
          .isEqualTo("Sources and Ingesters");
      driver.findElement(By.linkText("Overview")).click();
      wait(d -> d.findElement(By.id("open-total")).getText().equals("1"));
      // Sign out: back at the sign-in page; the console is closed again.
      driver.findElement(By.id("sign-out")).click();
      wait(d -> d.getCurrentUrl().startsWith(site + "/login"));
      assertThat(driver.manage().getCookieNamed("zw_read")).isNull();
      driver.get(site + "/sources");
      wait(d -> d.getCurrentUrl().startsWith(site + "/login?next=%2Fsources"));
    } finally {
      guarded.process().destroy();
      if (!guarded.process().waitFor(20, TimeUnit.SECONDS)) {
        JarRunner.kill(guarded);
      }
    }
  }

  @Test
  @Order(12)
  void keyboardOnlyPhoneWidthDarkThemeAndPrint() {
    ChromeDriver chrome = (ChromeDriver) driver;
    JavascriptExecutor js = (JavascriptExecutor) driver;
    // Keyboard only: skip link, into the main content, the search field, Enter applies it.
    driver.get(base + "/findings");
    driver.findElement(By.tagName("body")).sendKeys(org.openqa.selenium.Keys.TAB);
    driver.switchTo().activeElement().sendKeys(org.openqa.selenium.Keys.ENTER);
    wait(d -> "main".equals(d.switchTo().activeElement().getAttribute("id")));
    driver.switchTo().activeElement().sendKeys(org.openqa.selenium.Keys.TAB);
    WebElement search = driver.switchTo().activeElement();
    assertThat(search.getAttribute("id")).isEqualTo("f-q");
    search.sendKeys("nginx" + org.openqa.selenium.Keys.ENTER);
    wait(d -> d.getCurrentUrl().contains("q=nginx"));
    // Focus is visible: the focused link gets an outline.
    driver.findElement(By.tagName("body")).sendKeys(org.openqa.selenium.Keys.TAB);
    assertThat(driver.switchTo().activeElement().getCssValue("outline-style")).isEqualTo("solid");

    // The dark theme: no serious contrast (or other) violation either.
    driver.get(base + "/");
    js.executeScript("localStorage.setItem('zw-theme', 'dark')");
    List<String> problems = new ArrayList<>();
    for (String path : List.of("/", "/findings?state=all", "/sources", "/report")) {
      driver.get(base + path);
      wait(d -> "dark".equals(d.findElement(By.tagName("html")).getAttribute("data-theme")));
      for (Rule v : new AxeBuilder().analyze(driver).getViolations()) {
        if ("serious".equals(v.getImpact()) || "critical".equals(v.getImpact())) {
          problems.add(
              "dark " + path + ": " + v.getId() + " " + v.getHelp() + " " + v.getNodes().size());
        }
      }
    }
    assertThat(problems).isEmpty();

    // Print (the report, from the dark theme): black on white, no header or filters, the date
    // shown.
    driver.get(base + "/report?state=all");
    chrome.executeCdpCommand("Emulation.setEmulatedMedia", Map.of("media", "print"));
    try {
      assertThat(driver.findElement(By.tagName("body")).getCssValue("color"))
          .isIn("rgba(0, 0, 0, 1)", "rgb(0, 0, 0)");
      assertThat(driver.findElement(By.tagName("body")).getCssValue("background-color"))
          .isIn("rgba(255, 255, 255, 1)", "rgb(255, 255, 255)");
      assertThat(driver.findElement(By.cssSelector("header.top")).isDisplayed()).isFalse();
      assertThat(driver.findElement(By.cssSelector("p.asof")).isDisplayed()).isTrue();
      assertThat(driver.findElements(By.cssSelector("table.findings tbody tr"))).isNotEmpty();
    } finally {
      chrome.executeCdpCommand("Emulation.setEmulatedMedia", Map.of("media", ""));
      js.executeScript("localStorage.setItem('zw-theme', 'light')");
    }

    // A phone's width: nothing wider than the screen (wide tables scroll inside their box).
    chrome.executeCdpCommand(
        "Emulation.setDeviceMetricsOverride",
        Map.of("width", 390, "height", 844, "deviceScaleFactor", 2, "mobile", true));
    try {
      driver.get(base + "/findings");
      String detail = rows().get(0).findElement(By.cssSelector("td.title a")).getAttribute("href");
      for (String path :
          List.of(
              "/",
              "/findings",
              "/findings?state=all&sort=severity",
              "/sources",
              "/resource?namespace=shop",
              "/report",
              detail.substring(base.length()))) {
        driver.get(base + path);
        wait(d -> d.findElement(By.id("live")));
        Object overflow =
            js.executeScript(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth");
        assertThat(((Number) overflow).longValue())
            .as("horizontal overflow of %s at 390 px", path)
            .isLessThanOrEqualTo(0);
      }
    } finally {
      chrome.executeCdpCommand("Emulation.clearDeviceMetricsOverride", Map.of());
    }
  }

  // ---------------------------------------------------------------- helpers

  List<WebElement> rows() {
    return driver.findElements(By.cssSelector("table.findings tbody tr"));
  }

  <T> T wait(java.util.function.Function<WebDriver, T> condition) {
    // an element the live check has just swapped out is stale: look it up again
    return new WebDriverWait(driver, Duration.ofSeconds(15))
        .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
        .until(condition::apply);
  }

  JsonNode api(String query) throws Exception {
    return Json.MAPPER.readTree(
        jar.call("GET", base + "/api/v1/observations" + query, null).body());
  }

  void post(String source, String body, String contentType) throws Exception {
    HttpResponse<String> r =
        jar.http.send(
            HttpRequest.newBuilder(URI.create(base + "/ingest/" + source))
                .header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as("POST /ingest/%s: %s", source, r.body()).isEqualTo(200);
  }

  static String falcoAlert(String rule, String priority, Instant time) throws Exception {
    var node =
        (com.fasterxml.jackson.databind.node.ObjectNode)
            Json.MAPPER.readTree(JarRunner.sample("falco-alert.json"));
    node.put("rule", rule);
    node.put("priority", priority);
    node.put("output", rule + " (user=root container=nginx)");
    node.put("time", time.toString());
    return Json.MAPPER.writeValueAsString(node);
  }

  void saveEvidence(String name) {
    if (driver == null) {
      return;
    }
    try {
      Files.createDirectories(FAILURES);
      File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
      Files.copy(
          shot.toPath(), FAILURES.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
      Files.writeString(
          FAILURES.resolve(name + ".html"),
          "<!-- " + driver.getCurrentUrl() + " -->\n" + driver.getPageSource());
      if (zw != null) {
        Files.copy(
            zw.log(),
            FAILURES.resolve(name + ".zen-watcher.log"),
            StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (Exception e) {
      System.err.println("could not save the failure evidence of " + name + ": " + e);
    }
  }

  static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  @Test
  @Order(13)
  void aRankedNamespaceOpensItsFindingsAndTheListSortsBySeverityAndCount() {
    // The first namespace with the most critical/high findings: its critical count opens the list
    // of exactly those.
    WebElement row =
        wait(d -> d.findElement(By.cssSelector("section[aria-labelledby=h-ns] tbody tr")));
    String ns = row.findElement(By.cssSelector("th a")).getText();
    WebElement critical = row.findElement(By.cssSelector("td:nth-of-type(1) a"));
    long n = Long.parseLong(critical.getText());
    critical.click();
    wait(d -> d.getCurrentUrl().contains("namespace=" + ns));
    assertThat(driver.getCurrentUrl()).contains("severity=critical");
    if (n > 0) {
      wait(d -> rows().size() == n);
      assertThat(driver.findElements(By.cssSelector("table.findings tbody tr .sev")))
          .allSatisfy(e -> assertThat(e.getText()).isEqualTo("critical"));
    } else {
      wait(d -> !d.findElements(By.id("no-findings")).isEmpty());
    }

    // Sorted by severity: no row is more severe than the one above it.
    driver.get(base + "/findings?state=all");
    new Select(driver.findElement(By.id("f-sort"))).selectByValue("severity");
    driver.findElement(By.id("apply")).click();
    wait(d -> d.getCurrentUrl().contains("sort=severity"));
    List<String> order = List.of("critical", "high", "medium", "low", "info");
    List<Integer> ranks =
        driver.findElements(By.cssSelector("table.findings tbody tr .sev")).stream()
            .map(e -> order.indexOf(e.getText()))
            .toList();
    assertThat(ranks).isNotEmpty().isSorted().doesNotContain(-1);

    // Sorted by count: the counts never increase down the list.
    new Select(driver.findElement(By.id("f-sort"))).selectByValue("count");
    driver.findElement(By.id("apply")).click();
    wait(d -> d.getCurrentUrl().contains("sort=count"));
    List<Long> counts =
        driver.findElements(By.cssSelector("table.findings tbody tr td.num")).stream()
            .map(e -> Long.parseLong(e.getText()))
            .toList();
    assertThat(counts).isNotEmpty().isSortedAccordingTo(java.util.Comparator.reverseOrder());
  }
}
