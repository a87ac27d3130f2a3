package io.kubezen.watcher.kube;

import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.WatchedResource;
import io.kubezen.watcher.source.catalog.Sources;
import java.util.ArrayList;
import java.util.List;

/**
 * The watched sources of the built-in sources: one {@link WatchedSource} per resource a source
 * declares ({@link SourceDescriptor#watches()}), in the order of {@link Sources#BUILT_IN}. This
 * class knows no source by name: the descriptors say what to watch and how to read it.
 */
public final class BuiltInSources {
  private BuiltInSources() {}

  public static List<WatchedSource> all() {
    return of(Sources.BUILT_IN);
  }

  public static List<WatchedSource> of(List<SourceDescriptor> descriptors) {
    List<WatchedSource> out = new ArrayList<>();
    for (SourceDescriptor d : descriptors) {
      for (WatchedResource r : d.watches()) {
        out.add(WatchedSource.of(d, r));
      }
    }
    return List.copyOf(out);
  }
}
