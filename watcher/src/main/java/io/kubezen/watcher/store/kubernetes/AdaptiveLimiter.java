package io.kubezen.watcher.store.kubernetes;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The write rate of the store: as fast as the API server allows, no faster. Additive increase,
 * multiplicative decrease (the way TCP finds a link's capacity):
 *
 * <ul>
 *   <li>every write that succeeds at a normal latency raises the rate by {@link #STEP} per second
 *       of writing at that rate (so a saturated writer gains {@code STEP} writes/s each second);
 *   <li>a 429 or 5xx answer halves it, and with a {@code Retry-After} every writer waits that long;
 *   <li>a latency that rises to {@link #SLOW_FACTOR} times the lowest seen (and at least {@link
 *       #SLOW_FLOOR_NANOS}) takes off 30 %, at most once per second.
 * </ul>
 *
 * The rate stays within [{@link #MIN_RATE}, ceiling], the ceiling being {@code KUBE_WRITE_QPS} when
 * set. Writers are spaced by the current rate, with {@code burst} writes allowed at once after a
 * quiet period. Thread-safe.
 */
final class AdaptiveLimiter {
  static final double MIN_RATE = 5;
  static final double START_RATE = 100;
  static final double MAX_RATE = 100_000;
  static final double STEP = 50;
  static final double SLOW_FACTOR = 4;
  static final long SLOW_FLOOR_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
  private static final long DECREASE_SPACING_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final double ceiling;
  private final int burst;
  private final LongSupplier nanoTime;
  private double rate;
  private long nextFree;
  private long pausedUntil;
  private double latencyEwma = -1;
  private double latencyFloor = Double.MAX_VALUE;
  private long lastDecrease;

  /**
   * @param ceiling the highest rate, writes per second; 0 for none
   * @param burst writes allowed at once after a quiet period
   */
  AdaptiveLimiter(double ceiling, int burst, LongSupplier nanoTime) {
    this.ceiling = ceiling > 0 ? Math.min(ceiling, MAX_RATE) : MAX_RATE;
    this.burst = Math.max(1, burst);
    this.nanoTime = nanoTime;
    this.rate = Math.min(START_RATE, this.ceiling);
    long now = nanoTime.getAsLong();
    this.nextFree = Long.MIN_VALUE / 4; // a quiet period: the burst is free
    this.lastDecrease = now - DECREASE_SPACING_NANOS;
  }

  /** The current rate, writes per second. */
  synchronized double rate() {
    return rate;
  }

  /** Reserves the next slot; returns how long the caller must wait for it (nanoseconds). */
  synchronized long reserve() {
    long now = nanoTime.getAsLong();
    long interval = (long) (1e9 / rate);
    long earliest = Math.max(now - (burst - 1) * interval, pausedUntil);
    long slot = Math.max(nextFree, earliest);
    nextFree = slot + interval;
    return Math.max(0, slot - now);
  }

  /** Waits for the next slot. */
  void acquire() throws InterruptedException {
    long wait = reserve();
    if (wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait);
    }
  }

  /** A write succeeded after {@code nanos}. */
  synchronized void succeeded(long nanos) {
    latencyEwma = latencyEwma < 0 ? nanos : 0.8 * latencyEwma + 0.2 * nanos;
    latencyFloor = Math.min(latencyFloor, latencyEwma);
    long now = nanoTime.getAsLong();
    if (latencyEwma > Math.max(SLOW_FLOOR_NANOS, SLOW_FACTOR * latencyFloor)) {
      decrease(0.7, now);
      return;
    }
    rate = Math.min(ceiling, rate + STEP / rate);
  }

  /**
   * The API server pushed back (429, 5xx); {@code retryAfterMillis} when it said how long (else 0).
   */
  synchronized void throttled(long retryAfterMillis) {
    long now = nanoTime.getAsLong();
    decrease(0.5, now);
    if (retryAfterMillis > 0) {
      pausedUntil = Math.max(pausedUntil, now + TimeUnit.MILLISECONDS.toNanos(retryAfterMillis));
    }
  }

  private void decrease(double factor, long now) {
    if (now - lastDecrease < DECREASE_SPACING_NANOS) {
      return; // one decrease per round trip of bad news, not one per request in flight
    }
    lastDecrease = now;
    rate = Math.max(MIN_RATE, rate * factor);
  }
}
