package io.kubezen.watcher.store;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Observations the way the pipeline builds them, for the store contract suite. */
public final class StoreFixtures {
  private StoreFixtures() {}

  public static Observation obs(
      String namespace,
      String name,
      String source,
      Severity severity,
      Category category,
      String eventType,
      Long ttl,
      long count,
      String firstSeen,
      String lastSeen) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("rule", "Terminal shell in container");
    details.put("priority", "Warning");
    details.put("tags", List.of("container", "shell", "mitre_execution"));
    ObservationSpec spec =
        new ObservationSpec(
            source,
            category,
            severity,
            eventType,
            ResourceRef.of("v1", "Pod", namespace, "web-7d4b9c"),
            "A shell was spawned in container web",
            details,
            firstSeen,
            sha256(name),
            ttl,
            null);
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(namespace)
            .addToLabels(Observation.LABEL_SOURCE, source)
            .addToLabels(Observation.LABEL_CATEGORY, category.wire())
            .addToLabels(Observation.LABEL_SEVERITY, severity.wire())
            .build());
    o.setSpec(spec);
    o.setStatus(ObservationStatus.seen(count, firstSeen, lastSeen));
    return o;
  }

  public static Observation falco(
      String namespace, String name, Long ttl, long count, String firstSeen, String lastSeen) {
    return obs(
        namespace,
        name,
        "falco",
        Severity.MEDIUM,
        Category.SECURITY,
        "runtime_threat",
        ttl,
        count,
        firstSeen,
        lastSeen);
  }

  public static Observation falco(String namespace, String name) {
    return falco(namespace, name, 604800L, 1, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z");
  }

  /** A valid fingerprint (64 hex digits, as the CRD requires). */
  static String sha256(String s) {
    try {
      return java.util.HexFormat.of()
          .formatHex(
              java.security.MessageDigest.getInstance("SHA-256")
                  .digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The same Observation with an origin uid label (a finding of a watched report). */
  public static Observation fromOrigin(Observation o, String uid) {
    o.getMetadata().getLabels().put(Observation.LABEL_ORIGIN_UID, uid);
    return o;
  }
}
