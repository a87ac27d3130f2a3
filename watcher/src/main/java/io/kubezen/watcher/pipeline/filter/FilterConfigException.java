package io.kubezen.watcher.pipeline.filter;

/**
 * A filter configuration that cannot be used. The message names the exact place of the problem,
 * e.g. {@code sources.falco.expression: ...}, and, when the config came from a file, the file.
 */
public class FilterConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  public FilterConfigException(String message) {
    super(message);
  }

  public FilterConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
