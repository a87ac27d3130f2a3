package io.kubezen.watcher.source.falco;

import io.kubezen.watcher.source.SourceDescriptor;

/** Falco: runtime alerts POSTed by Falcosidekick (event-like; JSON). */
public final class FalcoSource {
  public static final SourceDescriptor DESCRIPTOR = SourceDescriptor.of(new FalcoNormalizer());

  private FalcoSource() {}
}
