package io.kubezen.watcher.pipeline.filter;

/**
 * Why the filter dropped a finding. A small closed set: its {@link #wire()} label is the {@code
 * reason} label of {@code zen_watcher_observations_filtered_total}.
 */
public enum DropReason {
  MIN_SEVERITY("min_severity"),
  NAMESPACE("namespace"),
  KIND("kind"),
  CATEGORY("category"),
  EVENT_TYPE("event_type"),
  RULE("rule"),
  EXPRESSION("expression");

  private final String wire;

  DropReason(String wire) {
    this.wire = wire;
  }

  /** The metric label value. */
  public String wire() {
    return wire;
  }
}
