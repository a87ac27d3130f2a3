package io.kubezen.watcher.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bearer auth, allowed networks, per-client rate limit, and the 503 of a saturated write path. */
class WebhookGuardsTest {
  @TempDir Path dir;

  static final String ALERT = "{\"rule\":\"r\",\"output\":\"o\",\"priority\":\"Warning\"}";

  @Test
  void bearerTokenIsRequiredWhenConfigured() {
    try (TestWatcher zw =
        new TestWatcher(dir, Map.of("WEBHOOK_AUTH_TOKEN", "s3cret-token-0123456789"))) {
      byte[] body = ALERT.getBytes();
      TestWatcher.Response none = zw.post("/ingest/falco", "application/json", body);
      assertThat(none.status()).isEqualTo(401);
      assertThat(none.json().get("message").asText()).contains("Authorization");
      assertThat(
              zw.post(
                      "/ingest/falco",
                      "application/json",
                      body,
                      "Authorization",
                      "Bearer wrong-token-0123456789")
                  .status())
          .isEqualTo(401);
      assertThat(
              zw.post("/ingest/falco", "application/json", body, "Authorization", "Basic czNjcmV0")
                  .status())
          .isEqualTo(401);
      assertThat(
              zw.post(
                      "/ingest/falco",
                      "application/json",
                      body,
                      "Authorization",
                      "Bearer s3cret-token-0123456789")
                  .status())
          .isEqualTo(200);
      assertThat(
              zw.post(
                      "/ingest/falco",
                      "application/json",
                      body,
                      "Authorization",
                      "bearer s3cret-token-0123456789")
                  .status())
          .as("the scheme is case-insensitive")
          .isEqualTo(200);
      // Health, readiness and metrics need no token (probes and scrapers).
      assertThat(zw.get("/health").status()).isEqualTo(200);
      assertThat(zw.get("/metrics").status()).isEqualTo(200);
    }
  }

  @Test
  void onlyAllowedNetworksMaySend() {
    try (TestWatcher zw =
        new TestWatcher(dir, Map.of("WEBHOOK_ALLOWED_CIDRS", "10.0.0.0/8, 192.168.1.0/24"))) {
      TestWatcher.Response r = zw.post("/ingest/falco", "application/json", ALERT.getBytes());
      assertThat(r.status()).isEqualTo(403);
      assertThat(r.json().get("message").asText()).contains("127.0.0.1");
    }
    try (TestWatcher zw =
        new TestWatcher(dir, Map.of("WEBHOOK_ALLOWED_CIDRS", "10.0.0.0/8,127.0.0.0/8"))) {
      assertThat(zw.post("/ingest/falco", "application/json", ALERT.getBytes()).status())
          .isEqualTo(200);
    }
  }

  @Test
  void perClientRateLimitAnswers429WithRetryAfter() {
    try (TestWatcher zw =
        new TestWatcher(
            dir, Map.of("WEBHOOK_RATE_LIMIT_PER_SECOND", "1", "WEBHOOK_RATE_LIMIT_BURST", "3"))) {
      int ok = 0;
      TestWatcher.Response limited = null;
      for (int i = 0; i < 6; i++) {
        TestWatcher.Response r = zw.post("/ingest/falco", "application/json", ALERT.getBytes());
        if (r.status() == 200) {
          ok++;
        } else {
          limited = r;
        }
      }
      assertThat(ok).isBetween(3, 4);
      assertThat(limited).isNotNull();
      assertThat(limited.status()).isEqualTo(429);
      assertThat(limited.headers().firstValue("Retry-After"))
          .hasValueSatisfying(v -> assertThat(Integer.parseInt(v)).isPositive());
      // the series exists from the start (at 0): its value counts the refused requests
      assertThat(zw.get("/metrics").body())
          .contains(
              "zen_watcher_webhook_events_dropped_total{reason=\"rate_limited\",source=\"falco\"} "
                  + (double) (6 - ok));
    }
  }

  /** The real SQLite store behind a gate the test opens, to hold the writer inside a write. */
  static final class GatedStore implements ObservationStore {
    final ObservationStore real;
    final CountDownLatch gate = new CountDownLatch(1);
    final AtomicInteger entered = new AtomicInteger();

    GatedStore(ObservationStore real) {
      this.real = real;
    }

    @Override
    public List<WriteOutcome> createOrMerge(List<Observation> observations) {
      entered.incrementAndGet();
      try {
        gate.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return real.createOrMerge(observations);
    }

    @Override
    public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
      return real.addRepeats(repeats);
    }

    @Override
    public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
      return real.createIfAbsent(observations);
    }

    @Override
    public List<Observation> listByOrigin(String originUid) {
      return real.listByOrigin(originUid);
    }

    @Override
    public List<WriteOutcome> resolve(
        List<io.kubezen.watcher.store.ObservationKey> keys, Instant at) {
      return real.resolve(keys, at);
    }

    @Override
    public Optional<Observation> get(String namespace, String name) {
      return real.get(namespace, name);
    }

    @Override
    public ObservationPage list(ObservationQuery query) {
      return real.list(query);
    }

    @Override
    public ObservationPage findings(io.kubezen.watcher.store.FindingsQuery query) {
      return real.findings(query);
    }

    @Override
    public List<io.kubezen.watcher.store.GroupCount> countBy(
        io.kubezen.watcher.store.FindingFilter filter,
        List<io.kubezen.watcher.store.GroupField> fields) {
      return real.countBy(filter, fields);
    }

    @Override
    public List<io.kubezen.watcher.store.RankedGroup> topByCriticalHigh(
        io.kubezen.watcher.store.FindingFilter filter,
        io.kubezen.watcher.store.RankedGroup.By by,
        int limit) {
      return real.topByCriticalHigh(filter, by, limit);
    }

    @Override
    public List<io.kubezen.watcher.store.TimeBucket> timeline(
        io.kubezen.watcher.store.FindingFilter filter,
        Instant from,
        Instant to,
        java.time.Duration width) {
      return real.timeline(filter, from, to, width);
    }

    @Override
    public List<io.kubezen.watcher.store.SourceActivity> sourceActivity(
        io.kubezen.watcher.store.FindingFilter filter) {
      return real.sourceActivity(filter);
    }

    @Override
    public io.kubezen.watcher.store.StoreSummary summary() {
      return real.summary();
    }

    @Override
    public GcResult deleteExpired(Instant now, java.util.Set<String> stateLikeSources) {
      return real.deleteExpired(now, stateLikeSources);
    }

    @Override
    public boolean isReachable() {
      return real.isReachable();
    }

    @Override
    public void close() {
      gate.countDown();
      real.close();
    }
  }

  @Test
  void aSaturatedWritePathAnswers503AndAcknowledgesNothingItDidNotStore() throws Exception {
    GatedStore[] store = new GatedStore[1];
    try (TestWatcher zw =
        new TestWatcher(
            dir,
            Map.of("WRITE_QUEUE_SIZE", "2", "WRITE_BATCH_SIZE", "2"),
            s -> {
              store[0] =
                  new GatedStore(SqliteObservationStore.open(s.sqlitePath(), Clock.systemUTC()));
              return store[0];
            })) {
      // One finding: the writer takes it and is held inside the store.
      CompletableFuture<TestWatcher.Response> first =
          CompletableFuture.supplyAsync(() -> zw.postJson("/ingest/sat", "{\"title\":\"a1\"}"));
      await().atMost(Duration.ofSeconds(10)).until(() -> store[0].entered.get() == 1);
      CompletableFuture<TestWatcher.Response> second =
          CompletableFuture.supplyAsync(
              () -> zw.postJson("/ingest/sat", "[{\"title\":\"b1\"},{\"title\":\"b2\"}]"));
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(
                          zw.get("/metrics")
                              .body()
                              .lines()
                              .filter(l -> l.startsWith("zen_watcher_write_queue_depth")))
                      .containsExactly("zen_watcher_write_queue_depth 2.0"));
      TestWatcher.Response third = zw.postJson("/ingest/sat", "{\"title\":\"c1\"}");
      assertThat(third.status()).isEqualTo(503);
      assertThat(third.headers().firstValue("Retry-After")).isPresent();
      assertThat(third.json().get("message").asText()).contains("write queue is full");
      store[0].gate.countDown();
      assertThat(first.get(20, TimeUnit.SECONDS).status()).isEqualTo(200);
      assertThat(second.get(20, TimeUnit.SECONDS).status()).isEqualTo(200);
      // The refused one was not stored, and its retry now is.
      assertThat(zw.get("/api/v1/observations?source=sat").json().get("items")).hasSize(3);
      TestWatcher.Response retry = zw.postJson("/ingest/sat", "{\"title\":\"c1\"}");
      assertThat(retry.status()).isEqualTo(200);
      assertThat(retry.json().get("created").asInt()).isEqualTo(1);
    }
  }
}
