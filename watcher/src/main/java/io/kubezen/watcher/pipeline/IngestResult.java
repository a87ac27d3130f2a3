package io.kubezen.watcher.pipeline;

/**
 * What one ingested input gave: {@code accepted} findings, of which {@code created} became new
 * Observations, {@code aggregated} were merged into existing ones, {@code filtered} were dropped by
 * the filter, and {@code shed} were new findings the store refused to keep at its cap ({@code
 * MAX_OBSERVATIONS}, nothing of a lower severity to evict): {@code accepted = created + aggregated
 * + filtered + shed}.
 */
public record IngestResult(int accepted, int created, int aggregated, int filtered, int shed) {

  public IngestResult(int accepted, int created, int aggregated, int filtered) {
    this(accepted, created, aggregated, filtered, 0);
  }
}
