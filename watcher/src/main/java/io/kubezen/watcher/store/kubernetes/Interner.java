package io.kubezen.watcher.store.kubernetes;

import java.lang.ref.WeakReference;
import java.util.WeakHashMap;

/**
 * Shares equal values (strings, resource references, boxed numbers) among the entries of the {@link
 * ObservationCache}: the thousands of Observations of one report hold one namespace, one source,
 * one origin uid, one resource and, across reports, one title per vulnerability. Weak: a value no
 * entry holds any more is forgotten (an origin uid of a deleted report, say), so the table never
 * outgrows what the cache holds. Thread-safe.
 */
final class Interner {
  private final WeakHashMap<Object, WeakReference<Object>> table = new WeakHashMap<>();

  /** The shared instance equal to {@code value} (itself the first time); null for null. */
  @SuppressWarnings("unchecked")
  synchronized <T> T intern(T value) {
    if (value == null) {
      return null;
    }
    WeakReference<Object> ref = table.get(value);
    Object shared = ref == null ? null : ref.get();
    if (shared != null) {
      return (T) shared;
    }
    table.put(value, new WeakReference<>(value));
    return value;
  }

  /** Distinct values held (for tests). */
  synchronized int size() {
    return table.size();
  }
}
