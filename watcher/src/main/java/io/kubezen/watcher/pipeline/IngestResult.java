package io.kubezen.watcher.pipeline;

/**
 * What one ingested input gave: {@code accepted} findings, of which {@code created} became new
 * Observations, {@code aggregated} were merged into existing ones, and {@code filtered} were dropped
 * by the filter ({@code accepted = created + aggregated + filtered}).
 */
public record IngestResult(int accepted, int created, int aggregated, int filtered) {}
