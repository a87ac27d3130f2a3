package io.kubezen.watcher.store;

/**
 * The store refused an Observation as invalid (the API server's 422 Unprocessable Entity): a
 * permanent error for that item, answered HTTP 422 and never "retry", since a retry would meet the
 * same refusal.
 */
public final class RejectedWriteException extends StoreException {
  private static final long serialVersionUID = 1L;

  public RejectedWriteException(String message, Throwable cause) {
    super(message, cause);
  }
}
