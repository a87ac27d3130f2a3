package io.kubezen.watcher.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.GcResult;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.ObservationStore;
import io.kubezen.watcher.store.Repeat;
import io.kubezen.watcher.store.StoreFixtures;
import io.kubezen.watcher.store.WriteOutcome;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer keeps several write units in flight when the store takes them ({@link
 * ObservationStore#writeConcurrency()}), on the real SQLite store behind a recorder that slows each
 * call down and notes which Observations each call writes while it runs.
 */
class ObservationWriterConcurrencyTest {
  @TempDir Path tmp;
  SqliteObservationStore sqlite;
  RecordingStore store;
  ObservationWriter writer;
  Deduplicator dedup;

  @BeforeEach
  void open() {
    sqlite = SqliteObservationStore.open(tmp.resolve("obs.db"), Clock.systemUTC());
    store = new RecordingStore(sqlite, 4, 30);
    dedup = new Deduplicator(1000, Duration.ofMinutes(10));
    writer =
        new ObservationWriter(
                store,
                dedup,
                Metrics.prometheus(Sources.standard().builtInNames()),
                10_000,
                5,
                Duration.ofMillis(50))
            .start();
  }

  @AfterEach
  void close() {
    writer.close();
    sqlite.close();
  }

  static Observation obs(String name) {
    return StoreFixtures.falco("shop", name);
  }

  static Observation ofOrigin(String name, String uid) {
    return StoreFixtures.fromOrigin(obs(name), uid);
  }

  static void await(List<? extends CompletableFuture<?>> futures) throws Exception {
    CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
  }

  @Test
  void severalBatchesAreInFlightAtOnceAndNoObservationIsWrittenByTwoAtOnce() throws Exception {
    assertThat(writer.concurrency()).isEqualTo(4);
    List<CompletableFuture<WriteOutcome>> results = new ArrayList<>();
    // 200 distinct Observations, and one ("hot") sighted 30 times in between: the hot one's
    // writes must run one after the other, the others spread over the units.
    for (int i = 0; i < 200; i++) {
      ObservationWriter.Create c = ObservationWriter.Create.of(obs("obs-" + i));
      writer.submit(List.of(c));
      results.add(c.result());
      if (i % 7 == 0 && i < 210) {
        ObservationWriter.Create hot = ObservationWriter.Create.of(obs("hot"));
        writer.submit(List.of(hot));
        results.add(hot.result());
      }
    }
    await(results);
    assertThat(store.maxConcurrent.get()).as("units in flight at once").isBetween(2, 4);
    assertThat(store.overlaps).as("an Observation written by two calls at once").isEmpty();
    long hotSightings = results.size() - 200;
    // Every sighting of the hot one merged into it, none lost to a race.
    assertThat(sqlite.get("shop", "hot").orElseThrow().getStatus().count()).isEqualTo(hotSightings);
    assertThat(results)
        .allMatch(f -> f.join() == WriteOutcome.CREATED || f.join() == WriteOutcome.MERGED);
  }

  @Test
  void aResolveWaitsForTheCreatesOfItsObjectAndTheNextCreatesWaitForIt() throws Exception {
    List<CompletableFuture<?>> all = new ArrayList<>();
    List<CompletableFuture<Integer>> resolves = new ArrayList<>();
    for (int r = 0; r < 20; r++) {
      String uid = "uid-" + r;
      List<ObservationWriter.Create> creates = new ArrayList<>();
      for (int v = 0; v < 6; v++) {
        creates.add(ObservationWriter.Create.ifAbsent(ofOrigin("r" + r + "-v" + v, uid)));
      }
      writer.submit(creates);
      creates.forEach(c -> all.add(c.result()));
      // Queued right behind its creates: resolves all but the first two, which it must see stored.
      resolves.add(
          writer.resolveOrigin(
              uid,
              Set.of(
                  new ObservationKey("shop", "r" + r + "-v0"),
                  new ObservationKey("shop", "r" + r + "-v1")),
              Instant.now()));
      // Queued after the resolve: a finding that is back; it must not be overtaken by the resolve.
      ObservationWriter.Create back =
          ObservationWriter.Create.ifAbsent(ofOrigin("r" + r + "-v5", uid));
      writer.submit(List.of(back));
      all.add(back.result());
    }
    all.addAll(resolves);
    await(all);
    assertThat(resolves).allMatch(f -> f.join() == 4);
    for (int r = 0; r < 20; r++) {
      for (int v = 0; v < 6; v++) {
        boolean resolved =
            Boolean.TRUE.equals(
                sqlite.get("shop", "r" + r + "-v" + v).orElseThrow().getStatus().resolved());
        // v5 was resolved, then reopened by the create queued after the resolve
        assertThat(resolved).as("r%d-v%d resolved", r, v).isEqualTo(v >= 2 && v <= 4);
      }
    }
    assertThat(store.maxConcurrent.get()).isGreaterThan(1);
    assertThat(store.overlaps).isEmpty();
  }

  @Test
  void closeWritesEverythingQueuedBeforeItReturns() {
    List<CompletableFuture<WriteOutcome>> results = new ArrayList<>();
    for (int i = 0; i < 120; i++) {
      ObservationWriter.Create c = ObservationWriter.Create.of(obs("c-" + i));
      writer.submit(List.of(c));
      results.add(c.result());
    }
    writer.close(Duration.ofSeconds(60));
    // Acknowledged = stored: every future is complete, successfully, and its Observation exists.
    assertThat(results).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
    for (int i = 0; i < 120; i++) {
      assertThat(sqlite.get("shop", "c-" + i)).isPresent();
    }
    assertThat(store.maxConcurrent.get()).isGreaterThan(1);
  }

  @Test
  void repeatsOfAnObservationBeingWrittenWaitForTheNextFlush() throws Exception {
    // First sighting stored, then repeats counted while a merge of the same Observation is slow.
    ObservationWriter.Create first = ObservationWriter.Create.of(obs("rep"));
    Deduplicator.Admission a =
        dedup.admit("fp-rep", "shop", "rep", Instant.parse("2024-05-01T10:00:00Z"));
    writer.submit(List.of(first));
    first.result().get(10, TimeUnit.SECONDS);
    dedup.stored(a.entry());
    store.delayMillis = 200;
    List<CompletableFuture<WriteOutcome>> merges = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ObservationWriter.Create m = ObservationWriter.Create.of(obs("rep"));
      writer.submit(List.of(m));
      merges.add(m.result());
      dedup.admit("fp-rep", "shop", "rep", Instant.parse("2024-05-01T10:00:01Z"));
    }
    await(merges);
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                dedup.pendingRepeats() == 0
                    && sqlite.get("shop", "rep").orElseThrow().getStatus().count() == 1 + 5 + 5);
    assertThat(store.overlaps).isEmpty();
  }

  /** The SQLite store, each write call slowed down and recorded. */
  static final class RecordingStore implements ObservationStore {
    final ObservationStore real;
    final int concurrency;
    volatile long delayMillis;
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger maxConcurrent = new AtomicInteger();
    final Map<String, Integer> writing = new ConcurrentHashMap<>();
    final List<String> overlaps = new CopyOnWriteArrayList<>();

    RecordingStore(ObservationStore real, int concurrency, long delayMillis) {
      this.real = real;
      this.concurrency = concurrency;
      this.delayMillis = delayMillis;
    }

    <T> T call(Set<String> keys, java.util.function.Supplier<T> body) {
      int now = running.incrementAndGet();
      maxConcurrent.accumulateAndGet(now, Math::max);
      for (String k : keys) {
        if (writing.merge(k, 1, Integer::sum) > 1) {
          overlaps.add(k);
        }
      }
      try {
        Thread.sleep(delayMillis);
        return body.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      } finally {
        keys.forEach(k -> writing.merge(k, -1, (a, b) -> a + b == 0 ? null : a + b));
        running.decrementAndGet();
      }
    }

    static Set<String> keysOf(List<Observation> os) {
      return os.stream()
          .map(o -> o.getMetadata().getNamespace() + "/" + o.getMetadata().getName())
          .collect(java.util.stream.Collectors.toSet());
    }

    static <T> Set<String> keys(List<T> items, Function<T, String> key) {
      return items.stream().map(key).collect(java.util.stream.Collectors.toSet());
    }

    @Override
    public int writeConcurrency() {
      return concurrency;
    }

    @Override
    public List<WriteOutcome> createOrMerge(List<Observation> observations) {
      return call(keysOf(observations), () -> real.createOrMerge(observations));
    }

    @Override
    public List<WriteOutcome> createIfAbsent(List<Observation> observations) {
      return call(keysOf(observations), () -> real.createIfAbsent(observations));
    }

    @Override
    public List<WriteOutcome> resolve(List<ObservationKey> keys, Instant at) {
      return call(keys(keys, k -> k.namespace() + "/" + k.name()), () -> real.resolve(keys, at));
    }

    @Override
    public List<WriteOutcome> addRepeats(List<Repeat> repeats) {
      return call(
          keys(repeats, r -> r.namespace() + "/" + r.name()), () -> real.addRepeats(repeats));
    }

    @Override
    public List<Observation> listByOrigin(String originUid) {
      return real.listByOrigin(originUid);
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
        io.kubezen.watcher.store.FindingFilter filter, Instant from, Instant to, Duration width) {
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
    public GcResult deleteExpired(Instant now, Set<String> stateLikeSources) {
      return real.deleteExpired(now, stateLikeSources);
    }

    @Override
    public boolean isReachable() {
      return real.isReachable();
    }

    @Override
    public void close() {}
  }
}
