package io.kubezen.watcher.store.sqlite;

import static io.kubezen.watcher.store.sqlite.Fixtures.falco;
import static io.kubezen.watcher.store.sqlite.Fixtures.obs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.WriteOutcome;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteObservationStoreTest {
  static final Instant T0 = Instant.parse("2024-05-01T12:00:00Z");

  @TempDir Path dir;
  Path db;
  MutableClock clock;
  SqliteObservationStore store;

  @BeforeEach
  void open() {
    db = dir.resolve("data/nested/zen-watcher.db");
    clock = new MutableClock(T0);
    store = SqliteObservationStore.open(db, clock);
  }

  @AfterEach
  void close() {
    store.close();
  }

  @Test
  void opensInWalModeWithCurrentSchemaAndCreatesParentDirectories() throws Exception {
    assertThat(db).exists();
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("PRAGMA journal_mode")) {
        assertThat(rs.getString(1)).isEqualTo("wal");
      }
      try (ResultSet rs = st.executeQuery("PRAGMA user_version")) {
        assertThat(rs.getInt(1)).isEqualTo(Schema.VERSION);
      }
    }
  }

  @Test
  void createThenMergeAddsCountsAndWidensSeenTimesButKeepsSpecAndLabels() {
    Observation first = falco("shop", "falco-0123456789abcdef", 604800L, 2,
        "2024-05-01T10:00:05Z", "2024-05-01T10:00:10Z");
    assertThat(store.createOrMerge(List.of(first))).containsExactly(WriteOutcome.CREATED);

    clock.advance(Duration.ofMinutes(5));
    Observation again = obs("shop", "falco-0123456789abcdef", "falco", Severity.CRITICAL, Category.COST,
        "other_type", 1L, 3, "2024-05-01T10:00:01Z", "2024-05-01T10:00:20Z");
    again.getMetadata().getLabels().put("extra", "label");
    assertThat(store.createOrMerge(List.of(again))).containsExactly(WriteOutcome.MERGED);

    Observation got = store.get("shop", "falco-0123456789abcdef").orElseThrow();
    assertThat(got.getStatus().count()).isEqualTo(5L);
    assertThat(got.getStatus().firstSeen()).isEqualTo("2024-05-01T10:00:01Z");
    assertThat(got.getStatus().lastSeen()).isEqualTo("2024-05-01T10:00:20Z");
    assertThat(got.getSpec()).isEqualTo(first.getSpec());
    assertThat(got.getMetadata().getLabels()).isEqualTo(first.getMetadata().getLabels());
    assertThat(got.getMetadata().getCreationTimestamp()).isEqualTo("2024-05-01T12:00:00Z");

    // A merge inside the known range moves neither end.
    store.createOrMerge(List.of(falco("shop", "falco-0123456789abcdef", 604800L, 1,
        "2024-05-01T10:00:15Z", "2024-05-01T10:00:16Z")));
    Observation later = store.get("shop", "falco-0123456789abcdef").orElseThrow();
    assertThat(later.getStatus()).isEqualTo(ObservationStatus.seen(6, "2024-05-01T10:00:01Z", "2024-05-01T10:00:20Z"));
  }

  @Test
  void seenTimesWithOffsetsAndFractionsAreComparedAsInstants() {
    store.createOrMerge(List.of(falco("a", "x", null, 1,
        "2024-05-01T12:00:00.123456+02:00", "2024-05-01T12:00:00.123456+02:00")));
    store.createOrMerge(List.of(falco("a", "x", null, 1, "2024-05-01T09:59:59Z", "2024-05-01T10:00:01Z")));
    ObservationStatus s = store.get("a", "x").orElseThrow().getStatus();
    assertThat(s.firstSeen()).isEqualTo("2024-05-01T09:59:59Z");
    assertThat(s.lastSeen()).isEqualTo("2024-05-01T10:00:01Z");
  }

  @Test
  void withoutStatusTheObservationCountsOnceSeenWhenDetected() {
    Observation o = falco("a", "x");
    o.setStatus(null);
    store.createOrMerge(List.of(o));
    assertThat(store.get("a", "x").orElseThrow().getStatus())
        .isEqualTo(ObservationStatus.seen(1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"));
  }

  @Test
  void aDuplicateInsideOneBatchIsMerged() {
    List<WriteOutcome> outcomes = store.createOrMerge(List.of(
        falco("a", "one"), falco("a", "two"), falco("a", "one"), falco("b", "one")));
    assertThat(outcomes).containsExactly(
        WriteOutcome.CREATED, WriteOutcome.CREATED, WriteOutcome.MERGED, WriteOutcome.CREATED);
    assertThat(store.get("a", "one").orElseThrow().getStatus().count()).isEqualTo(2L);
    assertThat(store.get("b", "one").orElseThrow().getStatus().count()).isEqualTo(1L);
  }

  @Test
  void anInvalidItemFailsTheWholeBatchBeforeAnythingIsWritten() {
    Observation bad = falco("a", "bad");
    bad.getMetadata().setNamespace(null);
    assertThatThrownBy(() -> store.createOrMerge(List.of(falco("a", "good"), bad)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(store.get("a", "good")).isEmpty();
  }

  @Test
  void addRepeatsMergesExistingAndReportsMissingWithoutCreating() {
    store.createOrMerge(List.of(falco("a", "x")));
    List<WriteOutcome> outcomes = store.addRepeats(List.of(
        new Repeat("a", "x", 4, Instant.parse("2024-05-01T10:05:00Z")),
        new Repeat("a", "gone", 2, Instant.parse("2024-05-01T10:05:00Z")),
        new Repeat("a", "x", 1, Instant.parse("2024-05-01T10:01:00Z"))));
    assertThat(outcomes).containsExactly(WriteOutcome.MERGED, WriteOutcome.MISSING, WriteOutcome.MERGED);
    assertThat(store.get("a", "gone")).isEmpty();
    ObservationStatus s = store.get("a", "x").orElseThrow().getStatus();
    assertThat(s.count()).isEqualTo(6L);
    assertThat(s.firstSeen()).isEqualTo("2024-05-01T10:00:00Z");
    assertThat(s.lastSeen()).isEqualTo("2024-05-01T10:05:00Z"); // an older repeat does not move it back
  }

  @Test
  void everythingSurvivesCloseAndReopen() {
    store.createOrMerge(List.of(falco("a", "x"), falco("b", "y", null, 3, "2024-05-01T09:00:00Z",
        "2024-05-01T09:30:00Z")));
    store.addRepeats(List.of(new Repeat("a", "x", 2, Instant.parse("2024-05-01T11:00:00Z"))));
    store.close();

    store = SqliteObservationStore.open(db, clock);
    assertThat(store.get("a", "x").orElseThrow().getStatus())
        .isEqualTo(ObservationStatus.seen(3, "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"));
    assertThat(store.get("b", "y").orElseThrow().getSpec().ttlSecondsAfterCreation()).isNull();
    assertThat(store.list(ObservationQuery.all(10)).items()).hasSize(2);
    // and it still merges instead of creating again
    assertThat(store.createOrMerge(List.of(falco("a", "x")))).containsExactly(WriteOutcome.MERGED);
  }

  @Test
  void listFiltersOnEachFieldExactly() {
    store.createOrMerge(List.of(
        obs("prod", "falco-1", "falco", Severity.CRITICAL, Category.SECURITY, "runtime_threat", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        obs("prod", "trivy-1", "trivy", Severity.HIGH, Category.SECURITY, "vulnerability", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        obs("dev", "trivy-2", "trivy", Severity.CRITICAL, Category.SECURITY, "vulnerability", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        obs("dev", "bench-1", "kube-bench", Severity.HIGH, Category.COMPLIANCE, "cis_benchmark_fail", null, 1,
            "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z")));

    assertThat(names(new ObservationQuery("trivy", null, null, null, null, 10, null)))
        .containsExactlyInAnyOrder("trivy-1", "trivy-2");
    assertThat(names(new ObservationQuery(null, "critical", null, null, null, 10, null)))
        .containsExactlyInAnyOrder("falco-1", "trivy-2");
    assertThat(names(new ObservationQuery(null, null, "compliance", null, null, 10, null)))
        .containsExactly("bench-1");
    assertThat(names(new ObservationQuery(null, null, null, "dev", null, 10, null)))
        .containsExactlyInAnyOrder("trivy-2", "bench-1");
    assertThat(names(new ObservationQuery(null, null, null, null, "runtime_threat", 10, null)))
        .containsExactly("falco-1");
    assertThat(names(new ObservationQuery("trivy", "high", "security", "prod", "vulnerability", 10, null)))
        .containsExactly("trivy-1");
    assertThat(names(new ObservationQuery("tri", null, null, null, null, 10, null))).isEmpty();
    assertThat(names(new ObservationQuery(null, "CRITICAL", null, null, null, 10, null))).isEmpty();
  }

  @Test
  void listIsNewestFirstThenByName() {
    store.createOrMerge(List.of(falco("a", "old-b"), falco("a", "old-a")));
    clock.advance(Duration.ofMillis(1));
    store.createOrMerge(List.of(falco("b", "new-z"), falco("a", "new-z"), falco("a", "new-y")));
    clock.advance(Duration.ofSeconds(1));
    // merging does not make an Observation newer
    store.createOrMerge(List.of(falco("a", "old-b")));

    List<String> order = store.list(ObservationQuery.all(10)).items().stream()
        .map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName())
        .toList();
    assertThat(order).containsExactly("a/new-y", "a/new-z", "b/new-z", "a/old-a", "a/old-b");
  }

  @Test
  void paginationReturnsEveryRowExactlyOnce() {
    // 250 rows, with many sharing one creation time, so the name/namespace tie-break is exercised
    for (int batch = 0; batch < 25; batch++) {
      List<Observation> obs = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        obs.add(falco(i % 2 == 0 ? "even" : "odd", "falco-" + (batch * 10 + i / 2)));
      }
      store.createOrMerge(obs);
      if (batch % 3 == 0) {
        clock.advance(Duration.ofMillis(1));
      }
    }
    List<String> all = new ArrayList<>();
    List<Integer> pageSizes = new ArrayList<>();
    String token = null;
    do {
      ObservationPage page = store.list(new ObservationQuery(null, null, null, null, null, 100, token));
      pageSizes.add(page.items().size());
      page.items().forEach(o -> all.add(o.getMetadata().getNamespace() + "/" + o.getMetadata().getName()));
      token = page.continueToken();
    } while (token != null);

    assertThat(pageSizes).containsExactly(100, 100, 50);
    assertThat(all).hasSize(250).doesNotHaveDuplicates();
    assertThat(all).isEqualTo(store.list(ObservationQuery.all(1000)).items().stream()
        .map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName()).toList());
  }

  @Test
  void paginationKeepsTheFilterAndEndsWithNullTokenOnAnExactlyFullPage() {
    List<Observation> obs = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      obs.add(falco(i < 10 ? "prod" : "dev", "falco-" + i));
    }
    store.createOrMerge(obs);
    ObservationPage first = store.list(new ObservationQuery(null, null, null, "prod", null, 5, null));
    ObservationPage second = store.list(new ObservationQuery(null, null, null, "prod", null, 5, first.continueToken()));
    assertThat(second.continueToken()).isNull();
    Set<String> names = new HashSet<>();
    first.items().forEach(o -> names.add(o.getMetadata().getName()));
    second.items().forEach(o -> names.add(o.getMetadata().getName()));
    assertThat(names).hasSize(10);
    assertThat(List.of(first, second)).allSatisfy(p -> assertThat(p.items())
        .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo("prod")));
  }

  @Test
  void aMalformedContinueTokenIsRejected() {
    store.createOrMerge(List.of(falco("a", "x")));
    for (String bad : List.of("", "%%%not-base64%%%", b64("hello"), b64("v1:notanumber:1:xa"),
        b64("v1:12:99:x"), b64("v2:12:1:xa"), b64("v1:12:-1:xa"))) {
      assertThatThrownBy(() -> store.list(new ObservationQuery(null, null, null, null, null, 10, bad)))
          .as("token %s", bad)
          .isInstanceOf(InvalidContinueTokenException.class);
    }
  }

  @Test
  void continueTokenRoundTripsAnyName() {
    ContinueToken t = new ContinueToken(1714564800123L, "na:me:with:colons", "ns-ü");
    assertThat(ContinueToken.decode(t.encode())).isEqualTo(t);
  }

  @Test
  void deleteExpiredDeletesOnlyWhatOutlivedItsTtl() {
    store.createOrMerge(List.of(
        falco("a", "one-minute", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        falco("a", "one-hour", 3600L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        falco("a", "forever", null, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z")));

    clock.advance(Duration.ofSeconds(60));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(0, 0)); // exactly at expiry: kept
    clock.advance(Duration.ofMillis(1));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(1, 0));
    assertThat(store.get("a", "one-minute")).isEmpty();
    assertThat(store.get("a", "one-hour")).isPresent();

    clock.advance(Duration.ofHours(1));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(1, 0));
    clock.advance(Duration.ofDays(365 * 100));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(0, 0));
    assertThat(names(ObservationQuery.all(10))).containsExactly("forever");
    // an Observation whose repeats keep coming still expires from its creation time
    assertThat(store.addRepeats(List.of(new Repeat("a", "one-minute", 1, clock.instant()))))
        .containsExactly(WriteOutcome.MISSING);
  }

  @Test
  void stateLikeFindingsLiveWhileOpenAndResolvedOnesExpireFromResolvedAt() {
    Observation watched = falco("a", "watched", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    watched.getMetadata().getLabels().put(Observation.LABEL_ORIGIN_UID, "uid-1");
    Observation pushed = falco("a", "pushed", 60L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
    store.createIfAbsent(List.of(watched, pushed));
    String source = watched.getSpec().source();

    clock.advance(Duration.ofDays(30));
    assertThat(store.deleteExpired(clock.instant(), java.util.Set.of(source))).isEqualTo(new GcResult(1, 0));
    assertThat(names(ObservationQuery.all(10))).containsExactly("watched"); // still in its report

    store.resolve(List.of(new io.kubezen.watcher.store.ObservationKey("a", "watched")), clock.instant());
    clock.advance(Duration.ofSeconds(60));
    assertThat(store.deleteExpired(clock.instant(), java.util.Set.of(source))).isEqualTo(new GcResult(0, 0));
    clock.advance(Duration.ofMillis(1));
    assertThat(store.deleteExpired(clock.instant(), java.util.Set.of(source))).isEqualTo(new GcResult(1, 0));
    assertThat(names(ObservationQuery.all(10))).isEmpty();
  }

  @Test
  void deleteExpiredWorksThroughManyChunks() {
    int n = SqliteObservationStore.GC_CHUNK * 2 + 500;
    List<Observation> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      batch.add(falco("a", "short-" + i, 10L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"));
    }
    batch.add(falco("a", "long", 100000L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"));
    store.createOrMerge(batch);
    clock.advance(Duration.ofMinutes(1));
    assertThat(store.deleteExpired(clock.instant())).isEqualTo(new GcResult(n, 0));
    assertThat(names(ObservationQuery.all(10))).containsExactly("long");
  }

  @Test
  void expiryArithmeticSaturates() {
    assertThat(SqliteObservationStore.expiresAt(1000L, null)).isNull();
    assertThat(SqliteObservationStore.expiresAt(1000L, 5L)).isEqualTo(6000L);
    assertThat(SqliteObservationStore.expiresAt(1000L, -5L)).isEqualTo(1000L);
    assertThat(SqliteObservationStore.expiresAt(1000L, Long.MAX_VALUE)).isNull();
  }

  @Test
  void everyFieldRoundTripsIncludingNestedDetailsAndUnicode() throws Exception {
    Map<String, Object> nested = new LinkedHashMap<>();
    nested.put("container", Map.of("id", "3ad7e1c2b4f5", "image", "registry.example/ショップ/web:1.2"));
    nested.put("ports", List.of(80, 443));
    nested.put("score", 9.8);
    nested.put("scored", true);
    nested.put("missing", null);
    nested.put("deep", List.of(Map.of("a", List.of(Map.of("b", "c")))));
    nested.put("output", "Shell spawned 🐚 by user=root عربى \"quoted\" \\ back\nnew line \u0000 nul");
    ObservationSpec spec = new ObservationSpec("falco", Category.SECURITY, Severity.CRITICAL, "runtime_threat",
        new ResourceRef("v1", "Pod", "web-ü", "shop"), "Terminal shell in container «web»", nested,
        "2024-05-01T10:00:00.123456Z", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        604800L, "cluster-ä");
    Observation o = new Observation();
    o.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
        .withName("falco-9f86d081884c7d65").withNamespace("shop")
        .addToLabels(Observation.LABEL_SOURCE, "falco")
        .addToAnnotations("note", "日本語")
        .withResourceVersion("42") // not kept: the store owns its own bookkeeping
        .build());
    o.setSpec(spec);
    o.setStatus(new ObservationStatus(7L, "2024-05-01T10:00:00.123456Z", "2024-05-01T10:10:00Z", true,
        "2024-05-01T11:00:00Z"));
    store.createOrMerge(List.of(o));

    Observation got = store.get("shop", "falco-9f86d081884c7d65").orElseThrow();
    assertThat(got.getApiVersion()).isEqualTo(Observation.API_VERSION);
    assertThat(got.getKind()).isEqualTo("Observation");
    assertThat(got.getSpec()).isEqualTo(spec);
    assertThat(got.getStatus()).isEqualTo(o.getStatus());
    assertThat(got.getMetadata().getLabels()).isEqualTo(o.getMetadata().getLabels());
    assertThat(got.getMetadata().getAnnotations()).isEqualTo(o.getMetadata().getAnnotations());
    assertThat(got.getMetadata().getCreationTimestamp()).isEqualTo("2024-05-01T12:00:00Z");
    assertThat(got.getMetadata().getResourceVersion()).isNull();

    JsonNode tree = Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(got));
    assertThat(tree.fieldNames()).toIterable().containsExactlyInAnyOrder("apiVersion", "kind", "metadata", "spec", "status");
    assertThat(tree.at("/spec/details/deep/0/a/0/b").asText()).isEqualTo("c");
    assertThat(tree.at("/spec/details/output").asText()).isEqualTo(nested.get("output"));
    assertThat(tree.at("/spec/details").has("missing")).isTrue();
    assertThat(tree.at("/status/count").asLong()).isEqualTo(7);
  }

  @Test
  void theSharedMapperRoundTripsTheCustomResource() throws Exception {
    Observation o = falco("shop", "falco-0123456789abcdef");
    o.getMetadata().setCreationTimestamp("2024-05-01T12:00:00Z");
    String json = Json.MAPPER.writeValueAsString(o);
    JsonNode tree = Json.MAPPER.readTree(json);
    assertThat(tree.get("apiVersion").asText()).isEqualTo("zen.kube-zen.io/v1alpha1");
    assertThat(tree.get("kind").asText()).isEqualTo("Observation");
    assertThat(tree.fieldNames()).toIterable().containsExactlyInAnyOrder("apiVersion", "kind", "metadata", "spec", "status");
    Observation back = Json.MAPPER.readValue(json, Observation.class);
    assertThat(back.getSpec()).isEqualTo(o.getSpec());
    assertThat(back.getStatus()).isEqualTo(o.getStatus());
    assertThat(back.getMetadata()).isEqualTo(o.getMetadata());
    assertThat(Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(back))).isEqualTo(tree);
  }

  @Test
  void aPathThatCannotBeCreatedFailsWithThePathInTheMessage() throws Exception {
    Path file = Files.writeString(dir.resolve("a-file"), "not a directory");
    Path bad = file.resolve("sub/zen-watcher.db");
    assertThatThrownBy(() -> SqliteObservationStore.open(bad, clock))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining(bad.getParent().toString());
  }

  @Test
  void aFileThatIsNotADatabaseFailsWithThePathInTheMessage() throws Exception {
    Path notDb = dir.resolve("garbage.db");
    Files.write(notDb, "this is certainly not an SQLite database file, just text".repeat(100)
        .getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> SqliteObservationStore.open(notDb, clock))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining(notDb.toString());
  }

  @Test
  void aDatabaseFromANewerProgramIsRefused() throws Exception {
    store.close();
    try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = c.createStatement()) {
      st.execute("PRAGMA user_version = " + (Schema.VERSION + 1));
    }
    assertThatThrownBy(() -> SqliteObservationStore.open(db, clock))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining(db.toString())
        .hasMessageContaining("newer");
  }

  @Test
  void reachableUntilClosedAndCloseIsIdempotent() {
    assertThat(store.isReachable()).isTrue();
    store.close();
    store.close();
    assertThat(store.isReachable()).isFalse();
    assertThatThrownBy(() -> store.get("a", "x")).isInstanceOf(StoreException.class).hasMessageContaining("closed");
    assertThatThrownBy(() -> store.createOrMerge(List.of(falco("a", "x"))))
        .isInstanceOf(StoreException.class);
  }

  @Test
  void aFailedWriteLeavesNoTransactionOpen() throws Exception {
    store.createOrMerge(List.of(falco("a", "x")));
    // Another process holds the write lock longer than the busy timeout: the write fails cleanly...
    try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + db);
        Statement st = other.createStatement()) {
      st.execute("PRAGMA busy_timeout = 0");
      st.execute("BEGIN IMMEDIATE");
      assertThatThrownBy(() -> store.createOrMerge(List.of(falco("a", "y"))))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining(db.toString());
      st.execute("ROLLBACK");
    }
    // ...and the next one works, with nothing of the failed batch in it.
    assertThat(store.createOrMerge(List.of(falco("a", "y"), falco("a", "x"))))
        .containsExactly(WriteOutcome.CREATED, WriteOutcome.MERGED);
    assertThat(store.get("a", "x").orElseThrow().getStatus().count()).isEqualTo(2L);
  }

  @Test
  void aFullDiskFailsTheBatchWholeAndTheStoreRecovers() {
    store.createOrMerge(List.of(falco("a", "x")));
    store.executeOnWriter("PRAGMA max_page_count = 30"); // a tiny "disk"
    List<Observation> big = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      big.add(falco("a", "big-" + i));
    }
    big.add(falco("a", "x"));
    assertThatThrownBy(() -> store.createOrMerge(big))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining(db.toString())
        .hasMessageContaining("full");
    store.executeOnWriter("PRAGMA max_page_count = 1073741823");
    assertThat(store.get("a", "big-0")).isEmpty();
    assertThat(store.get("a", "x").orElseThrow().getStatus().count()).isEqualTo(1L);
    assertThat(store.createOrMerge(big)).hasSize(501).endsWith(WriteOutcome.MERGED);
  }

  private List<String> names(ObservationQuery q) {
    return store.list(q).items().stream().map(o -> o.getMetadata().getName()).toList();
  }

  private static String b64(String s) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }
}
