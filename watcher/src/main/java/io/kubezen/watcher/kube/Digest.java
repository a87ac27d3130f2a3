package io.kubezen.watcher.kube;

import io.kubezen.watcher.store.ObservationKey;
import java.util.Arrays;
import java.util.List;

/**
 * The Observations one watched object's findings map to, as sorted 64-bit hashes of their keys: a
 * few bytes per finding, enough to tell whether the Observations match the object (warm standby).
 */
record Digest(long[] keys) {
  static Digest of(List<ObservationKey> keys) {
    long[] h = new long[keys.size()];
    for (int i = 0; i < h.length; i++) {
      h[i] = hash(keys.get(i).namespace(), keys.get(i).name());
    }
    Arrays.sort(h);
    return new Digest(h);
  }

  /** FNV-1a, 64 bits, of {@code namespace/name}. */
  static long hash(String namespace, String name) {
    long h = 0xcbf29ce484222325L;
    String s = namespace + "/" + name;
    for (int i = 0; i < s.length(); i++) {
      h ^= s.charAt(i);
      h *= 0x100000001b3L;
    }
    return h;
  }

  /**
   * True when {@code open} (the keys of the unresolved Observations of the object) are exactly
   * these.
   */
  boolean matches(long[] open) {
    long[] sorted = open.clone();
    Arrays.sort(sorted);
    long[] mine = Arrays.stream(keys).distinct().toArray();
    return Arrays.equals(mine, Arrays.stream(sorted).distinct().toArray());
  }
}
