package io.kubezen.watcher.store;

/** What a write did to one Observation. */
public enum WriteOutcome {
  /** A new Observation was stored. */
  CREATED,
  /** The Observation existed already; the repeat was added to its status. */
  MERGED,
  /** The Observation existed already and was left as it was (create-if-absent). */
  EXISTED,
  /** The Observation to add repeats to does not exist (any more). */
  MISSING
}
