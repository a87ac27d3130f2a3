package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import io.fabric8.kubernetes.client.dsl.Resource;

/**
 * Field selectors ({@code key=value}, {@code key==value}, {@code key!=value}, comma-separated) on a
 * watch.
 */
public final class FieldSelectors {
  private FieldSelectors() {}

  /**
   * {@code f} selected by {@code selector} (null or blank: {@code f} as it is).
   *
   * @throws IllegalArgumentException when a part is not {@code key=value} or {@code key!=value}
   */
  public static FilterWatchListDeletable<
          GenericKubernetesResource,
          GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      apply(
          FilterWatchListDeletable<
                  GenericKubernetesResource,
                  GenericKubernetesResourceList,
                  Resource<GenericKubernetesResource>>
              f,
          String selector) {
    if (selector == null || selector.isBlank()) {
      return f;
    }
    for (String part : selector.split(",")) {
      String p = part.strip();
      int ne = p.indexOf("!=");
      if (ne > 0) {
        f = f.withoutField(p.substring(0, ne).strip(), p.substring(ne + 2).strip());
        continue;
      }
      int eq = p.indexOf("==");
      int len = 2;
      if (eq < 0) {
        eq = p.indexOf('=');
        len = 1;
      }
      if (eq <= 0) {
        throw new IllegalArgumentException(
            "informer.fieldSelector: '" + p + "' is not key=value or key!=value");
      }
      f = f.withField(p.substring(0, eq).strip(), p.substring(eq + len).strip());
    }
    return f;
  }
}
