package io.kubezen.watcher.ingester.spec;

import java.util.List;

/**
 * An Ingester that cannot be used; {@link #problems()} says every reason, each naming its field.
 */
public final class InvalidIngesterException extends Exception {
  private final List<String> problems;

  public InvalidIngesterException(List<String> problems) {
    super(String.join("; ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
