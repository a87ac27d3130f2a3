package io.kubezen.watcher.store;

import io.kubezen.api.v1alpha1.Severity;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a store shed to respect MAX_OBSERVATIONS, by action and severity: the numbers behind {@link
 * ObservationStore#shedCount} ({@code zen_watcher_observations_shed_total}). Thread-safe.
 */
public final class ShedCounts {
  private final Map<Shed, Map<Severity, AtomicLong>> counts = new EnumMap<>(Shed.class);

  public ShedCounts() {
    for (Shed action : Shed.values()) {
      Map<Severity, AtomicLong> bySeverity = new EnumMap<>(Severity.class);
      for (Severity s : Severity.values()) {
        bySeverity.put(s, new AtomicLong());
      }
      counts.put(action, bySeverity);
    }
  }

  /** One Observation shed; a missing severity counts as info. */
  public void add(Shed action, Severity severity) {
    counts.get(action).get(severity == null ? Severity.INFO : severity).incrementAndGet();
  }

  /** The same, the severity in its wire form (as a store keeps it); unknown counts as info. */
  public void add(Shed action, String severity) {
    add(action, severity == null ? null : Severity.parse(severity).orElse(null));
  }

  public long get(Severity severity, Shed action) {
    return counts.get(action).get(severity).get();
  }
}
