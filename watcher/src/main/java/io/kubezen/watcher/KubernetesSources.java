package io.kubezen.watcher;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.ingester.informer.IngesterInformers;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import io.kubezen.watcher.ingester.webhook.IngesterRegistry;
import io.kubezen.watcher.ingester.webhook.IngesterWebhookController;
import io.kubezen.watcher.kube.BuiltInSources;
import io.kubezen.watcher.kube.SourceManager;
import io.kubezen.watcher.kube.SourceOptions;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.Pipeline;
import java.time.Clock;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * What Kubernetes mode watches, wired in one place: the webhook Ingesters (their routes on every
 * replica), the watched-source engine with the built-in sources, and the informer Ingesters it runs
 * beside them. The leader runs the engine; a follower keeps it in warm standby or stopped.
 */
final class KubernetesSources implements LeaderWork.Sources {
  private final IngesterWebhookController webhooks;
  private final SourceManager engine;
  private final IngesterInformers informers;
  private final boolean warmStandby;

  private KubernetesSources(
      IngesterWebhookController webhooks,
      SourceManager engine,
      IngesterInformers informers,
      boolean warmStandby) {
    this.webhooks = webhooks;
    this.engine = engine;
    this.informers = informers;
    this.warmStandby = warmStandby;
  }

  /**
   * Starts the webhook Ingesters, builds the engine, and puts it in warm standby when asked
   * (WARM_STANDBY).
   */
  static KubernetesSources start(
      KubernetesClient client,
      Settings settings,
      Clock clock,
      Metrics metrics,
      Pipeline pipeline,
      Set<String> builtInNames,
      IngesterRegistry routes,
      IngesterPipelines pipelines) {
    String ingesterNamespace = settings.ingesters().namespace().orElse(null);
    IngesterStatusWriter status = new IngesterStatusWriter(client, clock);
    IngesterWebhookController webhooks =
        new IngesterWebhookController(
            client,
            ingesterNamespace,
            builtInNames,
            routes,
            pipelines,
            status,
            settings.ingesters().statusInterval(),
            settings.ingesters().resync());
    webhooks.start();
    Settings.Watch w = settings.watch();
    SourceManager engine =
        new SourceManager(
            client,
            pipeline,
            metrics,
            clock,
            new SourceOptions(
                    w.sources(),
                    w.namespaces(),
                    w.namespaceSelector(),
                    w.clusterScoped(),
                    w.crdCheckInterval())
                // Kubernetes Events resume from the resourceVersion stored so far, kept in a Lease
                // of
                // their own beside the election's, so a new leader misses none of them.
                .withCheckpoint(
                    settings.podNamespace(),
                    SourceOptions.checkpointNameFor(settings.leaderElection().id()))
                .withNamespacedAccess(settings.accessScope() == Settings.AccessScope.NAMESPACES));
    // Informer Ingesters: watched sources of the same engine, added and removed as Ingesters come
    // and go.
    IngesterInformers informers =
        new IngesterInformers(
            client,
            ingesterNamespace,
            settings.accessNamespaces(),
            builtInNames,
            pipelines,
            engine,
            status,
            clock,
            settings.ingesters().statusInterval(),
            settings.ingesters().resync());
    if (w.warmStandby()) {
      engine.standby();
      informers.standby();
    }
    return new KubernetesSources(webhooks, engine, informers, w.warmStandby());
  }

  /**
   * Becoming leader: the engine and the informer Ingesters run; {@code caughtUp} hears of the
   * catch-up.
   */
  @Override
  public void lead(Consumer<SourceManager.CatchUp> caughtUp) {
    engine.start();
    engine.catchUp().thenAccept(caughtUp);
    informers.start();
  }

  /** Fences the engine at once: no event is acted on and no new store work starts. */
  @Override
  public void halt() {
    engine.halt();
  }

  /**
   * No longer leader: back to warm standby, or stopped without it. May block on a dead API server.
   */
  @Override
  public void stepDown() {
    if (warmStandby) {
      informers.demote(); // their sources stay in the engine, warm
      engine.demote(); // the informers keep running for a later takeover
    } else {
      informers.stop();
      engine.stop();
    }
  }

  /** Per watched source, its status (readiness details). */
  Map<String, String> status() {
    return engine.status();
  }

  /**
   * The sources whose open Observations live as long as their finding is reported (TTL from
   * resolvedAt): the state-like built-in watched sources and the informer Ingesters.
   */
  Set<String> stateLikeSources() {
    Set<String> out = new TreeSet<>();
    BuiltInSources.all().stream().filter(w -> w.stateLike()).forEach(w -> out.add(w.source()));
    out.addAll(informers.sourceNames());
    return out;
  }

  /** The webhook Ingesters stop (their routes stay until the HTTP server closes). */
  void stopWebhooks() {
    webhooks.stop();
  }

  void close() {
    informers.close();
    engine.close();
  }
}
