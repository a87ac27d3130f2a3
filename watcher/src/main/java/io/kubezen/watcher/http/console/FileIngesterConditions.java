package io.kubezen.watcher.http.console;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The Ready condition of the Ingesters declared in {@code INGESTERS_DIR} (standalone), from what
 * the directory loader reports: a served one is {@code True / Valid} ("serving /ingest/<path>"), a
 * skipped one {@code False / InvalidSpec} with its problems. Nothing of the loader's classes is
 * used: it is read through three functions. The loader keeps no transition times, so {@code since}
 * is when this adapter first saw the Ingester in its state; {@link #conditions} is cheap and can be
 * called at the loader's poll interval to keep that close.
 */
public final class FileIngesterConditions implements IngesterConditions {
  private final Clock clock;
  private final Supplier<Set<String>> served;
  private final Supplier<Map<String, List<String>>> problems;
  private final Function<String, Optional<Served>> routeOf;

  /** What the console needs of a served Ingester's route: its webhook path and its source name. */
  public record Served(String path, String source) {}

  private final Map<String, Map.Entry<String, Instant>> seen = new HashMap<>();

  /**
   * @param served the keys of the Ingesters served now
   * @param problems the keys of the skipped ones, with their problems
   * @param routeOf an Ingester's route (webhook path and source), if it has one
   */
  public FileIngesterConditions(
      Clock clock,
      Supplier<Set<String>> served,
      Supplier<Map<String, List<String>>> problems,
      Function<String, Optional<Served>> routeOf) {
    this.clock = clock;
    this.served = served;
    this.problems = problems;
    this.routeOf = routeOf;
  }

  @Override
  public synchronized List<Condition> conditions() {
    Instant now = clock.instant();
    Set<String> ok = new TreeSet<>(served.get());
    Map<String, List<String>> bad = problems.get();
    List<Condition> out = new ArrayList<>();
    for (String key : ok) {
      Optional<Served> route = routeOf.apply(key);
      out.add(
          new Condition(
              key,
              "file",
              "webhook",
              route.map(Served::source).orElse(null),
              "True",
              "Valid",
              route.map(r -> "serving /ingest/" + r.path()).orElse("serving its webhook"),
              since(key, "True", now)));
    }
    for (String key : new TreeSet<>(bad.keySet())) {
      if (!ok.contains(key)) {
        out.add(
            new Condition(
                key,
                "file",
                null,
                null,
                "False",
                "InvalidSpec",
                String.join("; ", bad.get(key)),
                since(key, "False", now)));
      }
    }
    seen.keySet().retainAll(new java.util.HashSet<>(out.stream().map(Condition::name).toList()));
    return out;
  }

  private Instant since(String key, String status, Instant now) {
    Map.Entry<String, Instant> e = seen.get(key);
    if (e == null || !e.getKey().equals(status)) {
      e = Map.entry(status, now);
      seen.put(key, e);
    }
    return e.getValue();
  }
}
