package io.kubezen.watcher.http.console;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.store.FindingFilter;
import io.kubezen.watcher.store.FindingSort;
import io.kubezen.watcher.store.FindingsQuery;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The console's filter state, as it lives in the URL: every link and form of the console is built
 * from one of these, so a link can be shared, reloaded and gone back to. Pure.
 *
 * <p>Parameters: {@code source}, {@code severity}, {@code category}, {@code eventType}, {@code
 * namespace}, {@code cluster}, {@code kind}, {@code resource}, {@code state} (open|resolved|all,
 * default open), {@code since} (24h|7d|30d: last seen within), {@code firstFrom}, {@code firstTo},
 * {@code lastFrom}, {@code lastTo}, {@code resolvedFrom}, {@code resolvedTo} (a UTC time, {@code
 * 2026-12-01T10:00} or RFC 3339; a resolved range keeps only findings resolved in it), {@code q}
 * (free text), {@code sort} (last-seen|severity|count), {@code after} (page token), {@code limit}
 * (1..1000, default 50).
 */
public record ConsoleQuery(Map<String, String> params) {
  public static final List<String> KEYS =
      List.of(
          "source",
          "severity",
          "category",
          "eventType",
          "namespace",
          "cluster",
          "kind",
          "resource",
          "state",
          "since",
          "firstFrom",
          "firstTo",
          "lastFrom",
          "lastTo",
          "resolvedFrom",
          "resolvedTo",
          "q",
          "sort",
          "after",
          "limit");
  public static final int DEFAULT_LIMIT = 50;

  /** The presets of {@code since}. */
  public static final Map<String, Duration> SINCE =
      ordered("24h", Duration.ofHours(24), "7d", Duration.ofDays(7), "30d", Duration.ofDays(30));

  public ConsoleQuery {
    Map<String, String> copy = new LinkedHashMap<>();
    for (String k : KEYS) {
      String v = params.get(k);
      if (v != null && !v.isBlank()) {
        copy.put(k, v.strip());
      }
    }
    params = Collections.unmodifiableMap(copy);
  }

  public static final ConsoleQuery EMPTY = new ConsoleQuery(Map.of());

  /** From request parameters (the first value of each); unknown names are ignored. */
  public static ConsoleQuery parse(Function<String, String> param) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String k : KEYS) {
      String v = param.apply(k);
      if (v != null) {
        m.put(k, v);
      }
    }
    ConsoleQuery q = new ConsoleQuery(m);
    q.validate();
    return q;
  }

  public String get(String key) {
    return params.get(key);
  }

  /** "" when absent: for form fields. */
  public String value(String key) {
    String v = params.get(key);
    return v == null ? "" : v;
  }

  public boolean is(String key, String value) {
    return value.equals(params.get(key))
        || (key.equals("state") && value.equals("open") && !params.containsKey(key))
        || (key.equals("sort") && value.equals("last-seen") && !params.containsKey(key));
  }

  /**
   * The same query with {@code key} set (null or "" removes it); any other change drops the page
   * token.
   */
  public ConsoleQuery with(String key, String value) {
    Map<String, String> m = new LinkedHashMap<>(params);
    if (!key.equals("after")) {
      m.remove("after");
    }
    if (value == null || value.isBlank()) {
      m.remove(key);
    } else {
      m.put(key, value);
    }
    return new ConsoleQuery(m);
  }

  /** {@code ?a=b&c=d}, or "" for none. */
  public String queryString() {
    StringBuilder b = new StringBuilder();
    params.forEach(
        (k, v) ->
            b.append(b.isEmpty() ? "?" : "&")
                .append(k)
                .append('=')
                .append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
    return b.toString();
  }

  /** The findings list with this filter. */
  public String findingsUrl() {
    return "/findings" + queryString();
  }

  /** Throws IllegalArgumentException naming the parameter and what it accepts. */
  public void validate() {
    String sev = get("severity");
    if (sev != null && Severity.parse(sev).isEmpty()) {
      throw new IllegalArgumentException(
          "severity must be one of critical, high, medium, low, info");
    }
    String cat = get("category");
    if (cat != null && Category.parse(cat).isEmpty()) {
      throw new IllegalArgumentException(
          "category must be one of security, compliance, performance, operations, cost");
    }
    state();
    String sort = get("sort");
    if (sort != null && FindingSort.parse(sort).isEmpty()) {
      throw new IllegalArgumentException("sort must be one of last-seen, severity, count");
    }
    String since = get("since");
    if (since != null && !SINCE.containsKey(since)) {
      throw new IllegalArgumentException("since must be one of 24h, 7d, 30d");
    }
    for (String k :
        List.of("firstFrom", "firstTo", "lastFrom", "lastTo", "resolvedFrom", "resolvedTo")) {
      time(k);
    }
    limit();
  }

  public FindingFilter.State state() {
    String s = get("state");
    if (s == null) {
      return FindingFilter.State.OPEN;
    }
    return switch (s) {
      case "open" -> FindingFilter.State.OPEN;
      case "resolved" -> FindingFilter.State.RESOLVED;
      case "all" -> FindingFilter.State.ALL;
      default -> throw new IllegalArgumentException("state must be one of open, resolved, all");
    };
  }

  public int limit() {
    String l = get("limit");
    if (l == null) {
      return DEFAULT_LIMIT;
    }
    try {
      int n = Integer.parseInt(l);
      if (n >= 1 && n <= 1000) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException("limit must be a whole number from 1 to 1000");
  }

  Instant time(String key) {
    String v = get(key);
    if (v == null) {
      return null;
    }
    try {
      return Instant.parse(v);
    } catch (DateTimeParseException e) {
      try {
        return LocalDateTime.parse(v).toInstant(ZoneOffset.UTC);
      } catch (DateTimeParseException e2) {
        throw new IllegalArgumentException(
            key + " must be a UTC time such as 2026-12-01T10:00 or an RFC 3339 time");
      }
    }
  }

  public FindingSort sort() {
    return FindingSort.parse(get("sort")).orElse(FindingSort.LAST_SEEN);
  }

  /** The store filter; {@code since} is counted back from {@code now}. */
  public FindingFilter filter(Instant now) {
    Instant lastFrom = time("lastFrom");
    String since = get("since");
    if (since != null) {
      Instant s = now.minus(SINCE.get(since));
      lastFrom = lastFrom == null || s.isAfter(lastFrom) ? s : lastFrom;
    }
    String sev = get("severity");
    String cat = get("category");
    return new FindingFilter(
        get("source"),
        sev == null ? null : Severity.parse(sev).get().wire(),
        cat == null ? null : Category.parse(cat).get().wire(),
        get("eventType"),
        get("namespace"),
        get("cluster"),
        get("kind"),
        get("resource"),
        state(),
        time("firstFrom"),
        time("firstTo"),
        lastFrom,
        time("lastTo"),
        get("q"),
        time("resolvedFrom"),
        time("resolvedTo"));
  }

  public FindingsQuery page(Instant now) {
    return new FindingsQuery(filter(now), sort(), limit(), get("after"));
  }

  /** True when the query filters on anything but the default open state. */
  public boolean filtered() {
    return params.keySet().stream()
        .anyMatch(k -> !k.equals("sort") && !k.equals("after") && !k.equals("limit"));
  }

  private static Map<String, Duration> ordered(Object... kv) {
    Map<String, Duration> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], (Duration) kv[i + 1]);
    }
    return Collections.unmodifiableMap(m);
  }
}
