package io.kubezen.watcher.source;

/** Whether a source reports events (a time bucket joins the identity) or state (no time in it). */
public enum SourceKind {
  EVENT,
  STATE
}
