package io.kubezen.watcher.kube;

import io.kubezen.watcher.source.checkov.CheckovNormalizer;
import io.kubezen.watcher.source.k8sevents.KubernetesEventNormalizer;
import io.kubezen.watcher.source.kubebench.KubeBenchNormalizer;
import io.kubezen.watcher.source.kyverno.KyvernoNormalizer;
import io.kubezen.watcher.source.trivy.TrivyNormalizer;
import java.util.List;

/**
 * The watched sources zen-watcher knows, by source name:
 *
 * <table>
 *   <tr><th>source</th><th>objects</th></tr>
 *   <tr><td>trivy</td><td>aquasecurity.github.io/v1alpha1 vulnerabilityreports, clustervulnerabilityreports</td></tr>
 *   <tr><td>kyverno</td><td>wgpolicyk8s.io/v1alpha2 policyreports, clusterpolicyreports;
 *       openreports.io/v1alpha1 reports, clusterreports</td></tr>
 *   <tr><td>k8s-events</td><td>v1 events, events.k8s.io/v1 events</td></tr>
 *   <tr><td>checkov</td><td>v1 configmaps labelled app=checkov, key results.json</td></tr>
 *   <tr><td>kube-bench</td><td>v1 configmaps labelled app=kube-bench, key results.json (node: see
 *       {@link ObjectReaders#kubeBenchNode})</td></tr>
 * </table>
 */
public final class BuiltInSources {
  public static final String RESULTS_KEY = "results.json";

  private BuiltInSources() {}

  public static List<WatchedSource> all() {
    TrivyNormalizer trivy = new TrivyNormalizer();
    KyvernoNormalizer kyverno = new KyvernoNormalizer();
    KubernetesEventNormalizer events = new KubernetesEventNormalizer();
    return List.of(
        WatchedSource.customResource("trivy", "aquasecurity.github.io", "v1alpha1", "vulnerabilityreports",
            "VulnerabilityReport", true, trivy),
        WatchedSource.customResource("trivy", "aquasecurity.github.io", "v1alpha1", "clustervulnerabilityreports",
            "ClusterVulnerabilityReport", false, trivy),
        WatchedSource.customResource("kyverno", "wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport", true,
            kyverno),
        WatchedSource.customResource("kyverno", "wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports",
            "ClusterPolicyReport", false, kyverno),
        WatchedSource.customResource("kyverno", "openreports.io", "v1alpha1", "reports", "Report", true, kyverno),
        WatchedSource.customResource("kyverno", "openreports.io", "v1alpha1", "clusterreports", "ClusterReport", false,
            kyverno),
        WatchedSource.builtIn("k8s-events", "", "v1", "events", "Event", true, events),
        WatchedSource.builtIn("k8s-events", "events.k8s.io", "v1", "events", "Event", true, events),
        WatchedSource.configMaps("checkov", "app=checkov", RESULTS_KEY, null, new CheckovNormalizer()),
        WatchedSource.configMaps("kube-bench", "app=kube-bench", RESULTS_KEY, ObjectReaders::kubeBenchNode,
            new KubeBenchNormalizer()));
  }
}
