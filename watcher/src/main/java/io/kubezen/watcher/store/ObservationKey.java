package io.kubezen.watcher.store;

/** Which Observation: its namespace and name. */
public record ObservationKey(String namespace, String name) {}
