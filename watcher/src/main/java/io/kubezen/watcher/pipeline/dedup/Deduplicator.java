package io.kubezen.watcher.pipeline.dedup;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.kubezen.watcher.store.Repeat;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * In-memory dedup and aggregation: the first sighting of a fingerprint inside the window must be
 * stored; repeats only count. Repeats are collected per Observation and handed to the writer as one
 * {@link Repeat} per Observation per flush. Bounded: at most {@code maxSize} fingerprints (least
 * recently used go first), each for at most the dedup window. An evicted fingerprint loses nothing:
 * its next sighting goes to the store, which merges it into the existing Observation, and repeats
 * not yet flushed stay queued until they are.
 *
 * <p>No I/O. Thread-safe.
 */
public final class Deduplicator {

  /** One Observation this process has seen inside the window. */
  public static final class Entry {
    private final String namespace;
    private final String name;
    private final CompletableFuture<Void> stored = new CompletableFuture<>();
    private final AtomicLong pending = new AtomicLong();
    private final AtomicLong lastSeenMillis;

    Entry(String namespace, String name, Instant seenAt) {
      this.namespace = namespace;
      this.name = name;
      this.lastSeenMillis = new AtomicLong(seenAt.toEpochMilli());
    }

    public String namespace() {
      return namespace;
    }

    public String name() {
      return name;
    }

    /** Completes when the first sighting is in the store; fails when it could not be stored. */
    public CompletableFuture<Void> stored() {
      return stored;
    }

    long pending() {
      return pending.get();
    }
  }

  /** What to do with a sighting. */
  public sealed interface Admission permits First, Repeated {
    Entry entry();
  }

  /**
   * The first sighting in this process inside the window: store it, then call {@link #stored} or
   * {@link #failed}.
   */
  public record First(Entry entry) implements Admission {}

  /**
   * A repeat: counted, flushed later; the answer may be given once {@code entry().stored()}
   * completes.
   */
  public record Repeated(Entry entry) implements Admission {}

  /** Repeats drained for one flush; give them back with {@link #restore} if the flush fails. */
  public record Pending(Entry entry, long delta, Instant lastSeen) {
    public Repeat toRepeat() {
      return new Repeat(entry.namespace, entry.name, delta, lastSeen);
    }
  }

  private final Cache<String, Entry> cache;
  private final ConcurrentMap<String, Entry> map;
  private final Set<Entry> dirty = ConcurrentHashMap.newKeySet();

  public Deduplicator(int maxSize, Duration window) {
    this(maxSize, window, Ticker.systemTicker());
  }

  public Deduplicator(int maxSize, Duration window, Ticker ticker) {
    this.cache =
        Caffeine.newBuilder()
            .maximumSize(maxSize)
            .expireAfterWrite(window)
            .ticker(ticker)
            .executor(Runnable::run)
            .build();
    this.map = cache.asMap();
  }

  public Admission admit(String fingerprint, String namespace, String name, Instant seenAt) {
    while (true) {
      Entry existing = map.get(fingerprint);
      if (existing != null && !existing.stored.isCompletedExceptionally()) {
        existing.lastSeenMillis.accumulateAndGet(seenAt.toEpochMilli(), Math::max);
        existing.pending.incrementAndGet();
        dirty.add(existing);
        return new Repeated(existing);
      }
      Entry fresh = new Entry(namespace, name, seenAt);
      if (existing == null
          ? map.putIfAbsent(fingerprint, fresh) == null
          : map.replace(fingerprint, existing, fresh)) {
        return new First(fresh);
      }
    }
  }

  /**
   * The first sighting of {@code entry} is stored: its repeats may be flushed, waiting answers
   * given.
   */
  public void stored(Entry entry) {
    entry.stored.complete(null);
  }

  /**
   * The first sighting could not be stored: forget the entry, so that the next sighting (the
   * sender's retry) tries again, and fail every answer waiting on it. Its repeats are dropped:
   * their requests fail too, so their senders retry them.
   */
  public void failed(String fingerprint, Entry entry, Throwable cause) {
    map.remove(fingerprint, entry);
    dirty.remove(entry);
    entry.stored.completeExceptionally(cause);
  }

  /**
   * Forgets a first sighting that was not stored on purpose (refused at the store's cap): the next
   * sighting is a first one again, and repeats collected meanwhile are dropped with it. Those
   * waiting on it complete normally (they were answered as repeats of it).
   */
  public void discard(String fingerprint, Entry entry) {
    map.remove(fingerprint, entry);
    dirty.remove(entry);
    entry.stored.complete(null);
  }

  /** Takes the repeats of every stored Observation, at most one {@link Pending} per Observation. */
  public List<Pending> drainRepeats() {
    List<Pending> out = new ArrayList<>();
    for (Entry e : dirty) {
      if (!e.stored.isDone()) {
        continue; // first sighting still being written: flush its repeats next time
      }
      dirty.remove(e);
      if (e.stored.isCompletedExceptionally()) {
        continue;
      }
      long delta = e.pending.getAndSet(0);
      if (delta > 0) {
        out.add(new Pending(e, delta, Instant.ofEpochMilli(e.lastSeenMillis.get())));
      }
    }
    return out;
  }

  /** Gives back repeats whose flush failed, to be flushed again next time. */
  public void restore(List<Pending> pending) {
    for (Pending p : pending) {
      p.entry.pending.addAndGet(p.delta);
      dirty.add(p.entry);
    }
  }

  /** Fingerprints currently remembered. */
  public long size() {
    return cache.estimatedSize();
  }

  /** Sightings counted as repeats and not yet flushed to the store. */
  public long pendingRepeats() {
    long n = 0;
    for (Entry e : dirty) {
      n += e.pending.get();
    }
    return n;
  }

  /** Observations with repeats not yet flushed. */
  public int dirtyCount() {
    return dirty.size();
  }
}
