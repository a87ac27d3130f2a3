package io.kubezen.watcher.store;

/** The store could not do what was asked (unreachable, disk full, ...). Answered with HTTP 503. */
public class StoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }

  public StoreException(String message) {
    super(message);
  }
}
