package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

/** What runs one watched source in one namespace scope: an informer, or an {@link EventSource}. */
interface Feed {
  void stop();

  boolean hasSynced();

  /** A watched source's informer (its cache holds each object's identity only). */
  record InformerFeed(SharedIndexInformer<GenericKubernetesResource> informer) implements Feed {
    @Override
    public void stop() {
      informer.stop();
    }

    @Override
    public boolean hasSynced() {
      return informer.hasSynced();
    }
  }
}
