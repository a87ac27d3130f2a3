package io.kubezen.watcher.ingester.status;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What one Ingester did since its counts were last taken: events (findings its mapping gave),
 * Observations created, and the time of the last event. Counted per input, written to the
 * Ingester's status now and then as deltas (so that several replicas add up). Thread-safe.
 */
public final class IngesterStats {
  /**
   * Counts taken for one status write; give them back with {@link #restore} if the write failed.
   */
  public record Delta(long events, long created, Instant lastEventTime) {
    public boolean isEmpty() {
      return events == 0 && created == 0 && lastEventTime == null;
    }
  }

  private final AtomicLong events = new AtomicLong();
  private final AtomicLong created = new AtomicLong();
  private final AtomicReference<Instant> last = new AtomicReference<>();
  private final AtomicLong eventsTotal = new AtomicLong();
  private final AtomicLong createdTotal = new AtomicLong();

  public void record(long eventCount, long createdCount, Instant at) {
    events.addAndGet(eventCount);
    created.addAndGet(createdCount);
    eventsTotal.addAndGet(eventCount);
    createdTotal.addAndGet(createdCount);
    if (at != null && eventCount > 0) {
      last.accumulateAndGet(at, (a, b) -> a == null || b.isAfter(a) ? b : a);
    }
  }

  /** Takes the counts since the last take. */
  public Delta take() {
    return new Delta(events.getAndSet(0), created.getAndSet(0), last.getAndSet(null));
  }

  public void restore(Delta d) {
    events.addAndGet(d.events());
    created.addAndGet(d.created());
    if (d.lastEventTime() != null) {
      last.accumulateAndGet(d.lastEventTime(), (a, b) -> a == null || b.isAfter(a) ? b : a);
    }
  }

  /** Events counted by this process since the Ingester was configured here. */
  public long eventsTotal() {
    return eventsTotal.get();
  }

  public long createdTotal() {
    return createdTotal.get();
  }
}
