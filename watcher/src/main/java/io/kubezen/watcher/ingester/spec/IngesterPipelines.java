package io.kubezen.watcher.ingester.spec;

import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Makes the pipeline of one Ingester: the program's global filter followed by the Ingester's own,
 * and an {@link ObservationFactory} whose time bucket is the Ingester's dedup window; the dedup
 * cache, the writer and the metrics are the program's. A window longer than the global one stays
 * correct: a repeat that outlives the cache entry goes to the store, whose create merges it into
 * the Observation of the same bucket (one more write, no duplicate).
 */
public final class IngesterPipelines {
  private final Supplier<Filter> globalFilter;
  private final Deduplicator dedup;
  private final ObservationWriter writer;
  private final Metrics metrics;
  private final ObservationFactory factory;
  private final Duration defaultWindow;

  /**
   * @param factory the program's Observation factory (namespace placement, TTL, cluster name); each
   *     Ingester's is this one with the Ingester's dedup window
   */
  public IngesterPipelines(
      Supplier<Filter> globalFilter,
      Deduplicator dedup,
      ObservationWriter writer,
      Metrics metrics,
      ObservationFactory factory,
      Duration defaultWindow) {
    this.globalFilter = globalFilter;
    this.dedup = dedup;
    this.writer = writer;
    this.metrics = metrics;
    this.factory = factory;
    this.defaultWindow = defaultWindow;
  }

  /** The pipeline of one Ingester. */
  public Pipeline create(IngesterDefinition d) {
    Duration window = d.dedupWindow() != null ? d.dedupWindow() : defaultWindow;
    Filter own = d.filter() == null ? Filter.ALLOW_ALL : d.filter();
    Supplier<Filter> filter =
        own.allowsAll() ? globalFilter : () -> globalFilter.get().andThen(own);
    return new Pipeline(filter, factory.withDedupWindow(window), dedup, writer, metrics);
  }
}
