package io.kubezen.watcher.pipeline;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Fingerprint;
import io.kubezen.watcher.source.SourceKind;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Derives a Finding's fingerprint, its deterministic Observation name and namespace, and builds the
 * Observation that stores it. Pure.
 */
public final class ObservationFactory {
  private final String defaultNamespace;
  private final Set<String> namespaces;
  private final long ttlSeconds;
  private final String clusterName;
  private final long windowSeconds;

  /**
   * @param defaultNamespace where Observations of findings with no namespace go
   * @param dedupWindow event-like findings in the same window bucket are the same Observation
   * @param clusterName written on every Observation; null for none
   */
  public ObservationFactory(
      String defaultNamespace, long ttlSeconds, Duration dedupWindow, String clusterName) {
    this(defaultNamespace, Set.of(), ttlSeconds, dedupWindow, clusterName);
  }

  /**
   * @param namespaces the namespaces Observations may be stored in ({@code
   *     ACCESS_SCOPE=namespaces}); a finding about any other namespace is stored in {@code
   *     defaultNamespace} (its {@code spec.resource.namespace} still names its own). Empty: every
   *     namespace.
   */
  public ObservationFactory(
      String defaultNamespace,
      Set<String> namespaces,
      long ttlSeconds,
      Duration dedupWindow,
      String clusterName) {
    this.defaultNamespace = defaultNamespace;
    this.namespaces = Set.copyOf(namespaces);
    this.ttlSeconds = ttlSeconds;
    this.windowSeconds = Math.max(1, dedupWindow.toSeconds());
    this.clusterName = clusterName;
  }

  /** The same, with another dedup window (an Ingester's own). */
  public ObservationFactory withDedupWindow(Duration dedupWindow) {
    return new ObservationFactory(
        defaultNamespace, namespaces, ttlSeconds, dedupWindow, clusterName);
  }

  /** Where a finding is stored, and under which name. */
  public record Placement(String fingerprint, String namespace, String name) {}

  public Placement place(Finding finding, SourceKind kind) {
    long bucket =
        kind == SourceKind.EVENT
            ? Math.floorDiv(finding.detectedAt().getEpochSecond(), windowSeconds)
            : -1;
    String fingerprint = Fingerprint.of(finding.source(), finding.identity(), bucket);
    String own = finding.validNamespace(); // an invalid one from the input: the default namespace
    String ns =
        own != null && (namespaces.isEmpty() || namespaces.contains(own)) ? own : defaultNamespace;
    return new Placement(
        fingerprint, ns, Fingerprint.observationName(finding.source(), fingerprint));
  }

  /** The Observation for the first sighting of a finding ({@code status.count} 1). */
  public Observation build(Finding f, Placement p) {
    return build(f, p, null);
  }

  /**
   * The same, labelled with the uid of the watched object it came from ({@code originUid}, null for
   * none).
   */
  public Observation build(Finding f, Placement p, String originUid) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(Observation.LABEL_SOURCE, f.source());
    labels.put(Observation.LABEL_CATEGORY, f.category().wire());
    labels.put(Observation.LABEL_SEVERITY, f.severity().wire());
    if (originUid != null) {
      labels.put(Observation.LABEL_ORIGIN_UID, originUid);
    }
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withName(p.name())
            .withNamespace(p.namespace())
            .withLabels(labels)
            .build());
    String seen = format(f.detectedAt());
    o.setSpec(
        new ObservationSpec(
            f.source(),
            f.category(),
            f.severity(),
            f.eventType(),
            f.resource(),
            f.title(),
            f.details(),
            seen,
            p.fingerprint(),
            ttlSeconds,
            clusterName));
    o.setStatus(ObservationStatus.seen(1, seen, seen));
    return o;
  }

  static String format(Instant t) {
    return t.toString();
  }
}
