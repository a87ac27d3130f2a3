package io.kubezen.watcher.store;

/** The continue token of a list call was not one this store issued. Answered with HTTP 400. */
public class InvalidContinueTokenException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public InvalidContinueTokenException(String message) {
    super(message);
  }
}
