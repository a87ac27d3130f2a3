package io.kubezen.watcher.kube;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One enabled watched source in {@link SourceManager} and its state: availability, last failure,
 * its feeds.
 */
final class SourceUnit {
  /**
   * Replaced once when the kind and scope are read from the CRD ({@link
   * WatchedSource#kindFromCrd}).
   */
  volatile WatchedSource source;

  volatile CrdAvailability.Availability availability;

  /**
   * Whether the missing CRD (or an unanswered check) was logged already: logged once, not every
   * check.
   */
  volatile boolean warned;

  /** The last failure of an initial list or watch (cleared once synced), or null. */
  volatile String failure;

  /** Its feeds by namespace key ({@link SourceManager#ALL} for all namespaces or cluster scope). */
  final Map<String, Feed> feeds = new ConcurrentHashMap<>();

  SourceUnit(WatchedSource source, boolean namespacedAccess) {
    this.source = source;
    this.availability = CrdAvailability.Availability.initial(source, namespacedAccess);
  }

  String id() {
    return source.id();
  }
}
