package io.kubezen.watcher.kube;

/**
 * Where one watched source stands. {@link #text()} is what readiness and the console show
 * ("synced", "syncing", "checking CRD", "waiting for CRD ...", "waiting for namespaces",
 * "cluster-scoped: not watched (...)", "stopped"); the engine decides on {@link #phase()}.
 */
record SourceState(Phase phase, String text) {

  enum Phase {
    /** The engine is not running. */
    STOPPED,
    /** Its CRD has not been looked at yet. */
    CHECKING_CRD,
    /** Its CRD is not installed (or not established, or does not serve the version). */
    NOT_INSTALLED,
    /** Cluster-scoped and not watched here, by the settings' choice or for lack of rights. */
    NOT_WATCHED,
    /** The namespace-selector informer has not synced yet. */
    WAITING_FOR_NAMESPACES,
    /** An informer is missing or has not synced yet. */
    SYNCING,
    SYNCED
  }

  static final SourceState STOPPED = new SourceState(Phase.STOPPED, "stopped");
  static final SourceState WAITING_FOR_NAMESPACES =
      new SourceState(Phase.WAITING_FOR_NAMESPACES, "waiting for namespaces");
  static final SourceState SYNCING = new SourceState(Phase.SYNCING, "syncing");
  static final SourceState SYNCED = new SourceState(Phase.SYNCED, "synced");
  static final SourceState CLUSTER_SCOPED_NOT_WATCHED =
      new SourceState(
          Phase.NOT_WATCHED,
          "cluster-scoped: not watched (namespaces are scoped; WATCH_CLUSTER_SCOPED=true watches them)");

  /**
   * Still getting ready: {@code synced()} and the catch-up wait for it (a missing CRD is not waited
   * for).
   */
  boolean pending() {
    return phase == Phase.CHECKING_CRD
        || phase == Phase.WAITING_FOR_NAMESPACES
        || phase == Phase.SYNCING;
  }

  /** Counts as synced for the informer-cache gauge: synced, or nothing to watch here by design. */
  boolean settled() {
    return phase == Phase.SYNCED || phase == Phase.NOT_WATCHED;
  }
}
