package io.kubezen.watcher.store;

import java.time.Instant;

/**
 * What one source has reported: its newest {@code status.lastSeen}, how many of its findings are
 * open, and how many there are in all.
 */
public record SourceActivity(String source, Instant lastSeen, long open, long total) {}
