package io.kubezen.watcher.store.kubernetes;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;

/**
 * The type the {@link ObservationCache}'s informers read and hand back, in place of {@link
 * Observation}: either an Observation as the API server sent it (a list page, a watch event:
 * metadata, spec, status), or a handle on a cache {@link ObservationCache.Entry} going back to the
 * informer, whose metadata (namespace, name, resourceVersion) is made only when asked.
 *
 * <p>Why not {@link Observation}: fabric8's informer lists its whole item store at the end of every
 * list (its {@code ProcessorStore.retainAll}, to find what went away). An {@link Observation} is a
 * {@code CustomResource}, whose constructor makes an {@link ObjectMeta} with six empty collections
 * and five strings of its own: about 1 KB for each of 100,000 handles at once, which was a 45–60 MB
 * jump of the live heap at the end of each initial list and re-list. A handle here costs its own 16
 * bytes.
 */
@Group(Observation.GROUP)
@Version(Observation.VERSION)
@Kind("Observation")
@Plural("observations")
@Singular("observation")
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonDeserialize(using = JsonDeserializer.None.class) // a bean, not fabric8's by-kind lookup
public final class CachedObservation implements HasMetadata, Namespaced {
  private ObjectMeta metadata;
  private ObservationSpec spec;
  private ObservationStatus status;
  @JsonIgnore private final ObservationCache.Entry entry;

  /** For Jackson: an Observation as read. */
  public CachedObservation() {
    this.entry = null;
  }

  /** A handle on a cache entry. */
  CachedObservation(ObservationCache.Entry entry) {
    this.entry = entry;
  }

  /** The entry this handle stands for; null for an Observation as read. */
  ObservationCache.Entry entry() {
    return entry;
  }

  /** A handle's metadata is made fresh on each call (the informer only compares it). */
  @Override
  public ObjectMeta getMetadata() {
    if (metadata == null && entry != null) {
      ObjectMeta m = new ObjectMeta();
      m.setNamespace(entry.namespace());
      m.setName(entry.name());
      m.setResourceVersion(entry.resourceVersion());
      return m;
    }
    return metadata;
  }

  @Override
  public void setMetadata(ObjectMeta metadata) {
    this.metadata = metadata;
  }

  @Override
  public void setApiVersion(String version) {
    // fixed by the annotations
  }

  public ObservationSpec getSpec() {
    return spec;
  }

  public void setSpec(ObservationSpec spec) {
    this.spec = spec;
  }

  public ObservationStatus getStatus() {
    return status;
  }

  public void setStatus(ObservationStatus status) {
    this.status = status;
  }
}
