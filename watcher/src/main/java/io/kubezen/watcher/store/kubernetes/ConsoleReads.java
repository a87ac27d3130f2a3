package io.kubezen.watcher.store.kubernetes;

import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import io.kubezen.watcher.store.GroupCount;
import io.kubezen.watcher.store.GroupField;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.RankedGroup;
import io.kubezen.watcher.store.SourceActivity;
import io.kubezen.watcher.store.TimeBucket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The console's reads ({@link io.kubezen.watcher.store.ObservationStore} "console reads") over the
 * entries of the {@link ObservationCache}: one scan of the in-memory entries per call, no API
 * server I/O. Pure: the same entries give the same answers. The semantics are those of the SQLite
 * store (same orders, same tie-breaks, same bucket rules); only the continue token's text differs.
 */
final class ConsoleReads {
  /** An absent status time. */
  static final long NONE = Long.MIN_VALUE;

  private ConsoleReads() {}

  /** RFC 3339 to epoch microseconds; {@link #NONE} when absent or unparseable. */
  static long micros(String rfc3339) {
    Instant t = rfc3339 == null ? null : Statuses.parse(rfc3339);
    return t == null ? NONE : micros(t);
  }

  private static final Instant MIN = Instant.parse("0001-01-01T00:00:00Z");
  private static final Instant MAX = Instant.parse("9999-12-31T23:59:59.999999Z");

  /**
   * Epoch microseconds; times outside 0001-01-01 .. 9999-12-31 are clamped to these bounds (as
   * SQLite does).
   */
  static long micros(Instant time) {
    Instant t = time.isBefore(MIN) ? MIN : time.isAfter(MAX) ? MAX : time;
    return Math.multiplyExact(t.getEpochSecond(), 1_000_000L) + t.getNano() / 1_000;
  }

  static Instant instant(long micros) {
    return Instant.EPOCH.plus(micros, ChronoUnit.MICROS);
  }

  // ---------------------------------------------------------------- filter

  static boolean matches(FindingFilter f, ObservationCache.Entry e, boolean withState) {
    if (f.source() != null && !f.source().equals(e.source())) {
      return false;
    }
    if (f.severity() != null && !f.severity().equals(e.severity().wire())) {
      return false;
    }
    if (f.category() != null
        && (e.category() == null || !f.category().equals(e.category().wire()))) {
      return false;
    }
    if (f.eventType() != null && !f.eventType().equals(e.eventType())) {
      return false;
    }
    if (f.namespace() != null && !f.namespace().equals(resourceNamespace(e))) {
      return false;
    }
    if (f.cluster() != null && !f.cluster().equals(e.clusterName())) {
      return false;
    }
    if (f.resourceKind() != null
        && (e.resource() == null || !f.resourceKind().equals(e.resource().kind()))) {
      return false;
    }
    if (f.resourceName() != null
        && (e.resource() == null || !f.resourceName().equals(e.resource().name()))) {
      return false;
    }
    if (withState) {
      switch (f.state()) {
        case OPEN -> {
          if (e.resolved()) {
            return false;
          }
        }
        case RESOLVED -> {
          if (!e.resolved()) {
            return false;
          }
        }
        case ALL -> {}
      }
    }
    if (!inRange(e.firstSeenMicros(), f.firstSeenFrom(), f.firstSeenTo())
        || !inRange(e.lastSeenMicros(), f.lastSeenFrom(), f.lastSeenTo())
        || (f.hasResolvedRange()
            && (!e.resolved() || !inRange(e.resolvedMicros(), f.resolvedFrom(), f.resolvedTo())))) {
      return false;
    }
    String needle = f.textNeedle();
    return needle == null || e.searchContains(needle);
  }

  private static boolean inRange(long v, Instant from, Instant to) {
    if (from == null && to == null) {
      return true;
    }
    if (v == NONE) {
      return false; // as SQL: a comparison with NULL is not true
    }
    return (from == null || v >= micros(from)) && (to == null || v < micros(to));
  }

  private static String resourceNamespace(ObservationCache.Entry e) {
    return e.resource() == null ? null : e.resource().namespace();
  }

  // ---------------------------------------------------------------- findings

  /** The key of the last row of a page. */
  record After(FindingSort sort, long k1, long k2, String namespace, String name) {
    private static final String VERSION = "k1";

    String encode() {
      String raw =
          VERSION
              + ":"
              + sort.ordinal()
              + ":"
              + k1
              + ":"
              + k2
              + ":"
              + namespace.length()
              + ":"
              + namespace
              + name;
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    static After decode(String token, FindingSort expected) {
      try {
        String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        String[] p = raw.split(":", 6);
        if (p.length != 6 || !VERSION.equals(p[0])) {
          throw new IllegalArgumentException("unknown layout");
        }
        if (Integer.parseInt(p[1]) != expected.ordinal()) {
          throw new IllegalArgumentException("it belongs to another sort order");
        }
        int nsLength = Integer.parseInt(p[4]);
        if (nsLength < 0 || nsLength > p[5].length()) {
          throw new IllegalArgumentException("bad namespace length");
        }
        return new After(
            expected,
            Long.parseLong(p[2]),
            Long.parseLong(p[3]),
            p[5].substring(0, nsLength),
            p[5].substring(nsLength));
      } catch (IllegalArgumentException e) { // includes NumberFormatException and bad base64
        throw new InvalidContinueTokenException("invalid continue token: " + e.getMessage());
      }
    }

    static After of(FindingSort sort, ObservationCache.Entry e) {
      return new After(sort, ConsoleReads.k1(sort, e), e.lastSeenMicros(), e.namespace(), e.name());
    }
  }

  static long k1(FindingSort sort, ObservationCache.Entry e) {
    return switch (sort) {
      case LAST_SEEN -> e.lastSeenMicros();
      case SEVERITY -> e.severity().rank();
      case COUNT -> e.count();
    };
  }

  /** Page order: first key descending, lastSeen descending, namespace, name ascending. */
  static int compare(
      FindingSort sort,
      long k1a,
      long k2a,
      String nsA,
      String nameA,
      long k1b,
      long k2b,
      String nsB,
      String nameB) {
    int c = Long.compare(k1b, k1a);
    if (c == 0 && sort != FindingSort.LAST_SEEN) {
      c = Long.compare(k2b, k2a);
    }
    if (c == 0) {
      c = nsA.compareTo(nsB);
    }
    return c != 0 ? c : nameA.compareTo(nameB);
  }

  static Comparator<ObservationCache.Entry> order(FindingSort sort) {
    return (a, b) ->
        compare(
            sort,
            k1(sort, a),
            a.lastSeenMicros(),
            a.namespace(),
            a.name(),
            k1(sort, b),
            b.lastSeenMicros(),
            b.namespace(),
            b.name());
  }

  /**
   * One keyset page: the {@code limit + 1} first matching entries after the token, kept in a
   * bounded heap (n log limit), not a sort of every match.
   */
  static ObservationPage findings(
      Iterable<ObservationCache.Entry> entries,
      FindingsQuery q,
      Function<ObservationCache.Entry, Observation> toObservation) {
    FindingSort sort = q.sort();
    After after = q.after() == null ? null : After.decode(q.after(), sort);
    Comparator<ObservationCache.Entry> order = order(sort);
    int keep = q.limit() + 1;
    PriorityQueue<ObservationCache.Entry> heap =
        new PriorityQueue<>(Math.min(keep, 1024), order.reversed());
    for (ObservationCache.Entry e : entries) {
      if (after != null
          && compare(
                  sort,
                  k1(sort, e),
                  e.lastSeenMicros(),
                  e.namespace(),
                  e.name(),
                  after.k1(),
                  after.k2(),
                  after.namespace(),
                  after.name())
              <= 0) {
        continue;
      }
      if (!matches(q.filter(), e, true)) {
        continue;
      }
      if (heap.size() < keep) {
        heap.add(e);
      } else if (order.compare(e, heap.peek()) < 0) {
        heap.poll();
        heap.add(e);
      }
    }
    List<ObservationCache.Entry> rows = new ArrayList<>(heap);
    rows.sort(order);
    boolean more = rows.size() > q.limit();
    if (more) {
      rows = rows.subList(0, q.limit());
    }
    List<Observation> items = new ArrayList<>(rows.size());
    for (ObservationCache.Entry e : rows) {
      items.add(toObservation.apply(e));
    }
    String token = more ? After.of(sort, rows.get(rows.size() - 1)).encode() : null;
    return new ObservationPage(items, token);
  }

  // ---------------------------------------------------------------- aggregates

  static String value(GroupField f, ObservationCache.Entry e) {
    return switch (f) {
      case SOURCE -> e.source();
      case SEVERITY -> e.severity().wire();
      case CATEGORY -> e.category() == null ? null : e.category().wire();
      case EVENT_TYPE -> e.eventType();
      case NAMESPACE -> resourceNamespace(e);
      case CLUSTER -> e.clusterName();
      case RESOLVED -> e.resolved() ? "true" : "false";
    };
  }

  /** Null first, then natural order. */
  static int compareNullsFirst(String a, String b) {
    if (a == null || b == null) {
      return a == null ? (b == null ? 0 : -1) : 1;
    }
    return a.compareTo(b);
  }

  private static int compareKeys(List<String> a, List<String> b) {
    for (int i = 0; i < a.size(); i++) {
      int c = compareNullsFirst(a.get(i), b.get(i));
      if (c != 0) {
        return c;
      }
    }
    return 0;
  }

  static List<GroupCount> countBy(
      Iterable<ObservationCache.Entry> entries, FindingFilter filter, List<GroupField> fields) {
    if (fields.isEmpty()
        || fields.size() > 3
        || fields.stream().distinct().count() != fields.size()) {
      throw new IllegalArgumentException("group by one to three distinct fields: " + fields);
    }
    Map<List<String>, long[]> counts = new HashMap<>();
    for (ObservationCache.Entry e : entries) {
      if (!matches(filter, e, true)) {
        continue;
      }
      String[] key = new String[fields.size()];
      for (int i = 0; i < key.length; i++) {
        key[i] = value(fields.get(i), e);
      }
      counts.computeIfAbsent(Arrays.asList(key), k -> new long[1])[0]++;
    }
    List<GroupCount> out = new ArrayList<>(counts.size());
    counts.forEach((k, n) -> out.add(new GroupCount(k, n[0])));
    out.sort(
        Comparator.comparingLong(GroupCount::count)
            .reversed()
            .thenComparing((a, b) -> compareKeys(a.key(), b.key())));
    return out;
  }

  static List<RankedGroup> topByCriticalHigh(
      Iterable<ObservationCache.Entry> entries,
      FindingFilter filter,
      RankedGroup.By by,
      int limit) {
    if (limit < 1 || limit > ObservationQuery.MAX_LIMIT) {
      throw new IllegalArgumentException(
          "limit must be between 1 and " + ObservationQuery.MAX_LIMIT + ": " + limit);
    }
    Map<List<String>, long[]> groups = new HashMap<>(); // critical, high, total
    for (ObservationCache.Entry e : entries) {
      if (!matches(filter, e, true)) {
        continue;
      }
      String ns = resourceNamespace(e);
      List<String> key;
      if (by == RankedGroup.By.NAMESPACE) {
        if (ns == null) {
          continue;
        }
        key = Arrays.asList(ns, null, null);
      } else {
        if (e.resource() == null || e.resource().name() == null) {
          continue;
        }
        key = Arrays.asList(ns, e.resource().kind(), e.resource().name());
      }
      long[] c = groups.computeIfAbsent(key, k -> new long[3]);
      switch (e.severity()) {
        case CRITICAL -> c[0]++;
        case HIGH -> c[1]++;
        default -> {}
      }
      c[2]++;
    }
    List<RankedGroup> out = new ArrayList<>();
    groups.forEach(
        (k, c) -> {
          if (c[0] + c[1] > 0) {
            out.add(new RankedGroup(k.get(0), k.get(1), k.get(2), c[0], c[1], c[2]));
          }
        });
    out.sort(
        Comparator.comparingLong(RankedGroup::critical)
            .reversed()
            .thenComparing(Comparator.comparingLong(RankedGroup::high).reversed())
            .thenComparing((a, b) -> compareNullsFirst(a.namespace(), b.namespace()))
            .thenComparing((a, b) -> compareNullsFirst(a.kind(), b.kind()))
            .thenComparing((a, b) -> compareNullsFirst(a.name(), b.name())));
    return out.size() > limit ? List.copyOf(out.subList(0, limit)) : out;
  }

  static List<TimeBucket> timeline(
      Iterable<ObservationCache.Entry> entries,
      FindingFilter filter,
      Instant from,
      Instant to,
      Duration width) {
    long fromMicros = micros(from);
    long toMicros = micros(to);
    long widthMicros = width.toNanos() / 1000;
    if (widthMicros <= 0 || toMicros <= fromMicros) {
      throw new IllegalArgumentException("timeline needs from < to and a positive width");
    }
    long n = (toMicros - fromMicros + widthMicros - 1) / widthMicros;
    if (n > 1000) {
      throw new IllegalArgumentException("timeline of " + n + " buckets: at most 1000");
    }
    long[] opened = new long[(int) n];
    long[] resolved = new long[(int) n];
    for (ObservationCache.Entry e : entries) {
      long first = e.firstSeenMicros();
      boolean openedIn = first != NONE && first >= fromMicros && first < toMicros;
      long res = e.resolvedMicros();
      boolean resolvedIn = e.resolved() && res != NONE && res >= fromMicros && res < toMicros;
      if ((openedIn || resolvedIn) && matches(filter, e, false)) {
        if (openedIn) {
          opened[(int) ((first - fromMicros) / widthMicros)]++;
        }
        if (resolvedIn) {
          resolved[(int) ((res - fromMicros) / widthMicros)]++;
        }
      }
    }
    List<TimeBucket> out = new ArrayList<>((int) n);
    for (int i = 0; i < n; i++) {
      out.add(new TimeBucket(instant(fromMicros + i * widthMicros), opened[i], resolved[i]));
    }
    return out;
  }

  static List<SourceActivity> sourceActivity(
      Iterable<ObservationCache.Entry> entries, FindingFilter filter) {
    Map<String, long[]> bySource = new TreeMap<>(); // lastSeen, open, total
    for (ObservationCache.Entry e : entries) {
      if (e.source() == null || !matches(filter, e, true)) {
        continue;
      }
      long[] a = bySource.computeIfAbsent(e.source(), s -> new long[] {NONE, 0, 0});
      a[0] = Math.max(a[0], e.lastSeenMicros());
      a[1] += e.resolved() ? 0 : 1;
      a[2]++;
    }
    List<SourceActivity> out = new ArrayList<>(bySource.size());
    bySource.forEach(
        (s, a) -> out.add(new SourceActivity(s, a[0] == NONE ? null : instant(a[0]), a[1], a[2])));
    return out;
  }
}
