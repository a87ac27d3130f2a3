package io.kubezen.watcher.store;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Some items of a batch were written and some failed. {@link #outcomes()} has one entry per input,
 * in order: the outcome of each item that was written, null for each that failed. A caller that
 * retries only the null ones counts nothing twice; a caller that retries the whole batch counts the
 * written ones again (a create meets 409 and merges: count + 1).
 */
public final class PartialWriteException extends StoreException {
  private static final long serialVersionUID = 1L;

  private final transient List<WriteOutcome> outcomes;
  private final transient List<Throwable> causes;

  public PartialWriteException(String message, List<WriteOutcome> outcomes, Throwable firstCause) {
    this(message, outcomes, firstCause, null);
  }

  /**
   * @param causes one per input: why that item failed (null where it was written); null if unknown
   */
  public PartialWriteException(
      String message, List<WriteOutcome> outcomes, Throwable firstCause, List<Throwable> causes) {
    super(message, firstCause);
    this.outcomes = Collections.unmodifiableList(new ArrayList<>(outcomes));
    this.causes = causes == null ? null : Collections.unmodifiableList(new ArrayList<>(causes));
  }

  /** Why item {@code i} failed, when the store said; else this exception. */
  public Throwable causeOf(int i) {
    Throwable c = causes == null || i >= causes.size() ? null : causes.get(i);
    return c != null ? c : this;
  }

  /** One per input; null where the item failed. */
  public List<WriteOutcome> outcomes() {
    return outcomes;
  }

  public int failed() {
    return (int) outcomes.stream().filter(o -> o == null).count();
  }
}
