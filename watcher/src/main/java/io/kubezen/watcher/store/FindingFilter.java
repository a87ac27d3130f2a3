package io.kubezen.watcher.store;

import java.time.Instant;
import java.util.Locale;

/**
 * The console's filter over Observations. A null field does not filter; all given fields must match
 * (AND).
 *
 * @param source {@code spec.source}, exactly
 * @param severity {@code spec.severity} wire form (critical, high, ...)
 * @param category {@code spec.category} wire form
 * @param eventType {@code spec.eventType}, exactly
 * @param namespace the namespace of the finding's resource ({@code spec.resource.namespace}),
 *     exactly; not the namespace the Observation is stored in
 * @param cluster {@code spec.clusterName}, exactly
 * @param resourceKind {@code spec.resource.kind}, exactly
 * @param resourceName {@code spec.resource.name}, exactly
 * @param state open ({@code status.resolved} not true), resolved, or both (null or ALL)
 * @param firstSeenFrom {@code status.firstSeen >= firstSeenFrom}
 * @param firstSeenTo {@code status.firstSeen < firstSeenTo}
 * @param lastSeenFrom {@code status.lastSeen >= lastSeenFrom}
 * @param lastSeenTo {@code status.lastSeen < lastSeenTo}
 * @param text free text: a case-insensitive substring of the title, the resource name, or the
 *     details {@link SearchText#DETAIL_KEYS} (rule, policy, CVE id, check id); see {@link
 *     SearchText}
 * @param resolvedFrom resolved, {@code status.resolvedAt >= resolvedFrom} (an open one never
 *     matches a resolved range)
 * @param resolvedTo resolved, {@code status.resolvedAt < resolvedTo}
 */
public record FindingFilter(
    String source,
    String severity,
    String category,
    String eventType,
    String namespace,
    String cluster,
    String resourceKind,
    String resourceName,
    State state,
    Instant firstSeenFrom,
    Instant firstSeenTo,
    Instant lastSeenFrom,
    Instant lastSeenTo,
    String text,
    Instant resolvedFrom,
    Instant resolvedTo) {

  /** Open, resolved or both. */
  public enum State {
    ALL,
    OPEN,
    RESOLVED;

    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Every Observation. */
  public static final FindingFilter NONE =
      new FindingFilter(
          null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
          null);

  /** Every open Observation. */
  public static final FindingFilter OPEN = NONE.withState(State.OPEN);

  public FindingFilter {
    source = blankToNull(source);
    severity = blankToNull(severity);
    category = blankToNull(category);
    eventType = blankToNull(eventType);
    namespace = blankToNull(namespace);
    cluster = blankToNull(cluster);
    resourceKind = blankToNull(resourceKind);
    resourceName = blankToNull(resourceName);
    state = state == null ? State.ALL : state;
    text = blankToNull(text);
  }

  /** Without a resolved range. */
  public FindingFilter(
      String source,
      String severity,
      String category,
      String eventType,
      String namespace,
      String cluster,
      String resourceKind,
      String resourceName,
      State state,
      Instant firstSeenFrom,
      Instant firstSeenTo,
      Instant lastSeenFrom,
      Instant lastSeenTo,
      String text) {
    this(
        source,
        severity,
        category,
        eventType,
        namespace,
        cluster,
        resourceKind,
        resourceName,
        state,
        firstSeenFrom,
        firstSeenTo,
        lastSeenFrom,
        lastSeenTo,
        text,
        null,
        null);
  }

  /** True when it has a resolved-at range. */
  public boolean hasResolvedRange() {
    return resolvedFrom != null || resolvedTo != null;
  }

  /** The same, resolved within [from, to) (either may be null). */
  public FindingFilter withResolvedBetween(Instant from, Instant to) {
    return new FindingFilter(
        source,
        severity,
        category,
        eventType,
        namespace,
        cluster,
        resourceKind,
        resourceName,
        state,
        firstSeenFrom,
        firstSeenTo,
        lastSeenFrom,
        lastSeenTo,
        text,
        from,
        to);
  }

  public FindingFilter withState(State s) {
    return new FindingFilter(
        source,
        severity,
        category,
        eventType,
        namespace,
        cluster,
        resourceKind,
        resourceName,
        s,
        firstSeenFrom,
        firstSeenTo,
        lastSeenFrom,
        lastSeenTo,
        text,
        resolvedFrom,
        resolvedTo);
  }

  public FindingFilter withSeverity(String s) {
    return new FindingFilter(
        source,
        s,
        category,
        eventType,
        namespace,
        cluster,
        resourceKind,
        resourceName,
        state,
        firstSeenFrom,
        firstSeenTo,
        lastSeenFrom,
        lastSeenTo,
        text,
        resolvedFrom,
        resolvedTo);
  }

  public FindingFilter withResource(String kind, String ns, String name) {
    return new FindingFilter(
        source,
        severity,
        category,
        eventType,
        ns,
        cluster,
        kind,
        name,
        state,
        firstSeenFrom,
        firstSeenTo,
        lastSeenFrom,
        lastSeenTo,
        text,
        resolvedFrom,
        resolvedTo);
  }

  /** The free text, lower-cased, as stored in the search column; null for none. */
  public String textNeedle() {
    return text == null ? null : text.toLowerCase(Locale.ROOT);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }
}
