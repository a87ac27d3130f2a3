package io.kubezen.watcher.store;

/** What one garbage-collection sweep did. */
public record GcResult(int deleted, int errors) {}
