package io.kubezen.watcher.kube;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Which watched sources run, and where.
 *
 * @param sources the source names to run ({@code SOURCES}); empty for every available one
 * @param watchNamespaces namespaces that namespaced sources are restricted to ({@code
 *     WATCH_NAMESPACE}); empty for no restriction by list
 * @param namespaceSelector a label selector of namespaces to watch, followed as namespaces come, go
 *     and change labels ({@code WATCH_NAMESPACE_SELECTOR}); null for none. With a list too, the
 *     namespaces watched are the union of both.
 * @param watchClusterScoped watch cluster-scoped reports even when namespaces are scoped ({@code
 *     WATCH_CLUSTER_SCOPED}); without scoping they are always watched
 * @param crdCheckInterval how often a missing CRD is looked for ({@code
 *     SOURCE_CRD_CHECK_INTERVAL_SECONDS})
 * @param checkpointNamespace the namespace of the Lease where event-like sources (Kubernetes
 *     Events) checkpoint how far they stored ({@code POD_NAMESPACE}); null, with {@code
 *     checkpointName}, for no checkpoint (those sources then re-list on every start, as informers)
 * @param checkpointName the name of that Lease ({@code <LEADER_ELECTION_ID>-events-checkpoint});
 *     null for no checkpoint
 * @param checkpointInterval how often the checkpoint is written at most (and on stop)
 * @param namespacedAccess the service account has namespaced Roles only ({@code
 *     ACCESS_SCOPE=namespaces}): CRDs are not read; a source counts as installed when its resource
 *     can be listed in the first watched namespace (404: not installed)
 */
public record SourceOptions(
    Set<String> sources,
    List<String> watchNamespaces,
    String namespaceSelector,
    boolean watchClusterScoped,
    Duration crdCheckInterval,
    String checkpointNamespace,
    String checkpointName,
    Duration checkpointInterval,
    boolean namespacedAccess) {

  public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(5);

  /** Without an Events checkpoint. */
  public SourceOptions(
      Set<String> sources,
      List<String> watchNamespaces,
      String namespaceSelector,
      boolean watchClusterScoped,
      Duration crdCheckInterval) {
    this(
        sources,
        watchNamespaces,
        namespaceSelector,
        watchClusterScoped,
        crdCheckInterval,
        null,
        null,
        DEFAULT_CHECKPOINT_INTERVAL,
        false);
  }

  public SourceOptions {
    checkpointNamespace =
        checkpointNamespace == null || checkpointNamespace.isBlank() ? null : checkpointNamespace;
    checkpointName = checkpointName == null || checkpointName.isBlank() ? null : checkpointName;
    if ((checkpointNamespace == null) != (checkpointName == null)) {
      throw new IllegalArgumentException(
          "the checkpoint needs both a namespace and a name, or neither");
    }
    checkpointInterval =
        checkpointInterval == null ? DEFAULT_CHECKPOINT_INTERVAL : checkpointInterval;
    if (checkpointInterval.isNegative() || checkpointInterval.isZero()) {
      throw new IllegalArgumentException("checkpointInterval must be positive");
    }
    sources = sources == null ? Set.of() : Set.copyOf(sources);
    watchNamespaces = watchNamespaces == null ? List.of() : List.copyOf(watchNamespaces);
    namespaceSelector =
        namespaceSelector == null || namespaceSelector.isBlank() ? null : namespaceSelector.trim();
    Objects.requireNonNull(crdCheckInterval, "crdCheckInterval");
    if (crdCheckInterval.isNegative() || crdCheckInterval.isZero()) {
      throw new IllegalArgumentException("crdCheckInterval must be positive");
    }
    if (namespacedAccess
        && (watchNamespaces.isEmpty() || namespaceSelector != null || watchClusterScoped)) {
      throw new IllegalArgumentException(
          "namespaced access needs watched namespaces by list only (no selector, "
              + "no cluster-scoped sources)");
    }
  }

  public static final Duration DEFAULT_CRD_CHECK_INTERVAL = Duration.ofSeconds(30);

  /** Every source, every namespace, CRDs looked for every 30 s. */
  public static SourceOptions defaults() {
    return new SourceOptions(Set.of(), List.of(), null, false, DEFAULT_CRD_CHECK_INTERVAL);
  }

  /** True when event-like sources checkpoint their progress (and resume from it). */
  public boolean checkpointed() {
    return checkpointName != null;
  }

  /** The checkpoint Lease name for a leader-election id: {@code <id>-events-checkpoint}. */
  public static String checkpointNameFor(String leaderElectionId) {
    return leaderElectionId + "-events-checkpoint";
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
    return new SourceOptions(
        s,
        watchNamespaces,
        namespaceSelector,
        watchClusterScoped,
        crdCheckInterval,
        checkpointNamespace,
        checkpointName,
        checkpointInterval,
        namespacedAccess);
  }

  public SourceOptions withWatchNamespaces(List<String> ns) {
    return new SourceOptions(
        sources,
        ns,
        namespaceSelector,
        watchClusterScoped,
        crdCheckInterval,
        checkpointNamespace,
        checkpointName,
        checkpointInterval,
        namespacedAccess);
  }

  public SourceOptions withNamespaceSelector(String sel) {
    return new SourceOptions(
        sources,
        watchNamespaces,
        sel,
        watchClusterScoped,
        crdCheckInterval,
        checkpointNamespace,
        checkpointName,
        checkpointInterval,
        namespacedAccess);
  }

  public SourceOptions withWatchClusterScoped(boolean b) {
    return new SourceOptions(
        sources,
        watchNamespaces,
        namespaceSelector,
        b,
        crdCheckInterval,
        checkpointNamespace,
        checkpointName,
        checkpointInterval,
        namespacedAccess);
  }

  public SourceOptions withCrdCheckInterval(Duration d) {
    return new SourceOptions(
        sources,
        watchNamespaces,
        namespaceSelector,
        watchClusterScoped,
        d,
        checkpointNamespace,
        checkpointName,
        checkpointInterval,
        namespacedAccess);
  }

  /** Event-like sources checkpoint in Lease {@code namespace/name} (both null: no checkpoint). */
  public SourceOptions withCheckpoint(String namespace, String name) {
    return new SourceOptions(
        sources,
        watchNamespaces,
        namespaceSelector,
        watchClusterScoped,
        crdCheckInterval,
        namespace,
        name,
        checkpointInterval,
        namespacedAccess);
  }

  public SourceOptions withCheckpointInterval(Duration d) {
    return new SourceOptions(
        sources,
        watchNamespaces,
        namespaceSelector,
        watchClusterScoped,
        crdCheckInterval,
        checkpointNamespace,
        checkpointName,
        d,
        namespacedAccess);
  }

  /** The service account has namespaced Roles only: see {@link #namespacedAccess()}. */
  public SourceOptions withNamespacedAccess(boolean b) {
    return new SourceOptions(
        sources,
        watchNamespaces,
        namespaceSelector,
        watchClusterScoped,
        crdCheckInterval,
        checkpointNamespace,
        checkpointName,
        checkpointInterval,
        b);
  }
}
