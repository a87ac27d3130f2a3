package io.kubezen.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTerm;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.kubezen.chart.Chart.Manifests;
import io.kubezen.chart.Chart.ValueSet;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ChartTest {

  static List<ValueSet> valueSets() {
    return Chart.all();
  }

  // ------------------------------------------------------------------ lint and render

  @ParameterizedTest(name = "helm lint --strict ({0})")
  @MethodSource("valueSets")
  void lintsCleanly(ValueSet values) {
    LintResult lint = Chart.lint(values);
    assertThat(lint.isFailed()).as(String.join("\n", lint.getMessages())).isFalse();
    assertThat(lint.getMessages()).noneMatch(m -> m.contains("[ERROR]") || m.contains("[WARNING]"));
  }

  @ParameterizedTest(name = "helm template ({0})")
  @MethodSource("valueSets")
  void rendersTheCoreObjects(ValueSet values) {
    Manifests m = Chart.template(values);
    assertThat(m.all(Deployment.class)).hasSize(1);
    assertThat(m.all(Service.class)).hasSize(1);
    assertThat(m.all(ServiceAccount.class)).hasSize(1);
    assertThat(m.objects())
        .allSatisfy(
            o -> {
              boolean clusterScoped = o instanceof ClusterRole || o instanceof ClusterRoleBinding;
              if (!clusterScoped) {
                assertThat(o.getMetadata().getNamespace())
                    .as(o.getKind() + " " + o.getMetadata().getName())
                    .isNotBlank();
              }
            });
  }

  // ------------------------------------------------------------------ RBAC

  /** Write verbs allowed per resource: nothing outside these. */
  private static final Map<String, Set<String>> WRITES =
      Map.of(
          "zen.kube-zen.io/observations", Set.of("create", "delete"),
          "zen.kube-zen.io/observations/status", Set.of("patch"),
          "zen.kube-zen.io/ingesters/status", Set.of("update"),
          "coordination.k8s.io/leases", Set.of("create", "update"));

  private static final Set<String> READ_VERBS = Set.of("get", "list", "watch");

  @ParameterizedTest(name = "least privilege ({0})")
  @MethodSource("valueSets")
  void rbacHasNoWildcardAndNoWriteOutsideTheAllowedSet(ValueSet values) {
    Manifests m = Chart.template(values);
    for (var entry : rulesByRole(m).entrySet()) {
      for (PolicyRule r : entry.getValue()) {
        assertThat(r.getApiGroups()).as(entry.getKey()).doesNotContain("*");
        assertThat(r.getResources()).as(entry.getKey()).doesNotContain("*").isNotEmpty();
        assertThat(r.getVerbs()).as(entry.getKey()).doesNotContain("*").isNotEmpty();
        assertThat(r.getNonResourceURLs()).as(entry.getKey()).isNullOrEmpty();
        for (String g : r.getApiGroups()) {
          for (String res : r.getResources()) {
            String key = (g.isEmpty() ? "core" : g) + "/" + res;
            Set<String> allowed = new TreeSet<>(READ_VERBS);
            allowed.addAll(WRITES.getOrDefault(key, Set.of()));
            assertThat(r.getVerbs()).as(entry.getKey() + " " + key).isSubsetOf(allowed);
            if (key.equals("core/secrets")) {
              assertThat(r.getVerbs()).as("secrets").containsExactly("get");
            }
            if (key.equals("coordination.k8s.io/leases")) {
              assertThat(entry.getKey())
                  .as("leases only in a Role of the release namespace")
                  .startsWith("Role " + Chart.NAMESPACE + "/");
            }
          }
        }
      }
    }
    // every binding names a rendered role and only the chart's service account
    String sa = m.one(ServiceAccount.class).getMetadata().getName();
    for (RoleBinding b : m.all(RoleBinding.class)) {
      assertThat(m.all(Role.class))
          .anyMatch(
              r ->
                  r.getMetadata().getName().equals(b.getRoleRef().getName())
                      && r.getMetadata().getNamespace().equals(b.getMetadata().getNamespace()));
      assertThat(b.getRoleRef().getKind()).isEqualTo("Role");
      assertThat(b.getSubjects())
          .singleElement()
          .satisfies(
              s -> {
                assertThat(s.getName()).isEqualTo(sa);
                assertThat(s.getNamespace()).isEqualTo(Chart.NAMESPACE);
              });
    }
    for (ClusterRoleBinding b : m.all(ClusterRoleBinding.class)) {
      assertThat(m.all(ClusterRole.class))
          .anyMatch(r -> r.getMetadata().getName().equals(b.getRoleRef().getName()));
      assertThat(b.getSubjects())
          .singleElement()
          .satisfies(s -> assertThat(s.getName()).isEqualTo(sa));
    }
  }

  @Test
  void defaultRbacIsExactlyTheLeastPrivilegeSet() {
    Map<String, Set<String>> rules = flatten(rulesByRole(Chart.template(Chart.defaults())));
    Map<String, Set<String>> expected = new TreeMap<>();
    String cr = "ClusterRole zw-zen-watcher";
    for (String res :
        List.of(
            "aquasecurity.github.io/vulnerabilityreports",
            "aquasecurity.github.io/clustervulnerabilityreports",
            "wgpolicyk8s.io/policyreports",
            "wgpolicyk8s.io/clusterpolicyreports",
            "openreports.io/reports",
            "openreports.io/clusterreports",
            "core/configmaps",
            "core/events",
            "events.k8s.io/events",
            "zen.kube-zen.io/ingesters")) {
      expected.put(cr + " " + res, READ_VERBS);
    }
    expected.put(cr + " apiextensions.k8s.io/customresourcedefinitions", Set.of("get"));
    expected.put(
        cr + " zen.kube-zen.io/observations", Set.of("create", "get", "list", "watch", "delete"));
    expected.put(cr + " zen.kube-zen.io/observations/status", Set.of("patch"));
    expected.put(cr + " zen.kube-zen.io/ingesters/status", Set.of("update"));
    expected.put(
        "Role zen-system/zw-zen-watcher-leases coordination.k8s.io/leases",
        Set.of("get", "list", "watch", "create", "update"));
    assertThat(rules).isEqualTo(expected);
  }

  @Test
  void secretsAndNamespacesOnlyWhenAskedFor() {
    Map<String, Set<String>> rules =
        flatten(
            rulesByRole(
                Chart.template(Chart.fromResource("everything", "values-everything.yaml"))));
    String cr = "ClusterRole zw-zen-watcher";
    assertThat(rules)
        .containsEntry(cr + " core/secrets", Set.of("get"))
        .containsEntry(cr + " core/namespaces", Set.of("list", "watch"))
        .containsEntry(cr + " example.io/findings", READ_VERBS);
    assertThat(flatten(rulesByRole(Chart.template(Chart.defaults()))).keySet())
        .noneMatch(k -> k.endsWith("core/secrets") || k.endsWith("core/namespaces"));
  }

  @Test
  void namespacedInstallHasOnlyRolesInTheWatchedNamespaces() {
    Manifests m = Chart.template(Chart.namespaced());
    assertThat(m.all(ClusterRole.class)).isEmpty();
    assertThat(m.all(ClusterRoleBinding.class)).isEmpty();
    Map<String, Set<String>> rules = flatten(rulesByRole(m));
    assertThat(
            rules.keySet().stream()
                .map(k -> k.split(" ")[1].split("/")[0])
                .collect(Collectors.toSet()))
        .containsExactlyInAnyOrder("zen-system", "team-a", "team-b");
    for (String ns : List.of("zen-system", "team-a", "team-b")) {
      String role = "Role " + ns + "/zw-zen-watcher ";
      assertThat(rules)
          .containsEntry(role + "aquasecurity.github.io/vulnerabilityreports", READ_VERBS)
          .containsEntry(
              role + "zen.kube-zen.io/observations",
              Set.of("create", "get", "list", "watch", "delete"))
          .doesNotContainKey(role + "aquasecurity.github.io/clustervulnerabilityreports")
          .doesNotContainKey(role + "wgpolicyk8s.io/clusterpolicyreports")
          .doesNotContainKey(role + "openreports.io/clusterreports");
    }
    assertThat(rules)
        .containsEntry("Role zen-system/zw-zen-watcher zen.kube-zen.io/ingesters", READ_VERBS)
        .doesNotContainKey("Role team-a/zw-zen-watcher zen.kube-zen.io/ingesters");
    Map<String, EnvVar> env = env(m);
    assertThat(env.get("WATCH_NAMESPACE").getValue()).isEqualTo("zen-system,team-a,team-b");
    assertThat(env.get("INGESTER_NAMESPACE").getValue()).isEqualTo("zen-system");
    // The program is told it has namespaced Roles only (no list across namespaces, no CRD reads).
    assertThat(env.get("ACCESS_SCOPE").getValue()).isEqualTo("namespaces");
  }

  // ------------------------------------------------------------------ pod

  @ParameterizedTest(name = "restricted pod security ({0})")
  @MethodSource("valueSets")
  void podSecurityIsRestricted(ValueSet values) {
    PodSpec pod = pod(Chart.template(values));
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(1001L);
    assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    assertThat(pod.getHostNetwork()).isNotEqualTo(Boolean.TRUE);
    assertThat(pod.getHostPID()).isNotEqualTo(Boolean.TRUE);
    Container c = pod.getContainers().get(0);
    var sc = c.getSecurityContext();
    assertThat(sc.getRunAsNonRoot()).isTrue();
    assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
    assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
    assertThat(sc.getPrivileged()).isNotEqualTo(Boolean.TRUE);
    assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(sc.getCapabilities().getAdd()).isNullOrEmpty();
    assertThat(sc.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    // the only writable path: /tmp, an emptyDir; anything else (the postgres password) is a
    // read-only Secret
    assertThat(c.getVolumeMounts())
        .filteredOn(v -> !Boolean.TRUE.equals(v.getReadOnly()))
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.getMountPath()).isEqualTo("/tmp");
              assertThat(pod.getVolumes())
                  .anyMatch(vol -> vol.getName().equals(v.getName()) && vol.getEmptyDir() != null);
            });
    assertThat(c.getVolumeMounts())
        .filteredOn(v -> Boolean.TRUE.equals(v.getReadOnly()))
        .allSatisfy(
            v ->
                assertThat(pod.getVolumes())
                    .anyMatch(vol -> vol.getName().equals(v.getName()) && vol.getSecret() != null));
  }

  @ParameterizedTest(name = "probes and ports ({0})")
  @MethodSource("valueSets")
  void probesAndPortsAreWired(ValueSet values) {
    Manifests m = Chart.template(values);
    Container c = pod(m).getContainers().get(0);
    assertThat(c.getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getContainerPort()).isEqualTo(8080);
              assertThat(p.getName()).isEqualTo("http");
            });
    assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/health");
    assertThat(c.getLivenessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("http");
    assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/ready");
    assertThat(c.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("http");
    // /ready waits up to 5 s for the store (KubernetesObservationStore.PROBE_TIMEOUT): the probe
    // waits longer.
    assertThat(c.getReadinessProbe().getTimeoutSeconds()).isGreaterThan(5);
    assertThat(c.getStartupProbe().getHttpGet().getPath()).isEqualTo("/health");
    assertThat(env(m).get("WATCHER_PORT").getValue()).isEqualTo("8080");
    Service svc = m.one(Service.class);
    assertThat(svc.getSpec().getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getPort()).isEqualTo(8080);
              assertThat(p.getTargetPort().getStrVal()).isEqualTo("http");
            });
    assertThat(svc.getSpec().getSelector())
        .isEqualTo(deployment(m).getSpec().getTemplate().getMetadata().getLabels());
  }

  @ParameterizedTest(name = "env names are real settings ({0})")
  @MethodSource("valueSets")
  void everyEnvNameIsADocumentedSetting(ValueSet values) throws IOException {
    Set<String> documented = documentedSettings();
    assertThat(documented)
        .as("parsed docs/configuration.md")
        .contains("OBSERVATION_STORE", "WATCH_NAMESPACE", "DEDUP_WINDOW_SECONDS", "KUBECONFIG");
    Set<String> undocumented = new TreeSet<>(env(Chart.template(values)).keySet());
    undocumented.removeAll(documented);
    assertThat(undocumented)
        .as("env names set by the chart and missing from docs/configuration.md")
        .isEmpty();
  }

  @Test
  void defaultEnvIsWired() {
    Map<String, EnvVar> env = env(Chart.template(Chart.defaults()));
    assertThat(env.get("OBSERVATION_STORE").getValue()).isEqualTo("kubernetes");
    assertThat(env.get("POD_NAME").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("metadata.name");
    assertThat(env.get("POD_NAMESPACE").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("metadata.namespace");
    assertThat(env.get("LEADER_ELECTION_MODE").getValue()).isEqualTo("builtin");
    assertThat(env.get("LEADER_ELECTION_ID").getValue()).isEqualTo("zen-watcher-leader-election");
    assertThat(env.get("LEADER_ELECTION_LEASE_DURATION").getValue()).isEqualTo("15s");
    assertThat(env.get("LEADER_ELECTION_RENEW_DEADLINE").getValue()).isEqualTo("10s");
    assertThat(env.get("LEADER_ELECTION_RETRY_PERIOD").getValue()).isEqualTo("2s");
    assertThat(env.get("DEDUP_WINDOW_SECONDS").getValue()).isEqualTo("60");
    assertThat(env.get("DEDUP_MAX_SIZE").getValue()).isEqualTo("10000");
    assertThat(env.get("OBSERVATION_TTL_SECONDS").getValue()).isEqualTo("604800");
    assertThat(env.get("GC_INTERVAL_MINUTES").getValue()).isEqualTo("60");
    assertThat(env)
        .doesNotContainKeys(
            "WATCH_NAMESPACE",
            "WEBHOOK_AUTH_TOKEN",
            "WEBHOOK_ALLOWED_CIDRS",
            "INGESTER_NAMESPACE",
            "ACCESS_SCOPE");
    Container c = pod(Chart.template(Chart.defaults())).getContainers().get(0);
    assertThat(c.getResources().getRequests())
        .containsEntry("memory", new io.fabric8.kubernetes.api.model.Quantity("128Mi"))
        .containsEntry("cpu", new io.fabric8.kubernetes.api.model.Quantity("100m"));
    assertThat(c.getResources().getLimits())
        .containsEntry("memory", new io.fabric8.kubernetes.api.model.Quantity("512Mi"))
        .containsEntry("cpu", new io.fabric8.kubernetes.api.model.Quantity("500m"));
  }

  /**
   * The chart sets the JVM's memory flags and MALLOC_ARENA_MAX to exactly what the image sets (the
   * Dockerfile's ENV), so that a pod spec shows them and the measured sizing (bench/HA.md) holds.
   */
  @Test
  void jvmMemoryFlagsAreTheImages() throws IOException {
    String dockerfile = Files.readString(Chart.DIR.resolve("../../Dockerfile").normalize());
    Matcher opts = Pattern.compile("JAVA_TOOL_OPTIONS=\"([^\"]*)\"").matcher(dockerfile);
    Matcher arenas = Pattern.compile("MALLOC_ARENA_MAX=(\\d+)").matcher(dockerfile);
    assertThat(opts.find()).as("JAVA_TOOL_OPTIONS in the Dockerfile").isTrue();
    assertThat(arenas.find()).as("MALLOC_ARENA_MAX in the Dockerfile").isTrue();
    Map<String, EnvVar> env = env(Chart.template(Chart.defaults()));
    assertThat(env.get("JAVA_TOOL_OPTIONS").getValue()).isEqualTo(opts.group(1));
    assertThat(env.get("MALLOC_ARENA_MAX").getValue()).isEqualTo(arenas.group(1));
    assertThat(opts.group(1))
        .contains("-XX:MaxRAMPercentage=", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError");
  }

  @Test
  void valuesReachTheEnvironment() {
    Map<String, EnvVar> env =
        env(Chart.template(Chart.fromResource("everything", "values-everything.yaml")));
    var ref = env.get("WEBHOOK_AUTH_TOKEN").getValueFrom().getSecretKeyRef();
    assertThat(ref.getName()).isEqualTo("zen-watcher-webhook");
    assertThat(ref.getKey()).isEqualTo("token");
    assertThat(env.get("WEBHOOK_ALLOWED_CIDRS").getValue()).isEqualTo("10.0.0.0/8,fd00::/8");
    assertThat(env.get("WATCH_NAMESPACE").getValue()).isEqualTo("team-a,team-b");
    assertThat(env.get("WATCH_NAMESPACE_SELECTOR").getValue())
        .isEqualTo("zen.kube-zen.io/watch=true");
    assertThat(env.get("SOURCES").getValue()).isEqualTo("trivy,kyverno,k8s-events");
    assertThat(env.get("CLUSTER_NAME").getValue()).isEqualTo("test-cluster");
    assertThat(env.get("MAX_OBSERVATIONS").getValue()).isEqualTo("1000");
  }

  @ParameterizedTest(name = "grace period above shutdown timeout ({0})")
  @MethodSource("valueSets")
  void terminationGracePeriodExceedsTheShutdownTimeout(ValueSet values) {
    Manifests m = Chart.template(values);
    long shutdown = seconds(env(m).get("SHUTDOWN_TIMEOUT").getValue());
    assertThat(pod(m).getTerminationGracePeriodSeconds()).isGreaterThan(shutdown);
  }

  @Test
  void aGracePeriodNotAboveTheShutdownTimeoutIsRefused() {
    ValueSet bad =
        new ValueSet("bad", Map.of("terminationGracePeriodSeconds", 20, "shutdownTimeout", "20s"));
    assertThatThrownBy(() -> Chart.templateRaw(bad))
        .hasMessageContaining("must be longer than shutdownTimeout");
    ValueSet badMode = new ValueSet("bad", Map.of("leaderElection", Map.of("mode", "lease")));
    assertThatThrownBy(() -> Chart.templateRaw(badMode))
        .hasMessageContaining("builtin or disabled");
  }

  // ------------------------------------------------------------------ availability

  @Test
  void twoReplicasWithPdbAndAntiAffinityByDefault() {
    Manifests m = Chart.template(Chart.defaults());
    Deployment d = deployment(m);
    assertThat(d.getSpec().getReplicas()).isEqualTo(2);
    Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
    PodDisruptionBudget pdb = m.one(PodDisruptionBudget.class);
    assertThat(pdb.getSpec().getMinAvailable().getIntVal()).isEqualTo(1);
    assertThat(podLabels).containsAllEntriesOf(pdb.getSpec().getSelector().getMatchLabels());
    List<WeightedPodAffinityTerm> preferred =
        d.getSpec()
            .getTemplate()
            .getSpec()
            .getAffinity()
            .getPodAntiAffinity()
            .getPreferredDuringSchedulingIgnoredDuringExecution();
    assertThat(preferred)
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.getPodAffinityTerm().getTopologyKey())
                  .isEqualTo("kubernetes.io/hostname");
              assertThat(podLabels)
                  .containsAllEntriesOf(t.getPodAffinityTerm().getLabelSelector().getMatchLabels());
            });
    assertThat(
            d.getSpec()
                .getTemplate()
                .getSpec()
                .getAffinity()
                .getPodAntiAffinity()
                .getRequiredDuringSchedulingIgnoredDuringExecution())
        .isNullOrEmpty();
    assertThat(m.all(HorizontalPodAutoscaler.class)).isEmpty();
  }

  @Test
  void minimalIsOneReplicaWithoutElectionOrPdb() {
    Manifests m = Chart.template(Chart.fromChartFile("minimal", "values-minimal.yaml"));
    assertThat(deployment(m).getSpec().getReplicas()).isEqualTo(1);
    assertThat(m.all(PodDisruptionBudget.class)).isEmpty();
    assertThat(env(m).get("LEADER_ELECTION_MODE").getValue()).isEqualTo("disabled");
  }

  @Test
  void productionIsHaWithAuthNetworkPolicyAndMonitoring() {
    Manifests m = Chart.template(Chart.fromChartFile("production", "values-production.yaml"));
    assertThat(deployment(m).getSpec().getReplicas()).isEqualTo(2);
    assertThat(m.all(PodDisruptionBudget.class)).hasSize(1);
    assertThat(env(m).get("WEBHOOK_AUTH_TOKEN").getValueFrom().getSecretKeyRef().getName())
        .isNotBlank();
    assertThat(m.all(NetworkPolicy.class)).hasSize(1);
    assertThat(m.ofKind("ServiceMonitor")).hasSize(1);
    assertThat(m.ofKind("PrometheusRule")).hasSize(1);
  }

  @Test
  void everythingEnabledRendersTheOptionalObjects() {
    Manifests m = Chart.template(Chart.fromResource("everything", "values-everything.yaml"));
    HorizontalPodAutoscaler hpa = m.one(HorizontalPodAutoscaler.class);
    assertThat(hpa.getSpec().getMinReplicas()).isEqualTo(2);
    assertThat(deployment(m).getSpec().getReplicas()).as("the HPA owns replicas").isNull();
    assertThat(m.ofKind("Ingester"))
        .singleElement()
        .satisfies(
            i -> {
              assertThat(i.getApiVersion()).isEqualTo("zen.kube-zen.io/v1alpha1");
              assertThat(i.getMetadata().getNamespace()).isEqualTo(Chart.NAMESPACE);
              assertThat(((GenericKubernetesResource) i).get("spec", "source").toString())
                  .isEqualTo("falco-custom");
            });
    GenericKubernetesResource sm = (GenericKubernetesResource) m.ofKind("ServiceMonitor").get(0);
    assertThat(sm.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
    List<Map<String, Object>> endpoints = sm.get("spec", "endpoints");
    assertThat(endpoints)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e).containsEntry("port", "http").containsEntry("path", "/metrics");
            });
  }

  @Test
  void networkPolicyAllowsOnlyThePortInAndTheApiServerAndDnsOut() {
    NetworkPolicy np =
        Chart.template(Chart.fromResource("everything", "values-everything.yaml"))
            .one(NetworkPolicy.class);
    assertThat(np.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
    assertThat(np.getSpec().getIngress())
        .singleElement()
        .satisfies(
            rule -> {
              assertThat(rule.getPorts())
                  .extracting(p -> p.getPort().getIntVal())
                  .containsExactly(8080);
              assertThat(rule.getFrom())
                  .anyMatch(
                      f ->
                          f.getNamespaceSelector() != null
                              && "monitoring"
                                  .equals(
                                      f.getNamespaceSelector()
                                          .getMatchLabels()
                                          .get("kubernetes.io/metadata.name")));
              assertThat(rule.getFrom())
                  .noneMatch(
                      f ->
                          f.getNamespaceSelector() != null
                              && f.getNamespaceSelector().getMatchLabels() == null
                              && f.getNamespaceSelector().getMatchExpressions() == null
                              && f.getPodSelector() == null);
            });
    assertThat(np.getSpec().getEgress()).hasSize(2);
    assertThat(np.getSpec().getEgress().get(0).getPorts())
        .extracting(p -> p.getPort().getIntVal())
        .containsExactly(443, 6443);
    assertThat(np.getSpec().getEgress().get(0).getTo())
        .singleElement()
        .satisfies(t -> assertThat(t.getIpBlock().getCidr()).isEqualTo("10.96.0.1/32"));
    assertThat(np.getSpec().getEgress().get(1).getPorts())
        .extracting(NetworkPolicyPort::getProtocol)
        .containsExactlyInAnyOrder("UDP", "TCP");
  }

  // ------------------------------------------------------------------ the postgres store

  @Test
  void thePostgresStoreIsWiredWithItsPasswordAsAFileFromTheSecret() {
    Manifests m = Chart.template(Chart.postgres());
    Map<String, EnvVar> env = env(m);
    assertThat(env.get("OBSERVATION_STORE").getValue()).isEqualTo("postgres");
    assertThat(env.get("POSTGRES_URL").getValue())
        .isEqualTo("jdbc:postgresql://findings.db.example:5432/zen?sslmode=verify-full");
    assertThat(env.get("CLUSTER_NAME").getValue()).isEqualTo("prod-eu-1");
    assertThat(env.get("POSTGRES_USER").getValueFrom().getSecretKeyRef().getName())
        .isEqualTo("zen-db");
    assertThat(env.get("POSTGRES_USER").getValueFrom().getSecretKeyRef().getKey())
        .isEqualTo("username");
    assertThat(env.get("POSTGRES_PASSWORD_FILE").getValue())
        .isEqualTo("/etc/zen-watcher/postgres/password");
    assertThat(env).doesNotContainKey("POSTGRES_PASSWORD");
    assertThat(env.get("POSTGRES_POOL_SIZE").getValue()).isEqualTo("8");
    assertThat(env.get("MODE").getValue()).isEqualTo("watcher");
    assertThat(env.get("LEADER_ELECTION_MODE").getValue()).isEqualTo("builtin");
    PodSpec pod = pod(m);
    assertThat(pod.getVolumes())
        .filteredOn(v -> v.getSecret() != null)
        .singleElement()
        .satisfies(
            v -> {
              assertThat(v.getSecret().getSecretName()).isEqualTo("zen-db");
              assertThat(v.getSecret().getItems())
                  .singleElement()
                  .satisfies(
                      i -> {
                        assertThat(i.getKey()).isEqualTo("password");
                        assertThat(i.getPath()).isEqualTo("password");
                      });
            });
    assertThat(pod.getContainers().get(0).getVolumeMounts())
        .anySatisfy(vm -> assertThat(vm.getMountPath()).isEqualTo("/etc/zen-watcher/postgres"));
    // The kubernetes store (the default) has none of it.
    Map<String, EnvVar> kube = env(Chart.template(Chart.defaults()));
    assertThat(kube.get("OBSERVATION_STORE").getValue()).isEqualTo("kubernetes");
    assertThat(kube.keySet()).noneMatch(k -> k.startsWith("POSTGRES_"));
  }

  @Test
  void networkPolicyAllowsTheDatabaseOnlyWithThePostgresStore() {
    NetworkPolicy np = Chart.template(Chart.postgres()).one(NetworkPolicy.class);
    assertThat(np.getSpec().getEgress()).hasSize(3);
    assertThat(np.getSpec().getEgress())
        .filteredOn(r -> r.getPorts().stream().anyMatch(p -> p.getPort().getIntVal() == 5432))
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getPorts())
                  .extracting(p -> p.getPort().getIntVal())
                  .containsExactly(5432);
              assertThat(r.getTo())
                  .singleElement()
                  .satisfies(t -> assertThat(t.getIpBlock().getCidr()).isEqualTo("10.20.0.0/16"));
            });
    NetworkPolicy kube =
        Chart.template(new ValueSet("kube-np", Map.of("networkPolicy", Map.of("enabled", true))))
            .one(NetworkPolicy.class);
    assertThat(kube.getSpec().getEgress())
        .noneMatch(r -> r.getPorts().stream().anyMatch(p -> p.getPort().getIntVal() == 5432));
  }

  @Test
  void aReaderHasNoLeaderElectionAndNeedsNoClusterName() {
    Map<String, EnvVar> env =
        env(
            Chart.template(
                new ValueSet(
                    "reader",
                    Map.of(
                        "store",
                        Map.of(
                            "type",
                            "postgres",
                            "mode",
                            "reader",
                            "postgres",
                            Map.of("url", "jdbc:postgresql://db:5432/zen", "user", "viewer"))))));
    assertThat(env.get("MODE").getValue()).isEqualTo("reader");
    assertThat(env.get("LEADER_ELECTION_MODE").getValue()).isEqualTo("disabled");
    assertThat(env.get("POSTGRES_USER").getValue()).isEqualTo("viewer");
    assertThat(env).doesNotContainKey("CLUSTER_NAME").doesNotContainKey("POSTGRES_PASSWORD_FILE");
  }

  @Test
  void aPostgresStoreWithoutUrlOrClusterNameIsRefused() {
    assertThatThrownBy(
            () ->
                Chart.templateRaw(
                    new ValueSet(
                        "no-url", Map.of("clusterName", "a", "store", Map.of("type", "postgres")))))
        .hasMessageContaining("store.postgres.url is required");
    assertThatThrownBy(
            () ->
                Chart.templateRaw(
                    new ValueSet(
                        "no-cluster",
                        Map.of(
                            "store",
                            Map.of(
                                "type",
                                "postgres",
                                "postgres",
                                Map.of("url", "jdbc:postgresql://db:5432/zen"))))))
        .hasMessageContaining("clusterName is required with store.type=postgres");
    assertThatThrownBy(
            () ->
                Chart.templateRaw(
                    new ValueSet("bad-type", Map.of("store", Map.of("type", "sqlite")))))
        .hasMessageContaining("store.type must be kubernetes or postgres");
    assertThatThrownBy(
            () ->
                Chart.templateRaw(
                    new ValueSet("kube-reader", Map.of("store", Map.of("mode", "reader")))))
        .hasMessageContaining("store.mode=reader needs store.type=postgres");
  }

  // ------------------------------------------------------------------ CRDs and rules

  @Test
  void thePackagedChartCarriesTheGeneratedCrds() throws IOException {
    Path generated = Path.of(System.getProperty("generated.crds.dir", "../api/target/crds"));
    Map<String, byte[]> chartCrds = files(Chart.DIR.resolve("crds"));
    assertThat(chartCrds)
        .containsOnlyKeys(
            "ingesters.zen.kube-zen.io-v1.yml", "observations.zen.kube-zen.io-v1.yml");
    if (Files.isDirectory(generated)) {
      Map<String, byte[]> gen = files(generated);
      assertThat(gen.keySet()).isEqualTo(chartCrds.keySet());
      gen.forEach(
          (name, bytes) ->
              assertThat(new String(chartCrds.get(name), StandardCharsets.UTF_8))
                  .as("charts/zen-watcher/crds/" + name + " equals the generated one")
                  .isEqualTo(new String(bytes, StandardCharsets.UTF_8)));
    }
    Path dest = Files.createTempDirectory("zw-package-");
    try {
      new Helm(Chart.DIR).packageIt().withDestination(dest).call();
      Path tgz = dest.resolve("zen-watcher-0.1.0.tgz");
      Map<String, byte[]> packaged = untar(tgz);
      for (var e : chartCrds.entrySet()) {
        assertThat(packaged).containsKey("zen-watcher/crds/" + e.getKey());
        assertThat(packaged.get("zen-watcher/crds/" + e.getKey())).isEqualTo(e.getValue());
      }
      assertThat(packaged).containsKey("zen-watcher/files/alert-rules.yaml");
      // the CRDs are what they claim: the zen.kube-zen.io kinds
      for (byte[] crd : chartCrds.values()) {
        var obj = Chart.unmarshal(new String(crd, StandardCharsets.UTF_8));
        assertThat(obj.getKind()).isEqualTo("CustomResourceDefinition");
        assertThat(obj.getMetadata().getName()).endsWith(".zen.kube-zen.io");
      }
    } finally {
      Chart.deleteTree(dest);
    }
  }

  @Test
  void prometheusRuleCarriesTheGroupsOfTheAlertRulesFile() throws IOException {
    Manifests m =
        Chart.template(new ValueSet("rules", Map.of("prometheusRule", Map.of("enabled", true))));
    GenericKubernetesResource rule = (GenericKubernetesResource) m.ofKind("PrometheusRule").get(0);
    assertThat(rule.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
    JsonNode rendered =
        Chart.YAML.valueToTree(rule.getAdditionalProperties().get("spec")).get("groups");
    JsonNode file =
        Chart.YAML.readTree(Chart.DIR.resolve("files/alert-rules.yaml").toFile()).get("groups");
    assertThat(file.size()).isPositive();
    assertThat(rendered).isEqualTo(file);
    assertThat(Chart.template(Chart.defaults()).ofKind("PrometheusRule")).isEmpty();
  }

  // ------------------------------------------------------------------ helpers

  private static Deployment deployment(Manifests m) {
    return m.one(Deployment.class);
  }

  private static PodSpec pod(Manifests m) {
    return deployment(m).getSpec().getTemplate().getSpec();
  }

  private static Map<String, EnvVar> env(Manifests m) {
    Map<String, EnvVar> out = new HashMap<>();
    for (EnvVar e : pod(m).getContainers().get(0).getEnv()) {
      assertThat(out.put(e.getName(), e)).as("env " + e.getName() + " set once").isNull();
    }
    return out;
  }

  /** "Kind namespace/name" (or "ClusterRole name") to its rules. */
  private static Map<String, List<PolicyRule>> rulesByRole(Manifests m) {
    Map<String, List<PolicyRule>> out = new TreeMap<>();
    m.all(ClusterRole.class)
        .forEach(r -> out.put("ClusterRole " + r.getMetadata().getName(), r.getRules()));
    m.all(Role.class)
        .forEach(
            r ->
                out.put(
                    "Role " + r.getMetadata().getNamespace() + "/" + r.getMetadata().getName(),
                    r.getRules()));
    return out;
  }

  /** "role group/resource" to its verbs (group "core" for ""). */
  private static Map<String, Set<String>> flatten(Map<String, List<PolicyRule>> byRole) {
    Map<String, Set<String>> out = new TreeMap<>();
    byRole.forEach(
        (role, rules) -> {
          for (PolicyRule r : rules) {
            assertThat(r.getResourceNames()).isNullOrEmpty();
            for (String g : r.getApiGroups()) {
              for (String res : r.getResources()) {
                out.computeIfAbsent(
                        role + " " + (g.isEmpty() ? "core" : g) + "/" + res, k -> new TreeSet<>())
                    .addAll(r.getVerbs());
              }
            }
          }
        });
    return out;
  }

  private static final Pattern SETTING_ROW = Pattern.compile("^\\| `([A-Z][A-Z0-9_<>]*)` \\|");

  static Set<String> documentedSettings() throws IOException {
    Path doc = Path.of(System.getProperty("docs.dir", "../docs")).resolve("configuration.md");
    Set<String> out = new TreeSet<>();
    for (String line : Files.readAllLines(doc)) {
      Matcher mt = SETTING_ROW.matcher(line);
      if (mt.find()) {
        out.add(mt.group(1));
      }
    }
    return out;
  }

  static long seconds(String duration) {
    if (duration.endsWith("ms")) {
      return Long.parseLong(duration.substring(0, duration.length() - 2)) / 1000;
    }
    char unit = duration.charAt(duration.length() - 1);
    if (Character.isDigit(unit)) {
      return Long.parseLong(duration);
    }
    long n = Long.parseLong(duration.substring(0, duration.length() - 1));
    return switch (unit) {
      case 's' -> n;
      case 'm' -> n * 60;
      case 'h' -> n * 3600;
      default -> throw new IllegalArgumentException(duration);
    };
  }

  private static Map<String, byte[]> files(Path dir) throws IOException {
    Map<String, byte[]> out = new TreeMap<>();
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        out.put(p.getFileName().toString(), Files.readAllBytes(p));
      }
    }
    return out;
  }

  /** The regular files of a .tgz (plain ustar, as Helm writes it). */
  private static Map<String, byte[]> untar(Path tgz) throws IOException {
    Map<String, byte[]> out = new TreeMap<>();
    try (InputStream in = new GZIPInputStream(Files.newInputStream(tgz))) {
      byte[] header = new byte[512];
      while (in.readNBytes(header, 0, 512) == 512) {
        String name = cString(header, 0, 100);
        if (name.isEmpty()) {
          break;
        }
        String prefix = cString(header, 345, 155);
        if (!prefix.isEmpty()) {
          name = prefix + "/" + name;
        }
        long size = Long.parseLong(cString(header, 124, 12).trim(), 8);
        byte type = header[156];
        byte[] body = in.readNBytes((int) size);
        long pad = (512 - size % 512) % 512;
        in.readNBytes((int) pad);
        if (type == '0' || type == 0) {
          out.put(name, body);
        }
      }
    }
    return out;
  }

  private static String cString(byte[] b, int off, int len) {
    int end = off;
    while (end < off + len && b[end] != 0) {
      end++;
    }
    return new String(b, off, end - off, StandardCharsets.US_ASCII);
  }
}
