package io.kubezen.watcher.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of the watcher, checked over its compiled main classes (docs/architecture.md says
 * the same in prose). A failure names the class and the dependency that breaks a rule.
 *
 * <pre>
 *   (root)  ZenWatcher, KnownMetricLabels: wiring; may use everything, used by nothing
 *   config  settings; may read the list of sources and kube's selector syntax
 *   http    webhooks, read API, console; uses ingester (its webhook routes), pipeline, store, source
 *   ingester  the Ingester feature; informer/ uses kube (the watch engine)
 *   kube    the watch-and-reconcile engine; uses pipeline, store, source
 *   pipeline  filter, dedup, writer; uses source (the contract), store (the contract)
 *   source  the sources: contract, one package per source, the catalog; uses model only
 *   store   the contract and its implementations; uses model only
 *   metrics, model  below everything (model: pure data, uses only the api module)
 * </pre>
 */
class LayeringTest {
  private static final String W = "io.kubezen.watcher";
  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages(W);
  }

  private static String[] pkgs(String... names) {
    String[] out = new String[names.length];
    for (int i = 0; i < names.length; i++) {
      out[i] = W + "." + names[i] + "..";
    }
    return out;
  }

  @Test
  void noPackageCycles() {
    slices().matching(W + ".(**)").should().beFreeOfCycles().check(classes);
  }

  @Test
  void noTopLevelCycles() {
    slices().matching(W + ".(*)..").should().beFreeOfCycles().check(classes);
  }

  @Test
  void theRootPackageIsWiringOnly() {
    noClasses()
        .that()
        .resideOutsideOfPackage(W)
        .should()
        .dependOnClassesThat()
        .resideInAPackage(W)
        .because("the root package (ZenWatcher) builds the components; nothing depends on it")
        .check(classes);
  }

  @Test
  void modelAndMetricsAreAtTheBottom() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("model", "metrics"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            pkgs("config", "http", "kube", "ingester", "pipeline", "source", "store"))
        .check(classes);
  }

  @Test
  void sourcesUseTheModelOnly() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("source"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            pkgs("config", "http", "kube", "ingester", "pipeline", "store", "metrics"))
        .because("a source is a pure description and normalizer: raw input -> Findings")
        .check(classes);
  }

  @Test
  void storesUseTheModelOnly() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("store"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(pkgs("config", "http", "kube", "ingester", "pipeline", "source"))
        .because("a store keeps Observations; it does not know who sends them")
        .check(classes);
  }

  @Test
  void thePipelineKnowsNoTransport() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("pipeline"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(pkgs("config", "http", "kube", "ingester"))
        .check(classes);
  }

  @Test
  void theWatchEngineKnowsNoHttpNorIngesters() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("kube"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(pkgs("config", "http", "ingester"))
        .because("the engine watches what it is given (built-in sources, informer Ingesters)")
        .check(classes);
  }

  @Test
  void ingestersKnowNoHttpNorSettings() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("ingester"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(pkgs("config", "http"))
        .check(classes);
  }

  @Test
  void onlyTheInformerIngesterUsesTheWatchEngine() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("ingester"))
        .and()
        .resideOutsideOfPackage(W + ".ingester.informer..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(pkgs("kube"))
        .check(classes);
  }

  @Test
  void httpDoesNotReachIntoTheWatchEngine() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("http"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(pkgs("kube"))
        .check(classes);
  }

  @Test
  void sourcesAndTheModelKnowNoKubernetesTypes() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("model", "source", "ingester.mapping"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.fabric8..")
        .because(
            "a source reads JSON: a watched object comes as its JSON (source/ObjectReader), the watch "
                + "engine (kube/) does the client I/O")
        .check(classes);
  }

  /**
   * The pure parts do no I/O: no Kubernetes client (the Observation class and its ObjectMeta, from
   * the api module, are plain data and allowed), no HTTP server, no database. The global filter's
   * ConfigMap watch ({@code pipeline.filter.ConfigMapFilter}) is the pipeline's one edge to the
   * cluster, next to the filter it loads, as {@code FilterReloader} is for the file.
   */
  @Test
  void purePartsDoNoIo() {
    noClasses()
        .that()
        .resideInAnyPackage(
            pkgs("model", "source", "pipeline", "ingester.spec", "ingester.mapping"))
        .or()
        .resideInAPackage(W + ".store")
        .and()
        .doNotHaveFullyQualifiedName(W + ".pipeline.filter.ConfigMapFilter")
        .and()
        .haveNameNotMatching(
            java.util.regex.Pattern.quote(W + ".pipeline.filter.ConfigMapFilter$") + ".*")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.fabric8.kubernetes.client..", "io.vertx..", "java.net.http..", "java.sql..")
        .check(classes);
  }

  @Test
  void onlyHttpServes() {
    noClasses()
        .that()
        .resideOutsideOfPackages(W + ".http..")
        .and()
        .resideOutsideOfPackage(W)
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.vertx..")
        .check(classes);
  }

  @Test
  void storesOtherThanKubernetesUseNoKubernetesClient() {
    noClasses()
        .that()
        .resideInAnyPackage(pkgs("store.sqlite", "store.postgres"))
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.fabric8.kubernetes.client..")
        .check(classes);
  }
}
