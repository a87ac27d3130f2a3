package io.kubezen.watcher.crd;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.watcher.testing.KubeApiServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Against the real API server with the generated CRDs: an Ingester and an Observation with every
 * field set come back exactly as sent, so the schema prunes nothing the code writes or reads. When
 * a field is added to the records, EveryField makes this test fail until the fixture sets it, and
 * then the round trip fails until the CRD is regenerated.
 */
class CrdRoundTripTest {
  private static final ObjectMapper PLAIN = new ObjectMapper();

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
  }

  @Test
  void ingesterWithEveryFieldSetIsNotPruned() {
    KubernetesClient c = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("crd-ing");
    Ingester sent = Fixtures.ingester(ns, "acme");
    assertThat(EveryField.unset(sent.getSpec(), "spec"))
        .as("fixture must set every spec field")
        .isEmpty();
    assertThat(EveryField.unset(sent.getStatus(), "status"))
        .as("fixture must set every status field")
        .isEmpty();

    Ingester created = c.resources(Ingester.class).inNamespace(ns).resource(sent).create();
    created.setStatus(sent.getStatus());
    c.resources(Ingester.class).inNamespace(ns).resource(created).updateStatus();
    Ingester read = c.resources(Ingester.class).inNamespace(ns).withName("acme").get();

    assertThat(json(c, read.getSpec())).isEqualTo(json(c, sent.getSpec()));
    assertThat(json(c, read.getStatus())).isEqualTo(json(c, sent.getStatus()));
  }

  @Test
  void observationWithEveryFieldSetIsNotPruned() {
    KubernetesClient c = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("crd-obs");
    Observation sent = Fixtures.observation(ns, "falco-0123456789abcdef");
    assertThat(EveryField.unset(sent.getSpec(), "spec"))
        .as("fixture must set every spec field")
        .isEmpty();
    assertThat(EveryField.unset(sent.getStatus(), "status"))
        .as("fixture must set every status field")
        .isEmpty();

    Observation created = c.resources(Observation.class).inNamespace(ns).resource(sent).create();
    assertThat(created.getStatus())
        .as("the status subresource ignores status on create; the schema default gives count 1")
        .isEqualTo(new ObservationStatus(1L, null, null, null, null));
    created.setStatus(sent.getStatus());
    c.resources(Observation.class).inNamespace(ns).resource(created).updateStatus();
    Observation read =
        c.resources(Observation.class).inNamespace(ns).withName("falco-0123456789abcdef").get();

    assertThat(json(c, read.getSpec())).isEqualTo(json(c, sent.getSpec()));
    assertThat(json(c, read.getStatus())).isEqualTo(json(c, sent.getStatus()));
    assertThat(read.getMetadata().getLabels()).isEqualTo(sent.getMetadata().getLabels());
  }

  @Test
  void statusCanBePatchedThroughTheSubresource() {
    KubernetesClient c = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("crd-obs");
    Observation sent = Fixtures.observation(ns, "falco-00000000000000aa");
    sent.setStatus(null);
    c.resources(Observation.class).inNamespace(ns).resource(sent).create();

    Observation patch = Fixtures.observation(ns, "falco-00000000000000aa");
    c.resources(Observation.class).inNamespace(ns).resource(patch).patchStatus();

    Observation read =
        c.resources(Observation.class).inNamespace(ns).withName("falco-00000000000000aa").get();
    assertThat(read.getStatus()).isEqualTo(patch.getStatus());
  }

  /** The JSON tree as the client sends it, normalized through text (so 3L and 3 compare equal). */
  private static JsonNode json(KubernetesClient c, Object value) {
    KubernetesSerialization serialization = c.getKubernetesSerialization();
    try {
      return PLAIN.readTree(serialization.asJson(value));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
