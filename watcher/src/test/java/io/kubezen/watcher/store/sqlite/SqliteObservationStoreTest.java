package io.kubezen.watcher.store.sqlite;

import static io.kubezen.watcher.store.StoreFixtures.falco;
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
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.SqlObservationStoreContract;
import io.kubezen.watcher.store.StoreException;
import io.kubezen.watcher.store.WriteOutcome;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SQLite store: the store contract suite, and what is SQLite's own (files, WAL, locks, a full
 * disk).
 */
class SqliteObservationStoreTest extends SqlObservationStoreContract {
  @TempDir Path dir;
  Path db;

  @Override
  protected ObservationStore open() {
    db = dir.resolve("data/nested/zen-watcher.db");
    return SqliteObservationStore.open(db, clock);
  }

  @Override
  protected ObservationStore openWithMaxObservations(long max) {
    return SqliteObservationStore.open(db, clock, SqliteObservationStore.DEFAULT_READERS, max);
  }

  @Override
  protected ObservationStore reopen() {
    store.close();
    return SqliteObservationStore.open(db, clock);
  }

  @Override
  protected int gcChunk() {
    return SqliteObservationStore.GC_CHUNK;
  }

  private SqliteObservationStore sqlite() {
    return (SqliteObservationStore) store;
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
  void continueTokenRoundTripsAnyName() {
    ContinueToken t = new ContinueToken(1714564800123L, "na:me:with:colons", "ns-ü");
    assertThat(ContinueToken.decode(t.encode())).isEqualTo(t);
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
    nested.put(
        "output", "Shell spawned 🐚 by user=root عربى \"quoted\" \\ back\nnew line \u0000 nul");
    ObservationSpec spec =
        new ObservationSpec(
            "falco",
            Category.SECURITY,
            Severity.CRITICAL,
            "runtime_threat",
            new ResourceRef("v1", "Pod", "web-ü", "shop"),
            "Terminal shell in container «web»",
            nested,
            "2024-05-01T10:00:00.123456Z",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            604800L,
            "cluster-ä");
    Observation o = new Observation();
    o.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
            .withName("falco-9f86d081884c7d65")
            .withNamespace("shop")
            .addToLabels(Observation.LABEL_SOURCE, "falco")
            .addToAnnotations("note", "日本語")
            .withResourceVersion("42") // not kept: the store owns its own bookkeeping
            .build());
    o.setSpec(spec);
    o.setStatus(
        new ObservationStatus(
            7L,
            "2024-05-01T10:00:00.123456Z",
            "2024-05-01T10:10:00Z",
            true,
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
    assertThat(tree.fieldNames())
        .toIterable()
        .containsExactlyInAnyOrder("apiVersion", "kind", "metadata", "spec", "status");
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
    assertThat(tree.fieldNames())
        .toIterable()
        .containsExactlyInAnyOrder("apiVersion", "kind", "metadata", "spec", "status");
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
    Files.write(
        notDb,
        "this is certainly not an SQLite database file, just text"
            .repeat(100)
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
    sqlite().executeOnWriter("PRAGMA max_page_count = 30"); // a tiny "disk"
    List<Observation> big = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      big.add(falco("a", "big-" + i));
    }
    big.add(falco("a", "x"));
    assertThatThrownBy(() -> store.createOrMerge(big))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining(db.toString())
        .hasMessageContaining("full");
    sqlite().executeOnWriter("PRAGMA max_page_count = 1073741823");
    assertThat(store.get("a", "big-0")).isEmpty();
    assertThat(store.get("a", "x").orElseThrow().getStatus().count()).isEqualTo(1L);
    assertThat(store.createOrMerge(big)).hasSize(501).endsWith(WriteOutcome.MERGED);
  }
}
