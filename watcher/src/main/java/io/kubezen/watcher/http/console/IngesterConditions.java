package io.kubezen.watcher.http.console;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * What the console's sources page shows of the Ingesters: each one's Ready condition, read-only.
 * Implemented by small adapters over whatever keeps the Ingesters ({@link FileIngesterConditions}
 * for {@code INGESTERS_DIR}, {@link KubeIngesterConditions} for the Ingester resources); the
 * console depends on nothing else of theirs. Called off the event loop; may block briefly.
 */
public interface IngesterConditions {

  /**
   * One Ingester's Ready condition.
   *
   * @param name {@code namespace/name}, or {@code file#document (name)} for a file-defined one
   * @param origin where it is declared: {@code cluster} or {@code file}
   * @param type {@code webhook} or {@code informer} (null when its spec does not say)
   * @param source the source name of its Observations (null when unknown)
   * @param status {@code True}, {@code False} or {@code Unknown}
   * @param reason the condition's reason ({@code Valid}, {@code InvalidSpec}, …)
   * @param message what it says, for a person
   * @param since when the condition last changed (null when unknown)
   */
  record Condition(
      String name,
      String origin,
      String type,
      String source,
      String status,
      String reason,
      String message,
      Instant since) {}

  /** The Ingesters' conditions now, in a stable order. */
  List<Condition> conditions();

  /** No Ingesters. */
  IngesterConditions NONE = List::of;

  /** The conditions of several, one after the other. */
  static IngesterConditions of(List<IngesterConditions> all) {
    List<IngesterConditions> copy = List.copyOf(all);
    return () -> {
      List<Condition> out = new ArrayList<>();
      for (IngesterConditions c : copy) {
        out.addAll(c.conditions());
      }
      return out;
    };
  }
}
