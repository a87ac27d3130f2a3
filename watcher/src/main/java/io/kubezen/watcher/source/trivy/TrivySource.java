package io.kubezen.watcher.source.trivy;

import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.WatchedResource;

/** Trivy Operator vulnerability reports (state-like): watched, or POSTed as JSON or YAML. */
public final class TrivySource {
  public static final SourceDescriptor DESCRIPTOR =
      SourceDescriptor.of(new TrivyNormalizer())
          .bodyFormats(BodyFormat.JSON, BodyFormat.YAML)
          .watches(
              WatchedResource.customResource(
                  "aquasecurity.github.io",
                  "v1alpha1",
                  "vulnerabilityreports",
                  "VulnerabilityReport",
                  true),
              WatchedResource.customResource(
                  "aquasecurity.github.io",
                  "v1alpha1",
                  "clustervulnerabilityreports",
                  "ClusterVulnerabilityReport",
                  false));

  private TrivySource() {}
}
