package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * The real pipeline over a real SQLite store, assembled the way ZenWatcher.start() does, and a
 * SourceManager over it.
 */
final class Rig implements AutoCloseable {
  final SqliteObservationStore store;
  final Metrics metrics;
  final ObservationWriter writer;
  final Pipeline pipeline;
  final SourceManager manager;

  Rig(Path dir, KubernetesClient client, SourceOptions options) {
    this(dir, client, options, BuiltInSources.all());
  }

  Rig(Path dir, KubernetesClient client, SourceOptions options, List<WatchedSource> watched) {
    Clock clock = Clock.systemUTC();
    store = SqliteObservationStore.open(dir.resolve("obs.db"), clock);
    metrics = Metrics.prometheus(Sources.standard().builtInNames());
    Deduplicator dedup = new Deduplicator(10_000, Duration.ofMinutes(10));
    writer =
        new ObservationWriter(store, dedup, metrics, 10_000, 100, Duration.ofMillis(50)).start();
    ObservationFactory factory =
        new ObservationFactory("zen-system", 7 * 24 * 3600, Duration.ofMinutes(10), null);
    pipeline = new Pipeline(() -> Filter.ALLOW_ALL, factory, dedup, writer, metrics);
    manager = new SourceManager(client, pipeline, metrics, clock, options, watched);
  }

  static SourceOptions options() {
    return SourceOptions.defaults().withCrdCheckInterval(Duration.ofMillis(300));
  }

  List<Observation> byOrigin(String uid) {
    return store.listByOrigin(uid);
  }

  List<Observation> unresolved(String uid) {
    return byOrigin(uid).stream().filter(o -> !resolved(o)).toList();
  }

  List<Observation> resolvedOnes(String uid) {
    return byOrigin(uid).stream().filter(Rig::resolved).toList();
  }

  static boolean resolved(Observation o) {
    return o.getStatus() != null && Boolean.TRUE.equals(o.getStatus().resolved());
  }

  /** The value of one Prometheus sample line, or null. */
  Double sample(String name, String labels) {
    for (String line : metrics.scrape().split("\n")) {
      if (line.startsWith(name + "{") && line.contains(labels)) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return null;
  }

  @Override
  public void close() {
    manager.stop();
    writer.close(Duration.ofSeconds(5));
    store.close();
  }
}
