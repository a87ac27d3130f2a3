package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The item store of a watched source's informer: only each object's identity (namespace, name, uid,
 * resourceVersion), not the object. A report with a thousand vulnerabilities costs the informer a
 * hundred bytes, not megabytes: the reconciler reads each object whole when the informer hands it
 * over (added, or changed), and needs nothing of it afterwards. The informer still tells a change
 * from a re-list of the same resourceVersion (no event at all) and finds deleted objects on a
 * re-list.
 */
final class MetadataItemStore implements ItemStore<GenericKubernetesResource> {
  private record Meta(String namespace, String name, String uid, String resourceVersion) {}

  private final Map<String, Meta> items = new ConcurrentHashMap<>();

  @Override
  public String getKey(GenericKubernetesResource o) {
    return key(o.getMetadata().getNamespace(), o.getMetadata().getName());
  }

  /** The informer's own key: {@code namespace/name}, or {@code name} when cluster-scoped. */
  static String key(String namespace, String name) {
    return namespace == null || namespace.isEmpty() ? name : namespace + "/" + name;
  }

  @Override
  public GenericKubernetesResource put(String key, GenericKubernetesResource o) {
    ObjectMeta m = o.getMetadata();
    Meta before =
        items.put(key, new Meta(m.getNamespace(), m.getName(), m.getUid(), m.getResourceVersion()));
    return before == null ? null : restore(before);
  }

  @Override
  public GenericKubernetesResource remove(String key) {
    Meta before = items.remove(key);
    return before == null ? null : restore(before);
  }

  @Override
  public Stream<String> keySet() {
    return items.keySet().stream();
  }

  @Override
  public Stream<GenericKubernetesResource> values() {
    return items.values().stream().map(MetadataItemStore::restore);
  }

  @Override
  public int size() {
    return items.size();
  }

  @Override
  public GenericKubernetesResource get(String key) {
    Meta m = items.get(key);
    return m == null ? null : restore(m);
  }

  @Override
  public boolean isFullState() {
    return false;
  }

  private static GenericKubernetesResource restore(Meta m) {
    GenericKubernetesResource o = new GenericKubernetesResource();
    ObjectMeta meta = new ObjectMeta();
    meta.setNamespace(m.namespace());
    meta.setName(m.name());
    meta.setUid(m.uid());
    meta.setResourceVersion(m.resourceVersion());
    o.setMetadata(meta);
    return o;
  }
}
