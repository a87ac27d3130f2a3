package io.kubezen.watcher.source.k8sevents;

import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.WatchedResource;

/**
 * Kubernetes Events (event-like), from the core v1 and the events.k8s.io/v1 API; or POSTed as JSON
 * or YAML.
 */
public final class KubernetesEventsSource {
  public static final SourceDescriptor DESCRIPTOR =
      SourceDescriptor.of(new KubernetesEventNormalizer())
          .bodyFormats(BodyFormat.JSON, BodyFormat.YAML)
          .watches(
              WatchedResource.builtIn("", "v1", "events", "Event", true),
              WatchedResource.builtIn("events.k8s.io", "v1", "events", "Event", true));

  private KubernetesEventsSource() {}
}
