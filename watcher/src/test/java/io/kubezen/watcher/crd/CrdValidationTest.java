package io.kubezen.watcher.crd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.testing.KubeApiServer;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The API server rejects invalid Observations (and Ingesters) with 422 Unprocessable Entity, by the
 * schema generated from the Java types. The objects are written untyped so that they can hold
 * values the Java types cannot.
 */
class CrdValidationTest {
  static final ResourceDefinitionContext OBSERVATIONS =
      new ResourceDefinitionContext.Builder()
          .withGroup(Observation.GROUP)
          .withVersion(Observation.VERSION)
          .withPlural("observations")
          .withKind("Observation")
          .withNamespaced(true)
          .build();
  static final ResourceDefinitionContext INGESTERS =
      new ResourceDefinitionContext.Builder()
          .withGroup(Observation.GROUP)
          .withVersion(Observation.VERSION)
          .withPlural("ingesters")
          .withKind("Ingester")
          .withNamespaced(true)
          .build();

  static final String NS = KubeApiServer.uniqueNamespace("crd-invalid");

  @BeforeAll
  static void crds() {
    KubeApiServer.applyZenCrds();
  }

  @Test
  void theValidFixtureIsAccepted() {
    GenericKubernetesResource created = create(OBSERVATIONS, observation(spec -> {}));
    assertThat(created.getMetadata().getUid()).isNotBlank();
  }

  @Test
  void badSeverityIsRejected() {
    assertRejected(observation(spec -> spec.put("severity", "urgent")), "spec.severity");
    assertRejected(observation(spec -> spec.put("severity", "HIGH")), "spec.severity");
  }

  @Test
  void badCategoryIsRejected() {
    assertRejected(observation(spec -> spec.put("category", "safety")), "spec.category");
  }

  @Test
  void badEventTypeIsRejected() {
    assertRejected(observation(spec -> spec.put("eventType", "Runtime-Threat")), "spec.eventType");
  }

  @Test
  void badSourceIsRejected() {
    assertRejected(observation(spec -> spec.put("source", "Falco_Sidekick")), "spec.source");
    assertRejected(observation(spec -> spec.put("source", "-falco")), "spec.source");
    assertRejected(observation(spec -> spec.put("source", "a".repeat(41))), "spec.source");
  }

  @Test
  void badFingerprintIsRejected() {
    assertRejected(observation(spec -> spec.put("fingerprint", "ABC")), "spec.fingerprint");
  }

  @Test
  void wrongTypesAreRejected() {
    assertRejected(observation(spec -> spec.put("details", "not an object")), "spec.details");
    assertRejected(
        observation(spec -> spec.put("ttlSecondsAfterCreation", "7d")),
        "spec.ttlSecondsAfterCreation");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {"source", "category", "severity", "eventType", "detectedAt", "fingerprint"})
  void missingRequiredFieldIsRejected(String field) {
    assertRejected(observation(spec -> spec.remove(field)), "spec." + field);
  }

  @Test
  void ingesterWithUnknownTypeOrAuthIsRejected() {
    KubernetesClient c = KubeApiServer.client();
    GenericKubernetesResource bad =
        c.getKubernetesSerialization()
            .convertValue(
                Fixtures.ingester(NS, "bad-" + suffix()), GenericKubernetesResource.class);
    spec(bad).put("type", "cronjob");
    assertThatThrownBy(() -> create(INGESTERS, bad))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getMessage()).contains("spec.type");
            });
  }

  private static GenericKubernetesResource observation(Consumer<Map<String, Object>> change) {
    KubernetesClient c = KubeApiServer.client();
    Observation typed = Fixtures.observation(NS, "falco-" + suffix());
    typed.setStatus(null);
    GenericKubernetesResource o =
        c.getKubernetesSerialization().convertValue(typed, GenericKubernetesResource.class);
    change.accept(spec(o));
    return o;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> spec(GenericKubernetesResource r) {
    return (Map<String, Object>) r.getAdditionalProperties().get("spec");
  }

  private static void assertRejected(GenericKubernetesResource o, String field) {
    assertThatThrownBy(() -> create(OBSERVATIONS, o))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).as(e.getMessage()).isEqualTo(422);
              assertThat(e.getMessage()).contains(field);
            });
  }

  private static GenericKubernetesResource create(
      ResourceDefinitionContext type, GenericKubernetesResource r) {
    return KubeApiServer.client()
        .genericKubernetesResources(type)
        .inNamespace(NS)
        .resource(r)
        .create();
  }

  private static String suffix() {
    return UUID.randomUUID().toString().replace("-", "").substring(0, 16);
  }
}
