package io.kubezen.watcher.store.kubernetes;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A token bucket of {@code burst} tokens refilled at {@code qps} per second. Each caller takes one
 * token; when none is left it reserves the next one and sleeps until it is due, so waiters are served
 * in the order they came and the long-run rate never exceeds {@code qps}. Thread-safe.
 */
final class TokenBucket {
  private final double tokensPerNano;
  private final double burst;
  private final LongSupplier nanoTime;
  private double tokens; // may go negative: tokens reserved by waiting callers
  private long last;

  TokenBucket(double qps, int burst, LongSupplier nanoTime) {
    this.tokensPerNano = qps / 1e9;
    this.burst = burst;
    this.nanoTime = nanoTime;
    this.tokens = burst;
    this.last = nanoTime.getAsLong();
  }

  /** Takes one token, and returns how long the caller must wait before using it (nanoseconds). */
  synchronized long reserve() {
    long now = nanoTime.getAsLong();
    tokens = Math.min(burst, tokens + (now - last) * tokensPerNano);
    last = now;
    tokens -= 1;
    return tokens >= 0 ? 0 : (long) Math.ceil(-tokens / tokensPerNano);
  }

  /** Takes one token, waiting until it is due. */
  void acquire() throws InterruptedException {
    long wait = reserve();
    if (wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait);
    }
  }
}
