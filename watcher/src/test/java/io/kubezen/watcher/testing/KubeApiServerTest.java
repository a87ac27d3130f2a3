package io.kubezen.watcher.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.util.Map;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * The harness reaches a real API server with the third-party CRDs, and it answers 409 on a
 * duplicate name.
 */
class KubeApiServerTest {

  static final ResourceDefinitionContext VULN =
      new ResourceDefinitionContext.Builder()
          .withGroup("aquasecurity.github.io")
          .withVersion("v1alpha1")
          .withPlural("vulnerabilityreports")
          .withKind("VulnerabilityReport")
          .withNamespaced(true)
          .build();

  @Test
  void realServerWithThirdPartyCrdsAnswersConflictsLikeKubernetes() {
    KubernetesClient c = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("harness");
    GenericKubernetesResource report =
        new GenericKubernetesResourceBuilder()
            .withApiVersion("aquasecurity.github.io/v1alpha1")
            .withKind("VulnerabilityReport")
            .withNewMetadata()
            .withName("r1")
            .withNamespace(ns)
            .endMetadata()
            .withAdditionalProperties(
                Map.of(
                    "report",
                    Map.of(
                        "artifact", Map.of("repository", "nginx", "tag", "1.25"),
                        "registry", Map.of("server", "index.docker.io"),
                        "scanner",
                            Map.of("name", "Trivy", "vendor", "Aqua Security", "version", "0.50.0"),
                        "summary",
                            Map.of(
                                "criticalCount",
                                0,
                                "highCount",
                                0,
                                "mediumCount",
                                0,
                                "lowCount",
                                0,
                                "unknownCount",
                                0),
                        "os", Map.of("family", "debian", "name", "12.5"),
                        "updateTimestamp", "2026-11-22T09:00:00Z",
                        "vulnerabilities", java.util.List.of())))
            .build();
    c.genericKubernetesResources(VULN).inNamespace(ns).resource(report).create();
    assertThat(c.genericKubernetesResources(VULN).inNamespace(ns).withName("r1").get()).isNotNull();
    Assertions.assertThatThrownBy(
            () -> c.genericKubernetesResources(VULN).inNamespace(ns).resource(report).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));
  }
}
