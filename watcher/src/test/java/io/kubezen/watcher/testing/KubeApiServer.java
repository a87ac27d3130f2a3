package io.kubezen.watcher.testing;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The real Kubernetes API server of the tests' Kubernetes tier (../shared/kube-apiext: the
 * apiextensions-apiserver with etcd). Uses the one {@code ZW_IT_KUBECONFIG} names (.ci/run starts
 * one for the whole build); otherwise starts one for this JVM with ../shared/kube-apiext/up.sh and
 * stops it at exit. With neither, tests fail saying so: they are never skipped.
 *
 * <p>The server has no built-in types: the third-party CRDs (Trivy, Kyverno, OpenReports) and the
 * shims (Lease, events.k8s.io Event) are applied; apply ours with {@link #apply}. Namespaced
 * objects can be created in any namespace name: give each test its own with {@link
 * #uniqueNamespace}.
 */
public final class KubeApiServer {
  private static Path kubeconfig;
  private static KubernetesClient client;

  private KubeApiServer() {}

  public static synchronized Path kubeconfig() {
    if (kubeconfig == null) {
      String env = System.getenv("ZW_IT_KUBECONFIG");
      kubeconfig = env != null && !env.isBlank() ? Path.of(env) : startOwn();
    }
    return kubeconfig;
  }

  public static synchronized KubernetesClient client() {
    if (client == null) {
      client = new KubernetesClientBuilder().withConfig(config()).build();
    }
    return client;
  }

  /**
   * A fresh client configuration for the server (for code under test that builds its own client).
   */
  public static Config config() {
    try {
      return Config.fromKubeconfig(Files.readString(kubeconfig()));
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + kubeconfig, e);
    }
  }

  /** A namespace name no other test uses. */
  public static String uniqueNamespace(String prefix) {
    return (prefix + "-" + UUID.randomUUID().toString().substring(0, 8)).toLowerCase(Locale.ROOT);
  }

  /** Creates or replaces a CRD from YAML and waits until it is Established. */
  public static CustomResourceDefinition apply(Path crdYaml) {
    try (InputStream in = Files.newInputStream(crdYaml)) {
      return apply(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + crdYaml, e);
    }
  }

  public static CustomResourceDefinition apply(InputStream crdYaml) {
    KubernetesClient c = client();
    CustomResourceDefinition crd =
        c.apiextensions().v1().customResourceDefinitions().load(crdYaml).item();
    crd.getMetadata().setResourceVersion(null);
    CustomResourceDefinition applied =
        c.apiextensions()
            .v1()
            .customResourceDefinitions()
            .resource(crd)
            .forceConflicts()
            .serverSideApply();
    c.apiextensions()
        .v1()
        .customResourceDefinitions()
        .withName(applied.getMetadata().getName())
        .waitUntilCondition(
            d ->
                d != null
                    && d.getStatus() != null
                    && d.getStatus().getConditions() != null
                    && d.getStatus().getConditions().stream()
                        .anyMatch(
                            cond ->
                                "Established".equals(cond.getType())
                                    && "True".equals(cond.getStatus())),
            30,
            TimeUnit.SECONDS);
    return applied;
  }

  /** Applies zen-watcher's own CRDs, the ones under charts/zen-watcher/crds/ (once per JVM). */
  public static synchronized void applyZenCrds() {
    if (zenCrdsApplied) {
      return;
    }
    try (Stream<Path> files = Files.list(repositoryRoot().resolve("charts/zen-watcher/crds"))) {
      files
          .filter(f -> f.toString().endsWith(".yml") || f.toString().endsWith(".yaml"))
          .sorted()
          .forEach(KubeApiServer::apply);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read charts/zen-watcher/crds", e);
    }
    zenCrdsApplied = true;
  }

  private static boolean zenCrdsApplied;

  /** The repository's root (the folder with the parent pom). */
  public static Path repositoryRoot() {
    Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    while (p != null
        && !(Files.exists(p.resolve("mvnw")) && Files.isDirectory(p.resolve("watcher")))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException(
          "cannot find the repository root from " + System.getProperty("user.dir"));
    }
    return p;
  }

  private static Path startOwn() {
    Path shared = repositoryRoot().getParent().resolve("shared/kube-apiext");
    Path up = shared.resolve("up.sh");
    if (!Files.isRegularFile(up)) {
      throw new IllegalStateException(
          "the Kubernetes tests need a Kubernetes API server: set ZW_IT_KUBECONFIG to a"
              + " kubeconfig, or keep ../shared/kube-apiext beside the repository ("
              + up
              + " not found)");
    }
    try {
      Path dir = Files.createTempDirectory("zw-kube-apiext");
      List<String> cmd = new ArrayList<>(List.of("bash", up.toString(), dir.toString()));
      try (Stream<Path> crds = Files.list(shared.resolve("crds/third-party"))) {
        crds.filter(f -> f.toString().endsWith(".yaml"))
            .sorted()
            .forEach(f -> cmd.add(f.toString()));
      }
      Process p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("up.log").toFile())
              .start();
      if (!p.waitFor(180, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IllegalStateException(
            "kube-apiext did not start: " + Files.readString(dir.resolve("up.log")));
      }
      Path down = shared.resolve("down.sh");
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      new ProcessBuilder("bash", down.toString(), dir.toString())
                          .inheritIO()
                          .start()
                          .waitFor(20, TimeUnit.SECONDS);
                    } catch (IOException | InterruptedException ignored) {
                      // best effort at exit
                    }
                  }));
      return dir.resolve("kubeconfig");
    } catch (IOException e) {
      throw new IllegalStateException("cannot start kube-apiext", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
