package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 10, points 2 and 3 (standalone): namespaces and times taken from the input that the API
 * server would refuse or that overflow arithmetic. Each is answered 200, stored where Kubernetes
 * mode would store it (the watcher's own namespace, the original text kept), and counted once.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PoisonInputTest {
  @TempDir static Path dir;
  TestWatcher zw;

  @BeforeAll
  void start() {
    zw = new TestWatcher(dir, Map.of("POD_NAMESPACE", "zen-own"));
  }

  @AfterAll
  void stop() {
    zw.close();
  }

  static String falco(String rule, String namespace, String time) {
    return "{\"rule\":\""
        + rule
        + "\",\"output\":\"o\",\"priority\":\"Critical\",\"time\":\""
        + time
        + "\",\"output_fields\":{\"k8s.ns.name\":\""
        + namespace
        + "\",\"k8s.pod.name\":\"p\"}}";
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "Shop_Prod",
        "UPPER",
        "a.b",
        "../../x",
        "../../x/%00/y",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      })
  void anInvalidNamespaceGoesToTheWatchersOwnWithTheOriginalKept(String namespace) {
    String rule = "poison " + Integer.toHexString(namespace.hashCode());
    TestWatcher.Response r =
        zw.postJson("/ingest/falco", falco(rule, namespace, "2026-11-22T10:00:00Z"));
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().get("created").asInt()).isEqualTo(1);
    JsonNode items = zw.get("/api/v1/observations?source=falco&limit=500").json().get("items");
    JsonNode obs = null;
    for (JsonNode i : items) {
      if (i.at("/spec/title").asText().contains(rule)
          || namespace.equals(i.at("/spec/details/originalNamespace").asText())) {
        obs = i;
      }
    }
    assertThat(obs).as("stored: " + items).isNotNull();
    assertThat(obs.at("/metadata/namespace").asText()).isEqualTo("zen-own");
    assertThat(obs.at("/spec/resource/namespace").asText()).isEqualTo(namespace);
    assertThat(obs.at("/spec/details/originalNamespace").asText()).isEqualTo(namespace);
  }

  @Test
  void aHugeNamespaceIsCutNotStoredWhole() {
    String huge = "x".repeat(900_000);
    TestWatcher.Response r =
        zw.postJson(
            "/ingest/generic-huge",
            "{\"title\":\"huge ns\",\"resource\":{\"kind\":\"Pod\",\"name\":\"p\",\"namespace\":\""
                + huge
                + "\"}}");
    // The generic source drops an invalid namespace (it picks the first valid one); Falco keeps it.
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    TestWatcher.Response f =
        zw.post(
            "/ingest/falco",
            "application/json",
            falco("huge", huge, "2026-11-22T10:00:00Z")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    assertThat(f.status()).as(f.body()).isIn(200, 413);
    JsonNode items = zw.get("/api/v1/observations?namespace=zen-own&limit=500").json().get("items");
    for (JsonNode i : items) {
      assertThat(i.at("/spec/resource/namespace").asText().length()).isLessThanOrEqualTo(1024);
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "+999999999-12-31T23:59:59Z",
        "-999999999-01-01T00:00:00Z",
        "+10000-01-01T00:00:00Z"
      })
  void outOfRangeTimesAreTreatedAsMissingEverywhere(String time) {
    String tag = Integer.toHexString(time.hashCode());
    assertThat(zw.postJson("/ingest/falco", falco("time " + tag, "shop", time)).status())
        .isEqualTo(200);
    assertThat(
            zw.postJson(
                    "/ingest/generic-times",
                    "{\"title\":\"t " + tag + "\",\"timestamp\":\"" + time + "\"}")
                .status())
        .isEqualTo(200);
    assertThat(
            zw.postJson(
                    "/ingest/generic-times", "{\"title\":\"n " + tag + "\",\"timestamp\":1e300}")
                .status())
        .isEqualTo(200);
    assertThat(
            zw.postJson(
                    "/ingest/k8s-audit",
                    """
        {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%s","stage":"ResponseComplete",
         "requestURI":"/api/v1/namespaces/shop/secrets/s","verb":"delete","user":{"username":"alice"},
         "objectRef":{"resource":"secrets","namespace":"shop","name":"s","apiVersion":"v1"},
         "responseStatus":{"code":200},"requestReceivedTimestamp":"%s","stageTimestamp":"%s"}
        """
                        .formatted(tag, time, time))
                .status())
        .isEqualTo(200);
    TestWatcher.Response ev =
        zw.postJson(
            "/ingest/k8s-events",
            """
        {"apiVersion":"v1","kind":"Event","metadata":{"name":"e.%s","namespace":"shop"},
         "involvedObject":{"apiVersion":"v1","kind":"Pod","name":"web","namespace":"shop"},
         "reason":"FailedMount","message":"MountVolume.SetUp failed for volume x %s","type":"Warning",
         "count":1,"firstTimestamp":"%s","lastTimestamp":"%s"}
        """
                .formatted(tag, tag, time, time));
    assertThat(ev.status()).as(ev.body()).isEqualTo(200);
    for (JsonNode i : zw.get("/api/v1/observations?limit=500").json().get("items")) {
      assertThat(i.at("/spec/detectedAt").asText()).as(i.toString()).matches("\\d{4}-.*");
      assertThat(i.at("/status/lastSeen").asText()).as(i.toString()).matches("\\d{4}-.*");
    }
    // the series exist from the first scrape (at 0): none may have counted a 500
    assertThat(
            zw.get("/metrics")
                .body()
                .lines()
                .filter(l -> !l.startsWith("#") && l.contains("code=\"500\"")))
        .allSatisfy(l -> assertThat(l).endsWith(" 0.0"));
  }
}
