package io.kubezen.watcher.source.kyverno;

import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.WatchedResource;

/**
 * Kyverno policy reports (state-like), in the wgpolicyk8s.io and the openreports.io API: watched,
 * or POSTed as JSON or YAML.
 */
public final class KyvernoSource {
  public static final SourceDescriptor DESCRIPTOR =
      SourceDescriptor.of(new KyvernoNormalizer())
          .bodyFormats(BodyFormat.JSON, BodyFormat.YAML)
          .watches(
              WatchedResource.customResource(
                  "wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport", true),
              WatchedResource.customResource(
                  "wgpolicyk8s.io",
                  "v1alpha2",
                  "clusterpolicyreports",
                  "ClusterPolicyReport",
                  false),
              WatchedResource.customResource(
                  "openreports.io", "v1alpha1", "reports", "Report", true),
              WatchedResource.customResource(
                  "openreports.io", "v1alpha1", "clusterreports", "ClusterReport", false));

  private KyvernoSource() {}
}
