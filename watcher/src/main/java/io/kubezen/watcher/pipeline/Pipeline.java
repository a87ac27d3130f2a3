package io.kubezen.watcher.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.pipeline.ObservationFactory.Placement;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Decision;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.WriteOutcome;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The path of every input, whatever adapter brought it (HTTP or informer): normalize, filter,
 * dedup/aggregate, write. The returned future completes only when every resulting Observation is in
 * the store (created, or merged into an existing one): an acknowledged input is never lost.
 */
public final class Pipeline {
  private final Supplier<Filter> filter;
  private final ObservationFactory factory;
  private final Deduplicator dedup;
  private final ObservationWriter writer;
  private final Metrics metrics;

  public Pipeline(
      Supplier<Filter> filter,
      ObservationFactory factory,
      Deduplicator dedup,
      ObservationWriter writer,
      Metrics metrics) {
    this.filter = filter;
    this.factory = factory;
    this.dedup = dedup;
    this.writer = writer;
    this.metrics = metrics;
  }

  /**
   * @throws io.kubezen.watcher.source.InvalidInputException when the input is not of the source's
   *     shape
   * @throws ObservationWriter.OverloadedException when the write queue has no room (nothing was
   *     taken)
   */
  public CompletableFuture<IngestResult> ingest(
      Normalizer normalizer, JsonNode input, IngestContext context) {
    return process(normalizer, normalizer.normalize(input, context));
  }

  /** The same for findings already normalized. */
  public CompletableFuture<IngestResult> process(Normalizer normalizer, List<Finding> findings) {
    Filter current = filter.get();
    String source = normalizer.source();
    List<ObservationWriter.Create> creates = new ArrayList<>();
    List<CompletableFuture<?>> waits = new ArrayList<>();
    List<CompletableFuture<?>> bookkeeping = new ArrayList<>();
    List<Runnable> rollbacks = new ArrayList<>();
    int filtered = 0;
    int repeats = 0;
    for (Finding f : findings) {
      if (!passes(current, source, f)) {
        filtered++;
        continue;
      }
      Placement p = factory.place(f, normalizer.kind());
      Deduplicator.Admission admission =
          dedup.admit(p.fingerprint(), p.namespace(), p.name(), f.detectedAt());
      Deduplicator.Entry entry = admission.entry();
      if (admission instanceof Deduplicator.First) {
        ObservationWriter.Create create = ObservationWriter.Create.of(factory.build(f, p));
        // The answer waits for this bookkeeping too: a sender's next request sees the dedup state.
        bookkeeping.add(
            create
                .result()
                .whenComplete(
                    (outcome, error) -> {
                      if (error != null) {
                        metrics.createErrors(source, 1);
                        dedup.failed(p.fingerprint(), entry, error);
                      } else {
                        if (outcome == WriteOutcome.MISSING) {
                          // Refused at the store's cap (counted there as shed): forget it, so that
                          // a later
                          // sighting tries again and no repeat is counted against an Observation
                          // that is not.
                          dedup.discard(p.fingerprint(), entry);
                          return;
                        }
                        if (outcome == WriteOutcome.CREATED) {
                          metrics.observationCreated(source, f.category(), f.severity());
                        } else {
                          metrics.deduped(source);
                        }
                        dedup.stored(entry);
                      }
                    }));
        creates.add(create);
        rollbacks.add(
            () ->
                dedup.failed(
                    p.fingerprint(),
                    entry,
                    new ObservationWriter.OverloadedException("not queued")));
      } else {
        repeats++;
        metrics.deduped(source);
        if (writer.durableRepeats()) {
          // Durable repeats: answered once the count is committed (the first sighting first).
          waits.add(entry.stored().thenCompose(v -> writer.repeatCommitted()));
        } else if (!entry.stored().isDone() || entry.stored().isCompletedExceptionally()) {
          waits.add(entry.stored());
        }
      }
    }
    try {
      writer.submit(creates);
    } catch (ObservationWriter.OverloadedException e) {
      rollbacks.forEach(Runnable::run);
      throw e;
    }
    int accepted = findings.size();
    int filteredCount = filtered;
    int repeatCount = repeats;
    waits.addAll(bookkeeping);
    if (waits.isEmpty()) {
      return CompletableFuture.completedFuture(
          new IngestResult(accepted, 0, repeatCount, filteredCount));
    }
    return CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new))
        .thenApply(
            done -> {
              int created = 0;
              int shed = 0;
              for (ObservationWriter.Create c : creates) {
                WriteOutcome o = c.result().join();
                if (o == WriteOutcome.CREATED) {
                  created++;
                } else if (o == WriteOutcome.MISSING) {
                  shed++;
                }
              }
              return new IngestResult(
                  accepted,
                  created,
                  accepted - filteredCount - created - shed,
                  filteredCount,
                  shed);
            });
  }

  /**
   * What reconciling a watched object gave: Observations {@code created} and {@code existing}, and
   * {@code current}, the keys of all Observations its findings map to now (to resolve the others).
   */
  public record ReconcileResult(
      int created, int existing, int filtered, List<ObservationKey> current) {}

  /**
   * Reconciles the findings of one watched object (a report, a ConfigMap): creates the Observations
   * missing for them and leaves existing ones alone, so that re-listing creates and counts nothing
   * twice. No dedup cache and no repeat counting: the store's create-if-absent is the dedup. The
   * Observations are labelled with {@code originUid}.
   *
   * @throws ObservationWriter.OverloadedException when the write queue has no room (nothing was
   *     taken)
   */
  public CompletableFuture<ReconcileResult> reconcile(
      Normalizer normalizer, List<Finding> findings, String originUid) {
    Filter current = filter.get();
    String source = normalizer.source();
    Map<ObservationKey, ObservationWriter.Create> creates = new LinkedHashMap<>();
    int filtered = 0;
    for (Finding f : findings) {
      if (!passes(current, source, f)) {
        filtered++;
        continue;
      }
      Placement p = factory.place(f, normalizer.kind());
      creates.putIfAbsent(
          new ObservationKey(p.namespace(), p.name()),
          ObservationWriter.Create.ifAbsent(factory.build(f, p, originUid)));
    }
    List<ObservationWriter.Create> list = new ArrayList<>(creates.values());
    writer.submit(list);
    int filteredCount = filtered;
    List<ObservationKey> keys = List.copyOf(creates.keySet());
    return CompletableFuture.allOf(
            list.stream().map(ObservationWriter.Create::result).toArray(CompletableFuture[]::new))
        .handle(
            (done, error) -> {
              int created = 0;
              for (ObservationWriter.Create c : list) {
                WriteOutcome o = c.result().isCompletedExceptionally() ? null : c.result().join();
                if (o == WriteOutcome.CREATED) {
                  created++;
                  metrics.observationCreated(
                      source,
                      c.observation().getSpec().category(),
                      c.observation().getSpec().severity());
                } else if (c.result().isCompletedExceptionally()) {
                  metrics.createErrors(source, 1);
                }
              }
              if (error != null) {
                throw error instanceof java.util.concurrent.CompletionException ce
                    ? ce
                    : new java.util.concurrent.CompletionException(error);
              }
              return new ReconcileResult(created, list.size() - created, filteredCount, keys);
            });
  }

  /**
   * The keys of the Observations {@link #reconcile} would keep for these findings (the filter
   * applied, nothing counted, nothing written): what a warm standby remembers of each watched
   * object.
   */
  public List<ObservationKey> keys(Normalizer normalizer, List<Finding> findings) {
    Filter current = filter.get();
    List<ObservationKey> out = new ArrayList<>(findings.size());
    for (Finding f : findings) {
      if (current.apply(f).kept()) {
        Placement p = factory.place(f, normalizer.kind());
        out.add(new ObservationKey(p.namespace(), p.name()));
      }
    }
    return out;
  }

  /** Places left in the write queue, for the work that waits for room before it reads. */
  public int writeRoom() {
    return writer.room();
  }

  /** The write queue's capacity. */
  public int writeCapacity() {
    return writer.capacity();
  }

  /**
   * Resolves, through the writer (queued after the creates before it), the unresolved Observations
   * of the watched object {@code originUid} that are not in {@code keep}.
   */
  public CompletableFuture<Integer> resolveOrigin(
      String originUid, java.util.Set<ObservationKey> keep, java.time.Instant at) {
    return writer.resolveOrigin(originUid, keep, at);
  }

  /** The keys of the unresolved Observations of the watched object {@code originUid} (a read). */
  public List<ObservationKey> openKeys(String originUid) {
    return writer.openKeys(originUid);
  }

  /**
   * Counts the finding, applies the filter, and counts a drop or an expression error; true when
   * kept.
   */
  private boolean passes(Filter current, String source, Finding f) {
    metrics.event(source, f.severity());
    Decision decision = current.apply(f);
    if (decision.expressionError()) {
      metrics.filterExpressionError(source);
    }
    if (!decision.kept()) {
      metrics.filtered(source, decision.reason().wire());
      return false;
    }
    return true;
  }
}
