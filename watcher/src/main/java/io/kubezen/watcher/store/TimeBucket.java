package io.kubezen.watcher.store;

import java.time.Instant;

/**
 * One interval [start, start + width) of a timeline: {@code opened} findings first seen in it,
 * {@code resolved} findings resolved in it.
 */
public record TimeBucket(Instant start, long opened, long resolved) {}
