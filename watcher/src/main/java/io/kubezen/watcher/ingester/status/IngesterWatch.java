package io.kubezen.watcher.ingester.status;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.kubezen.api.v1alpha1.Ingester;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An informer over Ingesters (in one namespace, or all) and a timer that writes status counts: what
 * both Ingester controllers run. A handler that throws is logged and does not stop the watch.
 */
public final class IngesterWatch {
  private static final Logger LOG = LoggerFactory.getLogger(IngesterWatch.class);

  private final SharedIndexInformer<Ingester> informer;
  private final ScheduledExecutorService flusher;

  private IngesterWatch(SharedIndexInformer<Ingester> informer, ScheduledExecutorService flusher) {
    this.informer = informer;
    this.flusher = flusher;
  }

  /**
   * @param namespace null for every namespace
   * @param changed called for an added or updated Ingester
   * @param deleted called for a deleted one
   * @param flushCounts called every {@code statusInterval} (at least 100 ms) on thread {@code
   *     threadName}
   */
  public static IngesterWatch start(
      KubernetesClient client,
      String namespace,
      Duration resync,
      Duration statusInterval,
      String threadName,
      Consumer<Ingester> changed,
      Consumer<Ingester> deleted,
      Runnable flushCounts) {
    var op = client.resources(Ingester.class);
    var scoped = namespace == null ? op.inAnyNamespace() : op.inNamespace(namespace);
    SharedIndexInformer<Ingester> informer =
        scoped.inform(
            new ResourceEventHandler<>() {
              @Override
              public void onAdd(Ingester obj) {
                safely(obj, changed);
              }

              @Override
              public void onUpdate(Ingester oldObj, Ingester newObj) {
                safely(newObj, changed);
              }

              @Override
              public void onDelete(Ingester obj, boolean deletedFinalStateUnknown) {
                safely(obj, deleted);
              }
            },
            resync.toMillis());
    ScheduledExecutorService flusher =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, threadName);
              t.setDaemon(true);
              return t;
            });
    long ms = Math.max(100, statusInterval.toMillis());
    flusher.scheduleWithFixedDelay(flushCounts, ms, ms, TimeUnit.MILLISECONDS);
    return new IngesterWatch(informer, flusher);
  }

  /** The Ingester {@code namespace/name} as the informer last saw it, or null. */
  public Ingester cached(String key) {
    return informer.getStore().getByKey(key);
  }

  /** Stops the informer and the timer, waiting briefly for a flush under way. */
  public void stop() {
    informer.stop();
    flusher.shutdownNow();
    try {
      flusher.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  public static String key(Ingester i) {
    return i.getMetadata().getNamespace() + "/" + i.getMetadata().getName();
  }

  private static void safely(Ingester i, Consumer<Ingester> handler) {
    try {
      handler.accept(i);
    } catch (RuntimeException e) {
      LOG.warn("Ingester {}: {}", key(i), e.toString());
    }
  }
}
