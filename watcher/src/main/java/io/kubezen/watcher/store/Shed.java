package io.kubezen.watcher.store;

/**
 * What MAX_OBSERVATIONS did to an Observation ({@code
 * zen_watcher_observations_shed_total{action}}).
 */
public enum Shed {
  /** A new Observation that was not created: nothing of lower severity to make room. */
  REFUSED,
  /** An existing Observation deleted to make room for one of a higher severity. */
  EVICTED
}
