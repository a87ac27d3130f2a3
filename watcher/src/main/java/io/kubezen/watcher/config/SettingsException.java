package io.kubezen.watcher.config;

import java.util.List;

/** One or more settings are invalid; the message names each one and says what is wrong. */
public class SettingsException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final List<String> problems;

  public SettingsException(List<String> problems) {
    super("invalid settings: " + String.join("; ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
