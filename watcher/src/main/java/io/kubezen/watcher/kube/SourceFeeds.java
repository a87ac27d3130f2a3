package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.kubezen.watcher.metrics.Metrics;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the feed of one watched source in one namespace scope: an informer whose events go to the
 * run's reconciler (leading) or its warm standby (following), or, with a checkpoint, an {@link
 * EventSource} for an event-like source.
 */
final class SourceFeeds {
  private static final Logger log = LoggerFactory.getLogger(SourceManager.class);

  /** Page size of a watched source's initial list (reports can be large). */
  static final long LIST_PAGE = 50;

  /** What the engine is told about a feed. */
  interface Listener {
    /** A feed of the unit synced (or failed): its state may have changed. */
    void changed(SourceUnit unit, SourceRun run);

    /** A list or watch got 404: the CRD may have been removed. */
    void maybeUninstalled(SourceRun run);
  }

  private final KubernetesClient client;
  private final Metrics metrics;
  private final Clock clock;
  private final Listener listener;

  SourceFeeds(KubernetesClient client, Metrics metrics, Clock clock, Listener listener) {
    this.client = client;
    this.metrics = metrics;
    this.clock = clock;
    this.listener = listener;
  }

  /** Starts the unit's feed for {@code key} (a namespace, or {@link SourceManager#ALL}). */
  Feed start(SourceUnit u, String key, SourceRun r) {
    WatchedSource w = u.source;
    MixedOperation<
            GenericKubernetesResource,
            GenericKubernetesResourceList,
            Resource<GenericKubernetesResource>>
        op = client.genericKubernetesResources(w.resource());
    FilterWatchListDeletable<
            GenericKubernetesResource,
            GenericKubernetesResourceList,
            Resource<GenericKubernetesResource>>
        scoped =
            !w.namespaced()
                ? op
                : key.equals(SourceManager.ALL) ? op.inAnyNamespace() : op.inNamespace(key);
    if (w.labelSelector() != null && !w.labelSelector().isBlank()) {
      scoped = scoped.withLabelSelector(w.labelSelector());
    }
    scoped = FieldSelectors.apply(scoped, w.fieldSelector());
    if (r.checkpoint != null && !w.stateLike()) {
      EventSource es =
          new EventSource(
              w,
              key,
              scoped,
              r.reconciler,
              r.checkpoint,
              r.eventExecutor,
              metrics,
              clock,
              () -> listener.changed(u, r));
      r.eventSources.add(es);
      es.start();
      log.info(
          "{}: watching {} (progress checkpointed in Lease {}/{})",
          w.id(),
          w.namespaced()
              ? (key.isEmpty() ? "all namespaces" : "namespace " + key)
              : "cluster-scoped objects",
          r.checkpoint.namespace(),
          r.checkpoint.name());
      return es;
    }
    return new Feed.InformerFeed(startInformer(u, scoped, key, r));
  }

  private SharedIndexInformer<GenericKubernetesResource> startInformer(
      SourceUnit u,
      FilterWatchListDeletable<
              GenericKubernetesResource,
              GenericKubernetesResourceList,
              Resource<GenericKubernetesResource>>
          scoped,
      String key,
      SourceRun r) {
    WatchedSource w = u.source;
    // Paged initial list, and only each object's identity kept (MetadataItemStore): the reconciler
    // reads each object whole when the informer hands it over.
    SharedIndexInformer<GenericKubernetesResource> informer =
        scoped.withLimit(LIST_PAGE).runnableInformer(0);
    informer.removeNamespaceIndex();
    informer.itemStore(new MetadataItemStore());
    AtomicInteger failures = new AtomicInteger();
    informer.addEventHandler(new Handler(w, r));
    informer.exceptionHandler(
        (started, t) -> {
          if (r.stopped) {
            return false;
          }
          metrics.sourceWatchRestart(w.source(), w.gvr());
          u.failure = describe(t);
          // WARN once per informer, then DEBUG: a resource that is not served fails every few
          // seconds.
          boolean first = failures.getAndIncrement() == 0;
          String msg = "{}{}: {} failed; retrying: {}";
          Object[] args = {
            w.id(),
            key.isEmpty() ? "" : " in " + key,
            started ? "the watch" : "the initial list",
            t.toString()
          };
          if (first) {
            log.warn(msg, args);
          } else {
            log.debug(msg, args);
          }
          if (t instanceof KubernetesClientException k
              && k.getCode() == 404
              && w.crdName() != null) {
            listener.maybeUninstalled(r);
          }
          return true;
        });
    informer
        .start()
        .whenComplete(
            (v, e) -> {
              if (e == null) {
                u.failure = null;
              }
              listener.changed(u, r);
            });
    log.info(
        "{}: watching {}{}",
        w.id(),
        w.namespaced()
            ? (key.isEmpty() ? "all namespaces" : "namespace " + key)
            : "cluster-scoped objects",
        w.labelSelector() == null ? "" : " labelled " + w.labelSelector());
    return informer;
  }

  /**
   * {@code <code> <the API server's message>} for a refused request (a 403, say), else the failure
   * itself.
   */
  static String describe(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof KubernetesClientException k && k.getCode() > 0) {
        String m =
            k.getStatus() != null && k.getStatus().getMessage() != null
                ? k.getStatus().getMessage()
                : k.getMessage();
        return k.getCode() + " " + m;
      }
    }
    return t.toString();
  }

  /**
   * An informer's events: reconciled while leading, remembered in warm standby, ignored once
   * stopped.
   */
  private final class Handler implements ResourceEventHandler<GenericKubernetesResource> {
    private final WatchedSource source;
    private final SourceRun run;

    Handler(WatchedSource source, SourceRun run) {
      this.source = source;
      this.run = run;
    }

    @Override
    public void onAdd(GenericKubernetesResource obj) {
      if (seen()) {
        upserted(obj);
      }
    }

    private void upserted(GenericKubernetesResource obj) {
      if (run.active) {
        run.reconciler.upserted(source, obj);
        return;
      }
      if (run.standby.remember(source, obj) && run.active) {
        // Promoted meanwhile: the catch-up may have judged this object by its previous digest.
        run.reconciler.upserted(source, obj);
      }
    }

    @Override
    public void onUpdate(GenericKubernetesResource oldObj, GenericKubernetesResource newObj) {
      if (!seen()) {
        return;
      }
      String before = oldObj == null ? null : oldObj.getMetadata().getResourceVersion();
      String after = newObj.getMetadata().getResourceVersion();
      if (before != null && before.equals(after)) {
        return; // a resync: nothing changed
      }
      upserted(newObj);
    }

    @Override
    public void onDelete(GenericKubernetesResource obj, boolean deletedFinalStateUnknown) {
      if (seen()) {
        if (run.active) {
          run.reconciler.deleted(source, obj);
        } else if (obj.getMetadata().getUid() != null) {
          run.standby.forget(obj.getMetadata().getUid());
        }
      }
    }

    private boolean seen() {
      if (run.stopped) {
        return false;
      }
      metrics.sourceWatchLastEvent(source.source(), source.gvr(), clock.instant());
      return true;
    }
  }
}
