package io.kubezen.watcher.store;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import java.util.Objects;

/** Checks every store makes before writing an Observation. */
public final class Observations {
  private Observations() {}

  /**
   * @throws IllegalArgumentException when the Observation has no name, namespace or spec, or a
   *     count below 1
   */
  public static void requireWritable(Observation o) {
    Objects.requireNonNull(o, "observation");
    ObjectMeta meta = o.getMetadata();
    if (meta == null || isBlank(meta.getName()) || isBlank(meta.getNamespace())) {
      throw new IllegalArgumentException(
          "an Observation needs metadata.name and metadata.namespace");
    }
    if (o.getSpec() == null) {
      throw new IllegalArgumentException(
          "Observation " + meta.getNamespace() + "/" + meta.getName() + " has no spec");
    }
    ObservationStatus status = o.getStatus();
    if (status != null && status.count() != null && status.count() < 1) {
      throw new IllegalArgumentException("status.count must be positive: " + status.count());
    }
  }

  private static boolean isBlank(String s) {
    return s == null || s.isBlank();
  }
}
