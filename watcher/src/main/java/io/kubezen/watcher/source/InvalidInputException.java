package io.kubezen.watcher.source;

/**
 * The input is well-formed JSON/YAML but not of the shape the source reads. Answered with HTTP 422.
 */
public class InvalidInputException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InvalidInputException(String message) {
    super(message);
  }
}
