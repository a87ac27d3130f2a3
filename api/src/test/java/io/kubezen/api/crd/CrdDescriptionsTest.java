package io.kubezen.api.crd;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every field of Observation and Ingester says what it is: the CRDs generated from the Java types
 * carry a description on the resource, spec, status and every field below them, and none of them
 * only repeats the field's name.
 */
class CrdDescriptionsTest {
  @TempDir Path out;

  @Test
  void everyFieldOfBothCrdsHasADescriptionThatSaysSomething() throws IOException {
    Set<Path> files = CrdGenerator.generate(out);
    assertThat(files).hasSize(2);
    for (Path file : files) {
      CustomResourceDefinition crd = ExplainDoc.load(file);
      Map<String, String> problems = problems(crd);
      assertThat(problems)
          .as(
              "%s: fields without a useful description; add a @JsonPropertyDescription to the record component"
                  + " (or a @JsonClassDescription to the resource, spec or status class) in api/, then regenerate"
                  + " with %s",
              file.getFileName(), CrdFilesTest.REGENERATE)
          .isEmpty();
      // the walk covered the whole schema, nested objects and array items included
      assertThat(Explain.all(crd)).hasSizeGreaterThan(15);
    }
  }

  @Test
  void theCheckNamesAFieldWithoutADescriptionAndOneThatRepeatsItsName() throws IOException {
    CustomResourceDefinition crd =
        ExplainDoc.load(
            CrdGenerator.generate(out).stream()
                .filter(p -> p.getFileName().toString().startsWith("observations"))
                .findFirst()
                .orElseThrow());
    JSONSchemaProps spec =
        crd.getSpec()
            .getVersions()
            .get(0)
            .getSchema()
            .getOpenAPIV3Schema()
            .getProperties()
            .get("spec");
    spec.getProperties().get("title").setDescription(null);
    spec.getProperties().get("resource").getProperties().get("kind").setDescription("Kind.");
    spec.getProperties().get("clusterName").setDescription("The cluster name");

    assertThat(problems(crd))
        .containsOnlyKeys(
            "observation.spec.title",
            "observation.spec.resource.kind",
            "observation.spec.clusterName");
    assertThat(problems(crd).get("observation.spec.title")).isEqualTo("no description");
    assertThat(problems(crd).get("observation.spec.resource.kind"))
        .startsWith("the description only repeats");
  }

  @Test
  void aDescriptionMustSayMoreThanTheName() {
    assertThat(Explain.descriptionProblem("ttlSecondsAfterCreation", "TTL seconds after creation"))
        .isNotNull();
    assertThat(Explain.descriptionProblem("eventType", "the event type.")).isNotNull();
    assertThat(Explain.descriptionProblem("count", "Count")).isNotNull();
    assertThat(Explain.descriptionProblem("count", "  ")).isEqualTo("no description");
    assertThat(Explain.descriptionProblem("resolved", "true or false")).isNull();
    assertThat(Explain.descriptionProblem("count", "How many times the finding was reported."))
        .isNull();
  }

  @Test
  void kubectlExplainObservationSpecSeveritySaysWhatItIs() throws IOException {
    CustomResourceDefinition crd =
        ExplainDoc.load(CrdFilesTest.CHART_CRDS.resolve("observations.zen.kube-zen.io-v1.yml"));
    String text = Explain.explain(crd, "observation.spec.severity");
    assertThat(text)
        .startsWith(
            "GROUP:      zen.kube-zen.io\nKIND:       Observation\nVERSION:    v1alpha1\n\n"
                + "FIELD: severity <string>\n\nENUM:\n    critical\n    high\n    info\n    low\n    medium\n\n"
                + "DESCRIPTION:\n    How serious the finding is");
  }

  private static Map<String, String> problems(CustomResourceDefinition crd) {
    Map<String, String> problems = new LinkedHashMap<>();
    Explain.descriptionProblems(crd, problems::put);
    return problems;
  }
}
