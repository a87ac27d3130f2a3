package io.kubezen.watcher.kube;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Which watched sources run, and where.
 *
 * @param sources the source names to run ({@code SOURCES}); empty for every available one
 * @param watchNamespaces namespaces that namespaced sources are restricted to ({@code WATCH_NAMESPACE});
 *     empty for no restriction by list
 * @param namespaceSelector a label selector of namespaces to watch, followed as namespaces come, go
 *     and change labels ({@code WATCH_NAMESPACE_SELECTOR}); null for none. With a list too, the
 *     namespaces watched are the union of both.
 * @param watchClusterScoped watch cluster-scoped reports even when namespaces are scoped
 *     ({@code WATCH_CLUSTER_SCOPED}); without scoping they are always watched
 * @param crdCheckInterval how often a missing CRD is looked for ({@code SOURCE_CRD_CHECK_INTERVAL_SECONDS})
 */
public record SourceOptions(Set<String> sources, List<String> watchNamespaces, String namespaceSelector,
    boolean watchClusterScoped, Duration crdCheckInterval) {

  public SourceOptions {
    sources = sources == null ? Set.of() : Set.copyOf(sources);
    watchNamespaces = watchNamespaces == null ? List.of() : List.copyOf(watchNamespaces);
    namespaceSelector = namespaceSelector == null || namespaceSelector.isBlank() ? null : namespaceSelector.trim();
    Objects.requireNonNull(crdCheckInterval, "crdCheckInterval");
    if (crdCheckInterval.isNegative() || crdCheckInterval.isZero()) {
      throw new IllegalArgumentException("crdCheckInterval must be positive");
    }
  }

  public static final Duration DEFAULT_CRD_CHECK_INTERVAL = Duration.ofSeconds(30);

  /** Every source, every namespace, CRDs looked for every 30 s. */
  public static SourceOptions defaults() {
    return new SourceOptions(Set.of(), List.of(), null, false, DEFAULT_CRD_CHECK_INTERVAL);
  }

  /** True when namespaced sources are restricted (by list or by selector). */
  public boolean scoped() {
    return !watchNamespaces.isEmpty() || namespaceSelector != null;
  }

  /** True when {@code source} runs. */
  public boolean enabled(String source) {
    return sources.isEmpty() || sources.contains(source);
  }

  /** True when cluster-scoped resources are watched. */
  public boolean clusterScopedWatched() {
    return !scoped() || watchClusterScoped;
  }

  public SourceOptions withSources(Set<String> s) {
    return new SourceOptions(s, watchNamespaces, namespaceSelector, watchClusterScoped, crdCheckInterval);
  }

  public SourceOptions withWatchNamespaces(List<String> ns) {
    return new SourceOptions(sources, ns, namespaceSelector, watchClusterScoped, crdCheckInterval);
  }

  public SourceOptions withNamespaceSelector(String sel) {
    return new SourceOptions(sources, watchNamespaces, sel, watchClusterScoped, crdCheckInterval);
  }

  public SourceOptions withWatchClusterScoped(boolean b) {
    return new SourceOptions(sources, watchNamespaces, namespaceSelector, b, crdCheckInterval);
  }

  public SourceOptions withCrdCheckInterval(Duration d) {
    return new SourceOptions(sources, watchNamespaces, namespaceSelector, watchClusterScoped, d);
  }
}
