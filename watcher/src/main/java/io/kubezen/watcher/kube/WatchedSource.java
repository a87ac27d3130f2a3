package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.ObjectReader;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.SourceKind;
import io.kubezen.watcher.source.WatchedResource;
import java.util.Objects;

/**
 * One kind of object zen-watcher watches with an informer, and how to read it: which resource
 * (always a full {@link ResourceDefinitionContext}: no discovery is needed), an optional label
 * selector, how to turn one object into the input of its {@link Normalizer}, and whether a CRD must
 * be installed first.
 *
 * <p>State-like sources (the normalizer's kind is {@link SourceKind#STATE}: reports, ConfigMaps)
 * resolve the Observations of findings that left their object; event-like ones (Kubernetes Events)
 * never resolve anything.
 *
 * @param source the source name ({@code SOURCES} enables it by this name)
 * @param resource group/version/plural/kind/namespaced of the watched objects
 * @param labelSelector a label selector for the watch, or null for all objects
 * @param reader turns one object (its JSON) into the normalizer's input (pure; {@link #read} gives
 *     it the object)
 * @param normalizer what turns that input into findings
 * @param crdName the CRD that must exist before the resource can be watched ({@code
 *     <plural>.<group>}), or null for types every cluster serves. When the resource has no kind
 *     ({@link #kindFromCrd()}: an informer Ingester's resource before its CRD is read), the engine
 *     takes the kind and scope from the CRD once it is installed
 * @param fieldSelector a field selector for the watch ({@code k=v,k!=v}), or null
 * @param namespaces the namespaces to watch: null for the engine's ({@code WATCH_NAMESPACE}...),
 *     empty for all namespaces
 * @param name the unique id of this source ({@link #id()}), or null for {@code source:gvr}
 * @param pipeline the pipeline its findings go through, or null for the engine's
 * @param onReconciled told of each object reconciled (findings read, Observations created), or null
 */
public record WatchedSource(
    String source,
    ResourceDefinitionContext resource,
    String labelSelector,
    ObjectReader reader,
    Normalizer normalizer,
    String crdName,
    String fieldSelector,
    java.util.List<String> namespaces,
    String name,
    io.kubezen.watcher.pipeline.Pipeline pipeline,
    Reconciled onReconciled) {

  public WatchedSource {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(resource, "resource");
    Objects.requireNonNull(reader, "reader");
    Objects.requireNonNull(normalizer, "normalizer");
    namespaces = namespaces == null ? null : java.util.List.copyOf(namespaces);
  }

  /** A built-in watched source: the engine's pipeline and namespaces, no field selector. */
  public WatchedSource(
      String source,
      ResourceDefinitionContext resource,
      String labelSelector,
      ObjectReader reader,
      Normalizer normalizer,
      String crdName) {
    this(
        source, resource, labelSelector, reader, normalizer, crdName, null, null, null, null, null);
  }

  /** Told of each watched object reconciled (an informer Ingester's counts). */
  @FunctionalInterface
  public interface Reconciled {
    void reconciled(int findings, int created);
  }

  /**
   * Reads one watched object (as its JSON) into its normalizer's input; null when it holds nothing.
   */
  public ObjectReader.Input read(GenericKubernetesResource object) {
    return reader.read(Json.MAPPER.valueToTree(object));
  }

  /** True when the kind and scope are to be read from the CRD (the resource has no kind yet). */
  public boolean kindFromCrd() {
    return crdName != null && (resource.getKind() == null || resource.getKind().isEmpty());
  }

  /** The same source over another resource context (the kind and scope read from its CRD). */
  public WatchedSource withResource(ResourceDefinitionContext context) {
    return new WatchedSource(
        source,
        context,
        labelSelector,
        reader,
        normalizer,
        crdName,
        fieldSelector,
        namespaces,
        name,
        pipeline,
        onReconciled);
  }

  /** A built-in type (no CRD check), read as it is. */
  public static WatchedSource builtIn(
      String source,
      String group,
      String version,
      String plural,
      String kind,
      boolean namespaced,
      Normalizer normalizer) {
    return new WatchedSource(
        source,
        context(group, version, plural, kind, namespaced),
        null,
        ObjectReader.asIs(),
        normalizer,
        null);
  }

  /** One resource a source declares ({@link SourceDescriptor#watches()}). */
  public static WatchedSource of(SourceDescriptor d, WatchedResource r) {
    return new WatchedSource(
        d.name(),
        context(r.group(), r.version(), r.plural(), r.kind(), r.namespaced()),
        r.labelSelector(),
        r.reader(),
        d.normalizer(),
        r.crdName());
  }

  public static ResourceDefinitionContext context(
      String group, String version, String plural, String kind, boolean namespaced) {
    return new ResourceDefinitionContext.Builder()
        .withGroup(group)
        .withVersion(version)
        .withPlural(plural)
        .withKind(kind)
        .withNamespaced(namespaced)
        .build();
  }

  public boolean namespaced() {
    return resource.isNamespaceScoped();
  }

  public boolean stateLike() {
    return normalizer.kind() == SourceKind.STATE;
  }

  /**
   * {@code group/version/plural} ({@code v1/events} for the core group): the {@code gvr} metric
   * label.
   */
  public String gvr() {
    String g = resource.getGroup();
    return (g == null || g.isEmpty() ? "" : g + "/")
        + resource.getVersion()
        + "/"
        + resource.getPlural();
  }

  /**
   * {@code source:gvr}, unique among the watched sources: the key of {@link
   * SourceManager#status()}.
   */
  public String id() {
    return name != null ? name : source + ":" + gvr();
  }

  /** The {@code apiVersion} of the watched objects. */
  public String apiVersion() {
    String g = resource.getGroup();
    return (g == null || g.isEmpty() ? "" : g + "/") + resource.getVersion();
  }
}
