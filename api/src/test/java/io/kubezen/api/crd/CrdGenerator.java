package io.kubezen.api.crd;

import com.fasterxml.jackson.annotation.JsonClassDescription;
import io.fabric8.crdv2.generator.CRDGenerationInfo;
import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.Observation;
import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Generates zen-watcher's CRDs (apiextensions.k8s.io/v1, one file per CRD, named {@code
 * <plural>.<group>-v1.yml}) from the custom resource classes with fabric8's CRD generator. The
 * build runs it into {@code api/target/crds}; {@code -Pregenerate-crds} points it at {@code
 * charts/zen-watcher/crds/}. {@code CrdFilesTest} fails when the committed files differ.
 *
 * <p>Two post-processing steps: the generator sorts printer columns by JSON path; this puts them in
 * the order {@code kubectl get} should show them ({@link #COLUMN_ORDER}). And the generator writes
 * the {@code @JsonPropertyDescription} of every field but ignores {@code @JsonClassDescription}, so
 * the descriptions of the schema's root, {@code spec} and {@code status} (which are not fields of
 * ours) are taken from the {@code @JsonClassDescription} of the resource, spec and status classes
 * ({@link #describeRoots}).
 */
public final class CrdGenerator {
  /** The classes a CRD is generated for. */
  public static final List<Class<? extends HasMetadata>> RESOURCES =
      List.of(Observation.class, Ingester.class);

  /** Printer column order per CRD; columns not listed follow, in the generator's order. */
  static final Map<String, List<String>> COLUMN_ORDER =
      Map.of(
          "observations." + Observation.GROUP,
          List.of("Source", "Category", "Severity", "Type", "Kind", "Resource", "Count", "Age"),
          "ingesters." + Observation.GROUP,
          List.of("Source", "Type", "Ready", "Age"));

  private CrdGenerator() {}

  /** {@code args[0]}: the output folder (created when missing). */
  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      throw new IllegalArgumentException("usage: CrdGenerator <output folder>");
    }
    for (Path file : generate(Path.of(args[0]))) {
      System.out.println("generated " + file);
    }
  }

  /** Writes every CRD into {@code dir}; returns the files written, sorted. */
  public static Set<Path> generate(Path dir) throws IOException {
    Files.createDirectories(dir);
    CRDGenerationInfo info =
        new CRDGenerator()
            .inOutputDir(dir.toFile())
            .forCRDVersions("v1")
            .withParallelGenerationEnabled(false)
            .withPostProcessor(
                new io.fabric8.crdv2.generator.CRDPostProcessor() {
                  @Override
                  public HasMetadata process(HasMetadata crd, String crdSpecVersion) {
                    return defaultStatus(
                        describeRoots(orderColumns((CustomResourceDefinition) crd)));
                  }
                })
            .customResourceClasses(RESOURCES)
            .detailedGenerate();
    Set<Path> files = new TreeSet<>();
    info.getCRDDetailsPerNameAndVersion()
        .values()
        .forEach(byVersion -> byVersion.values().forEach(d -> files.add(Path.of(d.getFilePath()))));
    if (files.size() != RESOURCES.size()) {
      throw new IllegalStateException(
          "expected " + RESOURCES.size() + " CRD files, generated " + files);
    }
    return files;
  }

  /**
   * Sets the description of the schema root from the resource class, and of {@code spec} and {@code
   * status} from the classes that are its {@code CustomResource<Spec, Status>} type arguments: each
   * from its {@code @JsonClassDescription}, which must be there.
   */
  static CustomResourceDefinition describeRoots(CustomResourceDefinition crd) {
    Class<? extends HasMetadata> type =
        RESOURCES.stream()
            .filter(c -> HasMetadata.getFullResourceName(c).equals(crd.getMetadata().getName()))
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "no resource class for " + crd.getMetadata().getName()));
    Type[] specAndStatus =
        ((ParameterizedType) type.getGenericSuperclass()).getActualTypeArguments();
    for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
      JSONSchemaProps root = version.getSchema().getOpenAPIV3Schema();
      root.setDescription(classDescription(type));
      root.getProperties()
          .get("spec")
          .setDescription(classDescription((Class<?>) specAndStatus[0]));
      root.getProperties()
          .get("status")
          .setDescription(classDescription((Class<?>) specAndStatus[1]));
    }
    return crd;
  }

  /**
   * An Observation's {@code status} defaults to {@code {"count": 1}}: the status subresource drops
   * the status of a create, and the API server applies schema defaults whenever it reads an object
   * from etcd, so a new Observation answers (create, get, list, watch, {@code kubectl get obs}'s
   * Count column) with count 1 without a second write.
   */
  static CustomResourceDefinition defaultStatus(CustomResourceDefinition crd) {
    if (!crd.getMetadata().getName().equals(HasMetadata.getFullResourceName(Observation.class))) {
      return crd;
    }
    for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
      com.fasterxml.jackson.databind.node.ObjectNode one =
          com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode().put("count", 1);
      version.getSchema().getOpenAPIV3Schema().getProperties().get("status").setDefault(one);
    }
    return crd;
  }

  private static String classDescription(Class<?> c) {
    JsonClassDescription d = c.getAnnotation(JsonClassDescription.class);
    if (d == null || d.value().isBlank()) {
      throw new IllegalStateException(
          c.getName()
              + " needs a @JsonClassDescription: it describes the CRD's "
              + "root, spec or status");
    }
    return d.value();
  }

  static CustomResourceDefinition orderColumns(CustomResourceDefinition crd) {
    List<String> order = COLUMN_ORDER.getOrDefault(crd.getMetadata().getName(), List.of());
    for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
      List<CustomResourceColumnDefinition> columns = version.getAdditionalPrinterColumns();
      if (columns == null || columns.isEmpty()) {
        continue;
      }
      List<CustomResourceColumnDefinition> sorted = new ArrayList<>(columns);
      sorted.sort(
          Comparator.comparingInt(
              c -> {
                int i = order.indexOf(c.getName());
                return i < 0 ? order.size() : i;
              }));
      version.setAdditionalPrinterColumns(sorted);
    }
    return crd;
  }
}
