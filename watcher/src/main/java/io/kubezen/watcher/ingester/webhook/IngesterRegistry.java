package io.kubezen.watcher.ingester.webhook;

import io.kubezen.watcher.ingester.spec.IngesterDefinition;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.status.IngesterStats;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.source.Normalizer;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The webhook routes Ingesters declare: {@code /ingest/<path>} → normalizer, pipeline (with the
 * Ingester's filter and dedup window), auth and counters. Read by the HTTP handler on every request
 * (lock-free), changed by whoever keeps it up to date (the Ingester controller, or the
 * INGESTERS_DIR loader). One path belongs to one Ingester at a time: the first to claim it keeps
 * it.
 */
public final class IngesterRegistry {

  /**
   * One webhook route.
   *
   * @param key the Ingester that declares it ({@code namespace/name} or {@code file#document})
   */
  public record Route(
      String path,
      String key,
      Normalizer normalizer,
      Pipeline pipeline,
      WebhookAuth auth,
      IngesterStats stats) {

    /**
     * The route of a webhook Ingester, with its pipeline (from {@link IngesterPipelines#create}).
     */
    public static Route of(
        IngesterDefinition d, IngesterPipelines pipelines, WebhookAuth auth, IngesterStats stats) {
      if (!d.isWebhook()) {
        throw new IllegalArgumentException("not a webhook Ingester: " + d.key());
      }
      return new Route(d.path(), d.key(), d.normalizer(), pipelines.create(d), auth, stats);
    }
  }

  /** The path is served by another Ingester. */
  public static final class PathTakenException extends Exception {
    public PathTakenException(String path, String owner) {
      super("webhook.path: '" + path + "' is already served by Ingester " + owner);
    }
  }

  private final Map<String, Route> byPath = new ConcurrentHashMap<>();
  private final Map<String, String> pathByKey = new HashMap<>();

  /** The route of a path, if an Ingester declares it. */
  public Optional<Route> find(String path) {
    return path == null ? Optional.empty() : Optional.ofNullable(byPath.get(path));
  }

  /** The route an Ingester has now, if any. */
  public synchronized Optional<Route> routeOf(String key) {
    String path = pathByKey.get(key);
    return path == null ? Optional.empty() : Optional.ofNullable(byPath.get(path));
  }

  /**
   * Installs or replaces an Ingester's route (its previous path, if different, is released).
   *
   * @throws PathTakenException when another Ingester serves the path; nothing changes then
   */
  public synchronized void put(Route route) throws PathTakenException {
    Route there = byPath.get(route.path());
    if (there != null && !there.key().equals(route.key())) {
      throw new PathTakenException(route.path(), there.key());
    }
    String previous = pathByKey.put(route.key(), route.path());
    if (previous != null && !previous.equals(route.path())) {
      byPath.remove(previous);
    }
    byPath.put(route.path(), route);
  }

  /** Removes an Ingester's route; returns it when it had one. */
  public synchronized Optional<Route> remove(String key) {
    String path = pathByKey.remove(key);
    return path == null ? Optional.empty() : Optional.ofNullable(byPath.remove(path));
  }

  /** The Ingesters that have a route now. */
  public synchronized Set<String> keys() {
    return Set.copyOf(pathByKey.keySet());
  }

  public Set<String> paths() {
    return Set.copyOf(byPath.keySet());
  }

  /** Removes every route. */
  public synchronized void clear() {
    byPath.clear();
    pathByKey.clear();
  }
}
