package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The namespaces whose labels match {@code WATCH_NAMESPACE_SELECTOR}, followed by a Namespace
 * informer as they are created, relabelled and deleted. The selector is matched here, so set-based
 * selectors work the same everywhere. {@code onChange} runs once the informer has synced and
 * whenever the selection changes after that.
 */
final class NamespaceSelection {
  private static final Logger log = LoggerFactory.getLogger(NamespaceSelection.class);

  private final LabelSelector selector;
  private final Runnable onChange;
  private final Set<String> selected = ConcurrentHashMap.newKeySet();
  private final SharedIndexInformer<Namespace> informer;
  private volatile boolean synced;
  private volatile boolean stopped;

  NamespaceSelection(KubernetesClient client, LabelSelector selector, Runnable onChange) {
    this.selector = selector;
    this.onChange = onChange;
    this.informer = client.namespaces().runnableInformer(0);
  }

  void start() {
    informer.addEventHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(Namespace ns) {
            reselect();
          }

          @Override
          public void onUpdate(Namespace oldNs, Namespace newNs) {
            reselect();
          }

          @Override
          public void onDelete(Namespace ns, boolean unknown) {
            reselect();
          }
        });
    informer.exceptionHandler(
        (started, t) -> {
          if (stopped) {
            return false;
          }
          log.warn("the namespace watch failed; retrying: {}", t.toString());
          return true;
        });
    informer
        .start()
        .whenComplete(
            (v, e) -> {
              if (e == null) {
                reselect();
                synced = true;
                onChange.run();
              }
            });
  }

  void stop() {
    stopped = true;
    informer.stop();
  }

  /** True once the informer has synced and the selection is known. */
  boolean synced() {
    return synced;
  }

  /** The namespaces selected now. */
  Set<String> selected() {
    return selected;
  }

  /**
   * The selection is read from the informer's cache, which is up to date before handlers are called
   * (and before start() completes, when handlers may not have run yet).
   */
  private void reselect() {
    if (stopped) {
      return;
    }
    Set<String> now = new TreeSet<>();
    for (Namespace ns : informer.getStore().list()) {
      if (selector.matches(ns.getMetadata().getLabels())) {
        now.add(ns.getMetadata().getName());
      }
    }
    boolean changed;
    synchronized (selected) {
      changed = !now.equals(selected);
      if (changed) {
        Set<String> added = new TreeSet<>(now);
        added.removeAll(selected);
        Set<String> removed = new TreeSet<>(selected);
        removed.removeAll(now);
        log.info(
            "namespaces selected by {}: {} (added {}, removed {})", selector, now, added, removed);
        selected.clear();
        selected.addAll(now);
      }
    }
    if (changed && synced) {
      onChange.run();
    }
  }
}
