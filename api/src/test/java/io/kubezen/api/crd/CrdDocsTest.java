package io.kubezen.api.crd;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/crds.md shows what {@code kubectl explain} prints for the committed CRDs. */
class CrdDocsTest {
  static final Path DOC = Path.of("..", "docs", "crds.md");

  @Test
  void theExplainSectionOfDocsCrdsMdIsWhatTheCrdsExplain() throws IOException {
    String doc = Files.readString(DOC);
    String section =
        doc.substring(
            doc.indexOf(ExplainDoc.BEGIN), doc.indexOf(ExplainDoc.END) + ExplainDoc.END.length());
    assertThat(section)
        .as(
            "the kubectl explain section of docs/crds.md differs from what the CRDs explain; regenerate with: %s",
            CrdFilesTest.REGENERATE)
        .isEqualTo(ExplainDoc.section(CrdFilesTest.CHART_CRDS));
    assertThat(section)
        .contains(
            "#### `kubectl explain observation.spec`",
            "#### `kubectl explain ingester.spec.mapping`",
            "#### `kubectl explain ingester.status.conditions`",
            "#### `kubectl explain observation.spec.severity`");
  }

  @Test
  void explainHasKubectlsLayout() {
    CustomResourceDefinition crd =
        new CustomResourceDefinitionBuilder()
            .withNewMetadata()
            .withName("widgets.example.com")
            .endMetadata()
            .withNewSpec()
            .withGroup("example.com")
            .withNewNames()
            .withKind("Widget")
            .withSingular("widget")
            .withPlural("widgets")
            .endNames()
            .addNewVersion()
            .withName("v1")
            .withStorage(true)
            .withServed(true)
            .withNewSchema()
            .withOpenAPIV3Schema(
                new JSONSchemaPropsBuilder()
                    .withType("object")
                    .withDescription("A widget.")
                    .addToProperties(
                        "spec",
                        new JSONSchemaPropsBuilder()
                            .withType("object")
                            .withDescription("What it is.")
                            .withRequired("size")
                            .addToProperties(
                                "size",
                                new JSONSchemaPropsBuilder()
                                    .withType("string")
                                    .withDescription(
                                        "How big it is, in words that are long enough to be wrapped at eighty columns by"
                                            + " the renderer.")
                                    .withEnum(
                                        new com.fasterxml.jackson.databind.node.TextNode("small"),
                                        new com.fasterxml.jackson.databind.node.TextNode("big"))
                                    .build())
                            .addToProperties(
                                "tags",
                                new JSONSchemaPropsBuilder()
                                    .withType("array")
                                    .withDescription("Its tags.")
                                    .withNewItems()
                                    .withNewSchema()
                                    .withType("string")
                                    .endSchema()
                                    .endItems()
                                    .build())
                            .addToProperties(
                                "labels",
                                new JSONSchemaPropsBuilder()
                                    .withType("object")
                                    .withDescription("Its labels.")
                                    .withNewAdditionalProperties()
                                    .withNewSchema()
                                    .withType("string")
                                    .endSchema()
                                    .endAdditionalProperties()
                                    .build())
                            .build())
                    .build())
            .endSchema()
            .endVersion()
            .endSpec()
            .build();

    assertThat(Explain.explain(crd, "widget.spec"))
        .isEqualTo(
            """
        GROUP:      example.com
        KIND:       Widget
        VERSION:    v1

        FIELD: spec <Object>

        DESCRIPTION:
            What it is.

        FIELDS:
          labels\t<map[string]string>
            Its labels.

          size\t<string> -required-
          enum: big, small
            How big it is, in words that are long enough to be wrapped at eighty columns
            by the renderer.

          tags\t<[]string>
            Its tags.
        """);
    assertThat(Explain.explain(crd, "widget"))
        .startsWith(
            "GROUP:      example.com\nKIND:       Widget\n"
                + "VERSION:    v1\n\nDESCRIPTION:\n    A widget.\n\nFIELDS:\n  spec\t<Object>\n    What it is.\n");
    assertThat(Explain.explain(crd, "widget.spec.size"))
        .contains("FIELD: size <string>\n\nENUM:\n    big\n    small\n");
  }
}
