package io.kubezen.watcher.ingester.informer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.ingester.IngestServer;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import io.kubezen.watcher.kube.SourceManager;
import io.kubezen.watcher.kube.SourceOptions;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.source.Samples;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.testing.KubeApiServer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Informer Ingesters over a custom CRD, against the real API server. */
class IngesterInformersTest {
  static final ResourceDefinitionContext SCANS =
      new ResourceDefinitionContext.Builder()
          .withGroup("scans.example.com")
          .withVersion("v1")
          .withPlural("scanreports")
          .withKind("ScanReport")
          .withNamespaced(true)
          .build();
  static KubernetesClient client;
  @TempDir Path tmp;
  String ns;
  String other;
  IngestServer server;
  IngesterInformers informers;
  SourceManager engine;

  @BeforeAll
  static void crds() throws Exception {
    KubeApiServer.applyZenCrds();
    try (var in =
        IngesterInformersTest.class.getResourceAsStream(
            "/crds/scanreports.scans.example.com.yaml")) {
      KubeApiServer.apply(in);
    }
    client = KubeApiServer.client();
  }

  @BeforeEach
  void start() {
    ns = KubeApiServer.uniqueNamespace("inf");
    other = KubeApiServer.uniqueNamespace("other");
    server = new IngestServer(tmp, Map.of());
    engine =
        new SourceManager(
                client,
                server.pipeline,
                server.metrics,
                Clock.systemUTC(),
                SourceOptions.defaults().withCrdCheckInterval(Duration.ofMillis(300)),
                List.of())
            .start();
    informers =
        new IngesterInformers(
            client,
            ns,
            server.sources.builtInNames(),
            server.pipelines,
            engine,
            new IngesterStatusWriter(client, Clock.systemUTC()),
            Clock.systemUTC(),
            Duration.ofMillis(300),
            Duration.ofMinutes(10));
    informers.start();
  }

  @AfterEach
  void stop() {
    informers.stop();
    engine.stop();
    server.close();
  }

  static IngesterSpec spec(List<String> namespaces, String labelSelector) {
    return new IngesterSpec(
        "acme-scan",
        IngesterSpec.Type.INFORMER,
        new IngesterSpec.Informer(
            new IngesterSpec.Gvr("scans.example.com", "v1", "scanreports"),
            namespaces,
            labelSelector,
            null),
        null,
        new IngesterSpec.Mapping(
            "object.report.results",
            "item.level",
            Map.of("error", "high", "warning", "low"),
            "item.message",
            "'misconfiguration'",
            "'compliance'",
            new IngesterSpec.ResourceMapping(
                "'apps/v1'",
                "object.spec.target.kind",
                "object.spec.target.name",
                "object.metadata.namespace"),
            null,
            Map.of("check", "item.check"),
            List.of("object.metadata.uid", "item.check")),
        null,
        null);
  }

  void createIngester(String name, IngesterSpec spec) {
    Ingester i = new Ingester();
    i.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
    i.setSpec(spec);
    client.resources(Ingester.class).inNamespace(ns).resource(i).create();
  }

  GenericKubernetesResource report(String namespace, String name, Map<String, String> labels)
      throws Exception {
    JsonNode sample = Samples.json("ingester/scanreport.json");
    GenericKubernetesResource r = Json.MAPPER.treeToValue(sample, GenericKubernetesResource.class);
    r.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(namespace).withLabels(labels).build());
    return client.genericKubernetesResources(SCANS).inNamespace(namespace).resource(r).create();
  }

  List<Observation> observations() {
    return server
        .store
        .list(new ObservationQuery("acme-scan", null, null, null, null, 1000, null))
        .items();
  }

  Condition ready(String name) {
    Ingester i = client.resources(Ingester.class).inNamespace(ns).withName(name).get();
    if (i == null || i.getStatus() == null || i.getStatus().conditions() == null) {
      return null;
    }
    return i.getStatus().conditions().stream()
        .filter(c -> c.getType().equals("Ready"))
        .findFirst()
        .orElse(null);
  }

  @Test
  void forEachGivesObservationsReconciledAndResolved() throws Exception {
    GenericKubernetesResource before = report(ns, "deploy-web", Map.of("scan", "yes"));
    report(ns, "unselected", Map.of("scan", "no"));
    report(other, "elsewhere", Map.of("scan", "yes"));
    createIngester("scans", spec(List.of(ns), "scan=yes"));
    await().atMost(Duration.ofSeconds(15)).until(() -> observations().size() == 3);
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> // the status is written on its own timer
            assertThat(ready("scans"))
                    .isNotNull()
                    .extracting(Condition::getStatus)
                    .isEqualTo("True"));
    assertThat(observations())
        .allSatisfy(
            o -> {
              assertThat(o.getMetadata().getLabels())
                  .containsEntry(Observation.LABEL_ORIGIN_UID, before.getMetadata().getUid());
              assertThat(o.getSpec().resource().name()).isEqualTo("web");
            });
    assertThat(observations())
        .extracting(o -> o.getSpec().severity().wire())
        .containsExactlyInAnyOrder("high", "low", "medium");

    // a finding disappears: its Observation is resolved, the others stay
    client
        .genericKubernetesResources(SCANS)
        .inNamespace(ns)
        .withName("deploy-web")
        .edit(
            r -> {
              @SuppressWarnings("unchecked")
              Map<String, Object> report =
                  (Map<String, Object>) r.getAdditionalProperties().get("report");
              List<?> results = (List<?>) report.get("results");
              report.put("results", results.subList(0, 2));
              return r;
            });
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                observations().stream()
                        .filter(o -> Boolean.TRUE.equals(o.getStatus().resolved()))
                        .count()
                    == 1);

    // counts in the status
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              var s =
                  client
                      .resources(Ingester.class)
                      .inNamespace(ns)
                      .withName("scans")
                      .get()
                      .getStatus();
              assertThat(s.observationsCreated()).isEqualTo(3);
              assertThat(s.eventsTotal()).isEqualTo(5);
            });

    // restart: nothing created twice
    informers.stop();
    informers.start();
    Thread.sleep(1500);
    assertThat(observations()).hasSize(3);

    // the report deleted: everything resolved
    client.genericKubernetesResources(SCANS).inNamespace(ns).withName("deploy-web").delete();
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                observations().stream()
                    .allMatch(o -> Boolean.TRUE.equals(o.getStatus().resolved())));
  }

  @Test
  void deleteAndRecreateTheIngesterWatchesAgain() throws Exception {
    createIngester("scans", spec(List.of(ns), null));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> informers.runningKeys().contains(ns + "/scans"));
    client.resources(Ingester.class).inNamespace(ns).withName("scans").delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> informers.runningKeys().isEmpty());
    createIngester("scans", spec(List.of(ns), null));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> informers.runningKeys().contains(ns + "/scans"));
    report(ns, "later", Map.of());
    await().atMost(Duration.ofSeconds(15)).until(() -> observations().size() == 3);
  }

  @Test
  void aMissingCrdIsReadyFalse() {
    IngesterSpec s =
        new IngesterSpec(
            "nothing",
            IngesterSpec.Type.INFORMER,
            new IngesterSpec.Informer(
                new IngesterSpec.Gvr("nope.example.com", "v1", "widgets"), null, null, null),
            null,
            new IngesterSpec.Mapping(
                null, null, null, "object.metadata.name", null, null, null, null, null, null),
            null,
            null);
    createIngester("missing", s);
    await().atMost(Duration.ofSeconds(10)).until(() -> ready("missing") != null);
    assertThat(ready("missing").getStatus()).isEqualTo("False");
    assertThat(ready("missing").getReason()).isEqualTo("ResourceNotFound");
    assertThat(ready("missing").getMessage())
        .contains("no CustomResourceDefinition widgets.nope.example.com");
  }
}
