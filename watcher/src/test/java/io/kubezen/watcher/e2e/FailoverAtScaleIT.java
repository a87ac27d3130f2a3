package io.kubezen.watcher.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.e2e.JarRunner.Running;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.testing.KubeApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short, CI-sized version of bench/ha-scale.py: two jar processes on the real API server with
 * 2,000 findings stored, the leader killed with SIGKILL, a report created right after the kill. The
 * new leader's Observation cache and informers are warm (warm standby), so the gap from the kill to
 * that report's Observation is the lease plus a catch-up that reads and writes only what changed:
 *
 * <ul>
 *   <li>gap ≤ lease duration + 2 s;
 *   <li>exactly one Observation per finding (no duplicate, none missing);
 *   <li>the new leader's catch-up over the 2,000 existing findings creates one Observation (the new
 *       report's) and makes no other write and no read of an Observation.
 * </ul>
 */
class FailoverAtScaleIT {
  static final int REPORTS = 20;
  static final int VULNS = 100;
  static final Duration LEASE = Duration.ofSeconds(4);
  static final ResourceDefinitionContext VULN =
      new ResourceDefinitionContext.Builder()
          .withGroup("aquasecurity.github.io")
          .withVersion("v1alpha1")
          .withPlural("vulnerabilityreports")
          .withKind("VulnerabilityReport")
          .withNamespaced(true)
          .build();
  static final List<String> CHART_JVM = JarRunner.chartJvm();

  final JarRunner jar = new JarRunner();
  final List<Running> running = new java.util.ArrayList<>();
  @TempDir Path dir;

  @AfterEach
  void stopAll() throws Exception {
    for (Running r : running) {
      JarRunner.kill(r);
    }
  }

  Running replica(String ns, String name) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("OBSERVATION_STORE", "kubernetes");
    env.put("KUBECONFIG", KubeApiServer.kubeconfig().toString());
    env.put("POD_NAMESPACE", ns);
    env.put("WATCH_NAMESPACE", ns);
    env.put("INGESTER_NAMESPACE", ns);
    env.put("SOURCES", "trivy");
    env.put("POD_NAME", name);
    env.put("LEADER_ELECTION_MODE", "builtin");
    env.put("LEADER_ELECTION_LEASE_DURATION", LEASE.toSeconds() + "s");
    env.put("LEADER_ELECTION_RENEW_DEADLINE", "3s");
    env.put("LEADER_ELECTION_RETRY_PERIOD", "1s");
    Running r = jar.start(dir, env, CHART_JVM, false);
    running.add(r);
    jar.awaitReady(r);
    return r;
  }

  double metric(Running r, String name, String labels) throws Exception {
    String text = jar.call("GET", "http://127.0.0.1:" + r.port() + "/metrics", null).body();
    double sum = 0;
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*})? (\\S+)$").matcher(text);
    while (m.find()) {
      if (m.group(1) == null ? labels.isEmpty() : m.group(1).contains(labels)) {
        sum += Double.parseDouble(m.group(2));
      }
    }
    return sum;
  }

  @Test
  void killedLeaderIsReplacedWithinTheLeaseAndNothingIsDuplicated() throws Exception {
    KubeApiServer.applyZenCrds();
    KubernetesClient k = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("scale");
    for (int r = 0; r < REPORTS; r++) {
      k.genericKubernetesResources(VULN)
          .inNamespace(ns)
          .resource(report(ns, "app" + r, VULNS))
          .create();
    }
    Running a = replica(ns, "replica-a");
    int total = REPORTS * VULNS;
    await()
        .atMost(Duration.ofSeconds(150))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> metric(a, "zen_watcher_observations_live", "") >= total);
    Running b = replica(ns, "replica-b");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> metric(b, "zen_watcher_observations_live", "") >= total);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> metric(a, "zenwatcher_is_leader", "") == 1.0);
    double createsBefore =
        metric(b, "zen_watcher_kube_requests_total", "resource=\"observations\",verb=\"create\"");
    double readsBefore =
        metric(b, "zen_watcher_kube_requests_total", "resource=\"observations\",verb=\"get\"")
            + metric(
                b, "zen_watcher_kube_requests_total", "resource=\"observations\",verb=\"list\"");
    double patchesBefore =
        metric(b, "zen_watcher_kube_requests_total", "resource=\"observations/status\"");
    double reportListsBefore =
        metric(
            b,
            "zen_watcher_kube_requests_total",
            "resource=\"vulnerabilityreports\",verb=\"list\"");
    double reportReadsBefore =
        metric(
            b, "zen_watcher_kube_requests_total", "resource=\"vulnerabilityreports\",verb=\"get\"");

    long t0 = System.nanoTime();
    JarRunner.kill(a);
    String uid =
        k.genericKubernetesResources(VULN)
            .inNamespace(ns)
            .resource(report(ns, "after-kill", 1))
            .create()
            .getMetadata()
            .getUid();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () ->
                !k.resources(Observation.class)
                    .inNamespace(ns)
                    .list(
                        new ListOptionsBuilder()
                            .withLabelSelector(Observation.LABEL_ORIGIN_UID + "=" + uid)
                            .withResourceVersion("0")
                            .build())
                    .getItems()
                    .isEmpty());
    Duration gap = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(gap)
        .as(
            "kill -9 of the leader -> the new report's Observation stored (log of B: %s)",
            Files.readString(b.log())
                .lines()
                .filter(l -> l.contains("leader") || l.contains("catch-up"))
                .toList())
        .isLessThanOrEqualTo(LEASE.plusSeconds(2));

    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> metric(b, "zenwatcher_catchup_duration_seconds_count", "") >= 1);
    List<Observation> all = k.resources(Observation.class).inNamespace(ns).list().getItems();
    assertThat(all).hasSize(total + 1);
    assertThat(all.stream().map(o -> o.getSpec().fingerprint()).distinct().count())
        .isEqualTo(total + 1);
    assertThat(
            metric(
                    b,
                    "zen_watcher_kube_requests_total",
                    "resource=\"observations\",verb=\"create\"")
                - createsBefore)
        .as("creates of the catch-up: the new report's finding only")
        .isEqualTo(1);
    assertThat(
            metric(b, "zen_watcher_kube_requests_total", "resource=\"observations/status\"")
                - patchesBefore)
        .as("status writes of the catch-up")
        .isZero();
    assertThat(
            metric(b, "zen_watcher_kube_requests_total", "resource=\"observations\",verb=\"get\"")
                + metric(
                    b, "zen_watcher_kube_requests_total", "resource=\"observations\",verb=\"list\"")
                - readsBefore)
        .as("reads of Observations during the catch-up: none, the cache answers")
        .isZero();
    // Warm standby: B was watching the reports already; its catch-up reads only the one that
    // changed since the last leader reconciled it (the report created after the kill).
    assertThat(
            metric(
                    b,
                    "zen_watcher_kube_requests_total",
                    "resource=\"vulnerabilityreports\",verb=\"list\"")
                - reportListsBefore)
        .as("re-lists of the reports at the takeover")
        .isZero();
    assertThat(
            metric(
                    b,
                    "zen_watcher_kube_requests_total",
                    "resource=\"vulnerabilityreports\",verb=\"get\"")
                - reportReadsBefore)
        .as("reports read by the catch-up")
        .isLessThanOrEqualTo(1);
  }

  static GenericKubernetesResource report(String ns, String app, int vulns) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("apiVersion", "aquasecurity.github.io/v1alpha1");
    o.put("kind", "VulnerabilityReport");
    ObjectNode md = o.putObject("metadata");
    md.put("name", "replicaset-" + app + "-5d8f7-main");
    md.put("namespace", ns);
    ObjectNode labels = md.putObject("labels");
    labels.put("trivy-operator.resource.kind", "ReplicaSet");
    labels.put("trivy-operator.resource.name", app + "-5d8f7");
    labels.put("trivy-operator.resource.namespace", ns);
    labels.put("trivy-operator.container.name", "main");
    ObjectNode rep = o.putObject("report");
    rep.put("updateTimestamp", "2024-05-01T10:00:00Z");
    rep.putObject("artifact").put("repository", "library/" + app).put("tag", "1.0");
    rep.putObject("registry").put("server", "index.docker.io");
    rep.putObject("os").put("family", "debian").put("name", "12.5");
    rep.putObject("scanner")
        .put("name", "Trivy")
        .put("vendor", "Aqua Security")
        .put("version", "0.50.0");
    rep.putObject("summary")
        .put("criticalCount", 0)
        .put("highCount", 0)
        .put("mediumCount", 0)
        .put("lowCount", 0)
        .put("unknownCount", 0);
    ArrayNode vs = rep.putArray("vulnerabilities");
    String[] sev = {"CRITICAL", "HIGH", "MEDIUM", "LOW"};
    for (int v = 0; v < vulns; v++) {
      vs.addObject()
          .put("vulnerabilityID", "CVE-2024-" + (100000 + v))
          .put("resource", "libpkg" + v)
          .put("installedVersion", "1." + v + ".0")
          .put("fixedVersion", "1." + v + ".1")
          .put("severity", sev[v % 4])
          .put("score", 7.5)
          .put("title", "example vulnerability " + v)
          .put("primaryLink", "https://avd.aquasec.com/nvd/cve-2024-" + (100000 + v))
          .put("publishedDate", "2024-01-09T10:00:00Z")
          .put("lastModifiedDate", "2024-02-01T10:00:00Z");
    }
    return Json.MAPPER.convertValue(o, GenericKubernetesResource.class);
  }
}
