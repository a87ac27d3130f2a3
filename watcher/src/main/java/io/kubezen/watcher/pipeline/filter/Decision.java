package io.kubezen.watcher.pipeline.filter;

/**
 * What the filter decided for one finding.
 *
 * @param kept true when the finding goes on down the pipeline
 * @param reason why it was dropped; null when kept
 * @param scope which rules decided: {@code global} or {@code sources.<name>}; for a kept finding,
 *     the scope whose expression failed to evaluate, else null
 * @param errorMessage the CEL evaluation error when an expression could not be evaluated (the
 *     finding is then kept: fail open), else null
 */
public record Decision(boolean kept, DropReason reason, String scope, String errorMessage) {

  /** Kept, nothing to report. */
  public static final Decision KEEP = new Decision(true, null, null, null);

  public Decision {
    if (kept && reason != null) {
      throw new IllegalArgumentException("a kept finding has no drop reason");
    }
    if (!kept && reason == null) {
      throw new IllegalArgumentException("a dropped finding needs a reason");
    }
  }

  static Decision drop(DropReason reason, String scope) {
    return new Decision(false, reason, scope, null);
  }

  static Decision keptWithError(String scope, String errorMessage) {
    return new Decision(true, null, scope, errorMessage);
  }

  public boolean dropped() {
    return !kept;
  }

  /** True when a CEL expression failed to evaluate for this finding (it was kept anyway). */
  public boolean expressionError() {
    return errorMessage != null;
  }
}
