package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Objects;

/**
 * Status arithmetic of the kubernetes store. Pure.
 *
 * <p>The status subresource ignores {@code status} on create, so a new Observation is created
 * without one; the CRD's schema default gives it {@code {count: 1}} whenever the API server reads
 * it (older CRDs: no status at all). A missing status or missing times mean the <em>implicit</em>
 * status: count 1, first and last seen at {@code spec.detectedAt} (else the creation time). Every
 * status write writes the full status.
 */
final class Statuses {
  private Statuses() {}

  /** The status as stored, with missing fields filled in from the implicit status. */
  static ObservationStatus effective(Observation o) {
    return effective(o.getMetadata(), o.getSpec(), o.getStatus());
  }

  /** {@link #effective(Observation)} of an Observation given by its parts. */
  static ObservationStatus effective(ObjectMeta meta, ObservationSpec spec, ObservationStatus s) {
    String seen = implicitSeen(meta, spec);
    long count = s != null && s.count() != null ? s.count() : 1;
    String first = s != null && s.firstSeen() != null ? s.firstSeen() : seen;
    String last = s != null && s.lastSeen() != null ? s.lastSeen() : first;
    return new ObservationStatus(
        count, first, last, s == null ? null : s.resolved(), s == null ? null : s.resolvedAt());
  }

  private static String implicitSeen(ObjectMeta meta, ObservationSpec spec) {
    String detected = spec == null ? null : spec.detectedAt();
    if (detected != null && parse(detected) != null) {
      return detected;
    }
    return meta == null ? null : meta.getCreationTimestamp();
  }

  /**
   * True when {@code wanted}, the status an Observation to be created carries, is what its implicit
   * status gives anyway: then no status write is needed after the create.
   */
  static boolean isImplicit(Observation toCreate) {
    ObservationStatus s = toCreate.getStatus();
    if (s == null) {
      return true;
    }
    String detected = toCreate.getSpec() == null ? null : toCreate.getSpec().detectedAt();
    return (s.count() == null || s.count() == 1)
        && (s.firstSeen() == null || sameTime(s.firstSeen(), detected))
        && (s.lastSeen() == null || sameTime(s.lastSeen(), detected))
        && !Boolean.TRUE.equals(s.resolved())
        && s.resolvedAt() == null;
  }

  /**
   * {@code current} plus {@code wanted}, the status of sightings not yet counted, of which {@code
   * alreadyCounted} are counted by {@code current} already (1 for the creator of an Observation
   * whose implicit status counted its first sighting, 0 for a merge). Unresolves.
   */
  static ObservationStatus merge(
      ObservationStatus current, ObservationStatus wanted, long alreadyCounted) {
    long add = (wanted.count() == null ? 1 : wanted.count()) - alreadyCounted;
    return new ObservationStatus(
        current.count() + Math.max(0, add),
        min(current.firstSeen(), wanted.firstSeen()),
        max(current.lastSeen(), wanted.lastSeen()),
        Boolean.TRUE.equals(current.resolved()) ? Boolean.FALSE : current.resolved(),
        current.resolvedAt());
  }

  /** {@code delta} more sightings, the latest at {@code lastSeen} (null: unknown). */
  static ObservationStatus repeat(ObservationStatus current, long delta, Instant lastSeen) {
    return new ObservationStatus(
        current.count() + delta,
        current.firstSeen(),
        lastSeen == null ? current.lastSeen() : max(current.lastSeen(), lastSeen.toString()),
        current.resolved(),
        current.resolvedAt());
  }

  static ObservationStatus unresolve(ObservationStatus current) {
    if (!Boolean.TRUE.equals(current.resolved())) {
      return current;
    }
    return new ObservationStatus(
        current.count(), current.firstSeen(), current.lastSeen(), false, current.resolvedAt());
  }

  /** Resolved at {@code at}; one already resolved keeps its first resolvedAt. */
  static ObservationStatus resolve(ObservationStatus current, Instant at) {
    if (Boolean.TRUE.equals(current.resolved()) && current.resolvedAt() != null) {
      return current;
    }
    return new ObservationStatus(
        current.count(), current.firstSeen(), current.lastSeen(), true, at.toString());
  }

  static String min(String a, String b) {
    Instant ta = parse(a);
    Instant tb = parse(b);
    if (ta == null) {
      return tb == null ? a : b;
    }
    return tb == null || !tb.isBefore(ta) ? a : b;
  }

  static String max(String a, String b) {
    Instant ta = parse(a);
    Instant tb = parse(b);
    if (ta == null) {
      return tb == null ? a : b;
    }
    return tb == null || !tb.isAfter(ta) ? a : b;
  }

  private static boolean sameTime(String a, String b) {
    Instant ta = parse(a);
    return ta != null ? ta.equals(parse(b)) : Objects.equals(a, b);
  }

  /** RFC 3339 with any offset; null when absent or unparseable. */
  static Instant parse(String t) {
    if (t == null) {
      return null;
    }
    try {
      return OffsetDateTime.parse(t).toInstant();
    } catch (DateTimeException e) {
      try {
        return Instant.parse(t);
      } catch (DateTimeException e2) {
        return null;
      }
    }
  }
}
