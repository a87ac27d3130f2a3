package io.kubezen.chart;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The chart under test, driven through Helm itself (helm-java), its output parsed with fabric8. */
final class Chart {

  static final Path DIR =
      Path.of(System.getProperty("chart.dir", "../charts/zen-watcher"))
          .toAbsolutePath()
          .normalize();
  static final String RELEASE = "zw";
  static final String NAMESPACE = "zen-system";
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private Chart() {}

  /** A named set of values laid over the chart's values.yaml. */
  record ValueSet(String name, Map<String, Object> overrides) {
    @Override
    public String toString() {
      return name;
    }
  }

  static ValueSet defaults() {
    return new ValueSet("default", Map.of());
  }

  static ValueSet fromChartFile(String name, String file) {
    return new ValueSet(name, readYaml(DIR.resolve(file)));
  }

  static ValueSet fromResource(String name, String resource) {
    try (var in = Chart.class.getResourceAsStream("/" + resource)) {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = YAML.readValue(in, Map.class);
      return new ValueSet(name, m);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ValueSet namespaced() {
    return new ValueSet(
        "namespaced",
        Map.of(
            "rbac", Map.of("clusterScoped", false),
            "watchNamespaces", List.of("team-a", "team-b")));
  }

  /** The postgres store with its credentials from a Secret, and the NetworkPolicy on. */
  static ValueSet postgres() {
    return new ValueSet(
        "postgres",
        Map.of(
            "clusterName", "prod-eu-1",
            "networkPolicy", Map.of("enabled", true),
            "store",
                Map.of(
                    "type",
                    "postgres",
                    "postgres",
                    Map.of(
                        "url",
                        "jdbc:postgresql://findings.db.example:5432/zen?sslmode=verify-full",
                        "existingSecret",
                        "zen-db",
                        "userKey",
                        "username",
                        "cidrs",
                        List.of("10.20.0.0/16")))));
  }

  static List<ValueSet> all() {
    return List.of(
        defaults(),
        fromChartFile("production", "values-production.yaml"),
        fromChartFile("minimal", "values-minimal.yaml"),
        namespaced(),
        fromResource("everything", "values-everything.yaml"),
        postgres());
  }

  static Map<String, Object> readYaml(Path file) {
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = YAML.readValue(file.toFile(), Map.class);
      return m == null ? Map.of() : m;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** `helm template` with the value set as a values file; the raw multi-document YAML. */
  static String templateRaw(ValueSet values) {
    Path file = writeTemp(values.overrides());
    try {
      return new Helm(DIR)
          .template()
          .withName(RELEASE)
          .withNamespace(NAMESPACE)
          .withValuesFile(file)
          .call();
    } finally {
      delete(file);
    }
  }

  static Manifests template(ValueSet values) {
    return Manifests.parse(templateRaw(values));
  }

  /**
   * `helm lint` of the chart with the value set: helm-java's lint takes no values file, so the
   * chart is copied and its values.yaml replaced by the defaults merged with the set.
   */
  static LintResult lint(ValueSet values) {
    Path copy = null;
    try {
      copy = Files.createTempDirectory("zw-chart-");
      Path target = copy.resolve("zen-watcher");
      copyTree(DIR, target);
      Map<String, Object> merged = merge(readYaml(DIR.resolve("values.yaml")), values.overrides());
      YAML.writeValue(target.resolve("values.yaml").toFile(), merged);
      return new Helm(target).lint().strict().call();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (copy != null) {
        deleteTree(copy);
      }
    }
  }

  /**
   * Deep merge, as Helm merges a values file over the defaults (maps merge, anything else
   * replaces).
   */
  @SuppressWarnings("unchecked")
  static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> over) {
    Map<String, Object> out = new LinkedHashMap<>(base);
    over.forEach(
        (k, v) -> {
          Object b = out.get(k);
          if (b instanceof Map<?, ?> bm && v instanceof Map<?, ?> vm) {
            out.put(k, merge((Map<String, Object>) bm, (Map<String, Object>) vm));
          } else {
            out.put(k, v);
          }
        });
    return out;
  }

  static HasMetadata unmarshal(String yaml) {
    return SERIALIZATION.unmarshal(yaml);
  }

  private static Path writeTemp(Map<String, Object> values) {
    try {
      Path f = Files.createTempFile("zw-values-", ".yaml");
      YAML.writeValue(f.toFile(), values);
      return f;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
  }

  static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(Chart::delete);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void delete(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The objects of one rendering. */
  record Manifests(List<HasMetadata> objects) {

    static Manifests parse(String multiDoc) {
      List<HasMetadata> out = new ArrayList<>();
      for (String doc : multiDoc.split("(?m)^---\\s*$")) {
        boolean hasContent = doc.lines().anyMatch(l -> !l.isBlank() && !l.trim().startsWith("#"));
        if (hasContent) {
          out.add(unmarshal(doc));
        }
      }
      return new Manifests(List.copyOf(out));
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
      return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends HasMetadata> T one(Class<T> type) {
      List<T> found = all(type);
      if (found.size() != 1) {
        throw new AssertionError(
            "expected one " + type.getSimpleName() + ", found " + found.size());
      }
      return found.get(0);
    }

    List<HasMetadata> ofKind(String kind) {
      return objects.stream().filter(o -> kind.equals(o.getKind())).toList();
    }
  }
}
