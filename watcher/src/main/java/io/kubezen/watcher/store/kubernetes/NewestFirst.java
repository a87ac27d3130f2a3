package io.kubezen.watcher.store.kubernetes;

import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationQuery;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The read API's list ({@link io.kubezen.watcher.store.ObservationStore#list}) over the Observation
 * cache: newest first (creation time, then name, then namespace, as the SQL stores), filtered by
 * the query's fields, paged by a keyset token (the sort key of the page's last row, so that it
 * stays valid while Observations come and go). Pure: which rows; reading them whole is the store's.
 */
final class NewestFirst {
  /** Newest first; ties by name, then namespace. */
  static final Comparator<ObservationCache.Entry> ORDER =
      Comparator.comparingLong(ObservationCache.Entry::createdMillis)
          .reversed()
          .thenComparing(ObservationCache.Entry::name)
          .thenComparing(ObservationCache.Entry::namespace);

  private static final String VERSION = "k1";

  private NewestFirst() {}

  /** The rows of one page, and the token of the next page (null when none follows). */
  record Page(List<ObservationCache.Entry> rows, String continueToken) {}

  /** The key a token names: the last row of the previous page. */
  record After(long createdMillis, String name, String namespace) {
    int compareTo(ObservationCache.Entry e) {
      int c = Long.compare(e.createdMillis(), createdMillis); // newest first
      if (c != 0) {
        return c;
      }
      c = name.compareTo(e.name());
      return c != 0 ? c : namespace.compareTo(e.namespace());
    }

    String encode() {
      String raw = VERSION + ":" + createdMillis + ":" + name.length() + ":" + name + namespace;
      return Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    static After of(ObservationCache.Entry e) {
      return new After(e.createdMillis(), e.name(), e.namespace());
    }

    static After decode(String token) {
      try {
        String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        String[] parts = raw.split(":", 4);
        if (parts.length != 4 || !parts[0].equals(VERSION)) {
          throw new IllegalArgumentException("not a token of this list");
        }
        long created = Long.parseLong(parts[1]);
        int nameLength = Integer.parseInt(parts[2]);
        if (nameLength < 1 || nameLength > parts[3].length() - 1) {
          throw new IllegalArgumentException("bad name length");
        }
        return new After(
            created, parts[3].substring(0, nameLength), parts[3].substring(nameLength));
      } catch (IllegalArgumentException e) {
        throw new InvalidContinueTokenException(
            "invalid continue token (start the list again): " + e.getMessage());
      }
    }
  }

  /**
   * True when {@code token} is one of this list's (else the API server's, or not a token at all).
   */
  static boolean isToken(String token) {
    return token.startsWith(TOKEN_PREFIX);
  }

  /** How every token of this list begins: "k1:" in base64. */
  private static final String TOKEN_PREFIX =
      Base64.getUrlEncoder()
          .withoutPadding()
          .encodeToString((VERSION + ":").getBytes(StandardCharsets.UTF_8));

  /** True when {@code e} passes the query's filters (cluster aside: one cluster per store). */
  static boolean matches(ObservationQuery q, ObservationCache.Entry e) {
    return (q.source() == null || q.source().equals(e.source()))
        && (q.severity() == null || q.severity().equals(e.severity().wire()))
        && (q.category() == null
            || (e.category() != null && q.category().equals(e.category().wire())))
        && (q.namespace() == null || q.namespace().equals(e.namespace()))
        && (q.eventType() == null || q.eventType().equals(e.eventType()));
  }

  /** One page of {@code entries} for {@code q}: a scan and a bounded heap, no sort of the whole. */
  static Page page(Iterable<ObservationCache.Entry> entries, ObservationQuery q) {
    After after = q.continueToken() == null ? null : After.decode(q.continueToken());
    int keep = q.limit() + 1; // one more: does another page follow?
    PriorityQueue<ObservationCache.Entry> heap =
        new PriorityQueue<>(Math.min(keep, 1024), ORDER.reversed());
    for (ObservationCache.Entry e : entries) {
      if (!matches(q, e) || (after != null && after.compareTo(e) >= 0)) {
        continue;
      }
      if (heap.size() < keep) {
        heap.add(e);
      } else if (ORDER.compare(e, heap.peek()) < 0) {
        heap.poll();
        heap.add(e);
      }
    }
    List<ObservationCache.Entry> rows = new ArrayList<>(heap);
    rows.sort(ORDER);
    if (rows.size() <= q.limit()) {
      return new Page(rows, null);
    }
    rows = rows.subList(0, q.limit());
    return new Page(List.copyOf(rows), After.of(rows.get(rows.size() - 1)).encode());
  }
}
