package io.kubezen.watcher.http;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Admission by estimated cost across webhook requests: the estimated heap bytes of every request
 * being read or processed are reserved here, and a request that would take the total over the
 * budget is refused (503 + Retry-After) instead of taking the process to an out-of-memory exit. A
 * request larger than the whole budget is admitted only when nothing else is in flight, so a large
 * but allowed body is never refused forever (its size is bounded by the body and findings limits).
 */
public final class InflightBudget {
  private final long budget;
  private final AtomicLong used = new AtomicLong();

  public InflightBudget(long budgetBytes) {
    this.budget = budgetBytes;
  }

  /** Reserves {@code bytes}; false (nothing reserved) when over the budget. */
  public boolean tryReserve(long bytes) {
    while (true) {
      long now = used.get();
      if (now > 0 && now + bytes > budget) {
        return false;
      }
      if (used.compareAndSet(now, now + bytes)) {
        return true;
      }
    }
  }

  /**
   * Changes a reservation of {@code from} bytes into one of {@code to}; false (the old one kept)
   * when over.
   */
  public boolean tryResize(long from, long to) {
    while (true) {
      long now = used.get();
      long next = now - from + to;
      if (to > from && now - from > 0 && next > budget) {
        return false;
      }
      if (used.compareAndSet(now, next)) {
        return true;
      }
    }
  }

  public void release(long bytes) {
    used.addAndGet(-bytes);
  }

  /** Estimated bytes reserved now. */
  public long used() {
    return used.get();
  }

  public long budget() {
    return budget;
  }
}
