package io.kubezen.watcher.ingester.informer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import io.kubezen.watcher.kube.ApiRequestMetrics;
import io.kubezen.watcher.kube.SourceManager;
import io.kubezen.watcher.kube.SourceOptions;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.source.Samples;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.sqlite.SqliteObservationStore;
import io.kubezen.watcher.testing.KubeApiServer;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Informer Ingesters as watched sources of the engine ({@link SourceManager}), against the real API
 * server: they wait for their CRD, survive a full write queue, and take over from warm standby with
 * a catch-up that reads only what changed.
 */
class IngesterEngineTest {
  static final Clock CLOCK = Clock.systemUTC();
  static final ResourceDefinitionContext SCANS = IngesterInformersTest.SCANS;
  static KubernetesClient client;
  @TempDir Path tmp;
  String ns;
  final List<AutoCloseable> closing = new ArrayList<>();
  SqliteObservationStore store;
  ObservationWriter writer;
  Pipeline pipeline;
  IngesterPipelines pipelines;
  Metrics metrics;

  @BeforeAll
  static void crds() throws Exception {
    KubeApiServer.applyZenCrds();
    try (var in =
        IngesterEngineTest.class.getResourceAsStream("/crds/scanreports.scans.example.com.yaml")) {
      KubeApiServer.apply(in);
    }
    client = KubeApiServer.client();
  }

  @BeforeEach
  void namespace() {
    ns = KubeApiServer.uniqueNamespace("ieng");
  }

  /**
   * The store and writer one leader and its followers share (as they share the API server's
   * Observations).
   */
  void rig(int writeQueue, boolean startWriter) {
    store = SqliteObservationStore.open(tmp.resolve("obs.db"), CLOCK);
    metrics = Metrics.prometheus(Sources.standard().builtInNames());
    Deduplicator dedup = new Deduplicator(10_000, Duration.ofMinutes(10));
    writer = new ObservationWriter(store, dedup, metrics, writeQueue, 100, Duration.ofMillis(50));
    if (startWriter) {
      startWriter();
    }
    ObservationFactory factory =
        new ObservationFactory("zen-system", 3600, Duration.ofMinutes(10), null);
    pipeline = new Pipeline(() -> Filter.ALLOW_ALL, factory, dedup, writer, metrics);
    pipelines =
        new IngesterPipelines(
            () -> Filter.ALLOW_ALL, dedup, writer, metrics, factory, Duration.ofMinutes(10));
  }

  boolean writerStarted;

  void startWriter() {
    if (!writerStarted) {
      writerStarted = true;
      writer.start();
    }
  }

  /** One replica: its engine and its informer Ingesters, over {@code c}. */
  record Replica(SourceManager engine, IngesterInformers ingesters) implements AutoCloseable {
    @Override
    public void close() {
      ingesters.stop();
      engine.stop();
    }
  }

  Replica replica(KubernetesClient c) {
    SourceManager engine =
        new SourceManager(
            c,
            pipeline,
            metrics,
            CLOCK,
            SourceOptions.defaults().withCrdCheckInterval(Duration.ofMillis(300)),
            List.of());
    IngesterInformers ingesters =
        new IngesterInformers(
            c,
            ns,
            Sources.standard().builtInNames(),
            pipelines,
            engine,
            new IngesterStatusWriter(c, CLOCK),
            CLOCK,
            Duration.ofMillis(300),
            Duration.ofMinutes(10));
    Replica r = new Replica(engine, ingesters);
    closing.add(r);
    return r;
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
    if (writer != null) {
      startWriter(); // a writer never started cannot close
      writer.close();
      store.close();
    }
  }

  void createIngester(String name, IngesterSpec spec) {
    Ingester i = new Ingester();
    i.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
    i.setSpec(spec);
    client.resources(Ingester.class).inNamespace(ns).resource(i).create();
  }

  static IngesterSpec spec(String group, List<String> namespaces) {
    IngesterSpec s = IngesterInformersTest.spec(namespaces, null);
    return new IngesterSpec(
        s.source(),
        s.type(),
        new IngesterSpec.Informer(
            new IngesterSpec.Gvr(group, "v1", "scanreports"), namespaces, null, null),
        s.webhook(),
        s.mapping(),
        s.filter(),
        s.dedup());
  }

  GenericKubernetesResource report(ResourceDefinitionContext ctx, String name) throws Exception {
    JsonNode sample = Samples.json("ingester/scanreport.json");
    GenericKubernetesResource r = Json.MAPPER.treeToValue(sample, GenericKubernetesResource.class);
    r.setApiVersion(ctx.getGroup() + "/" + ctx.getVersion());
    r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
    return client.genericKubernetesResources(ctx).inNamespace(ns).resource(r).create();
  }

  List<Observation> observations() {
    return store
        .list(new ObservationQuery("acme-scan", null, null, null, null, 1000, null))
        .items();
  }

  long resolved() {
    return observations().stream()
        .filter(o -> Boolean.TRUE.equals(o.getStatus().resolved()))
        .count();
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
  void waitsForItsCrdAndStartsWhenItAppears() throws Exception {
    rig(1000, true);
    Replica leader = replica(client);
    leader.engine().start();
    leader.ingesters().start();
    String group = "late" + UUID.randomUUID().toString().substring(0, 8) + ".example.com";
    createIngester("late", spec(group, List.of(ns)));
    String id = IngesterInformers.sourceId(ns + "/late");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              assertThat(leader.engine().status(id))
                  .isEqualTo("waiting for CRD scanreports." + group);
              assertThat(ready("late")).isNotNull();
              assertThat(ready("late").getStatus()).isEqualTo("False");
              assertThat(ready("late").getReason()).isEqualTo("ResourceNotFound");
            });
    assertThat(leader.ingesters().runningKeys()).contains(ns + "/late");

    // the CRD is installed: the engine finds it (kind and scope from it), watches, reconciles
    String yaml =
        Files.readString(
                Path.of(getClass().getResource("/crds/scanreports.scans.example.com.yaml").toURI()))
            .replace("scans.example.com", group);
    KubeApiServer.apply(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
    ResourceDefinitionContext late =
        new ResourceDefinitionContext.Builder()
            .withGroup(group)
            .withVersion("v1")
            .withPlural("scanreports")
            .withKind("ScanReport")
            .withNamespaced(true)
            .build();
    report(late, "deploy-web");
    await().atMost(Duration.ofSeconds(20)).until(() -> observations().size() == 3);
    assertThat(leader.engine().status(id)).isEqualTo("synced");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> assertThat(ready("late")).extracting(Condition::getStatus).isEqualTo("True"));
  }

  @Test
  void aFullWriteQueueDoesNotDropAnObject() throws Exception {
    rig(1, false); // room for one Observation, and nothing written until the writer starts
    Replica leader = replica(client);
    leader.engine().start();
    leader.ingesters().start();
    createIngester("scans", spec("scans.example.com", List.of(ns)));
    report(SCANS, "first");
    report(SCANS, "second");
    report(SCANS, "third");
    // the first object takes the whole queue; the others are refused (OverloadedException) and
    // retried
    Thread.sleep(3000);
    assertThat(writer.queued()).isBetween(1, 3);
    assertThat(observations()).isEmpty();
    startWriter();
    await().atMost(Duration.ofSeconds(30)).until(() -> observations().size() == 9);
    assertThat(resolved()).isZero();
  }

  @Test
  void aFollowerInWarmStandbyTakesOverReadingOnlyWhatChanged() throws Exception {
    rig(1000, true);
    Map<String, AtomicLong> counts = new ConcurrentHashMap<>();
    ApiRequestMetrics interceptor =
        new ApiRequestMetrics(
            (verb, resource, code, nanos) ->
                counts
                    .computeIfAbsent(verb + " " + resource, k -> new AtomicLong())
                    .incrementAndGet());
    KubernetesClient followerClient =
        new KubernetesClientBuilder()
            .withConfig(KubeApiServer.config())
            .withHttpClientBuilderConsumer(
                b -> b.addOrReplaceInterceptor(ApiRequestMetrics.NAME, interceptor))
            .build();
    closing.add(followerClient);
    Replica leader = replica(client);
    leader.engine().start();
    leader.ingesters().start();
    Replica follower = replica(followerClient);
    follower.engine().standby();
    follower.ingesters().standby();

    createIngester("scans", spec("scans.example.com", List.of(ns)));
    for (int i = 0; i < 5; i++) {
      report(SCANS, "report-" + i);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> observations().size() == 15);
    String id = IngesterInformers.sourceId(ns + "/scans");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> "synced".equals(follower.engine().status(id)));

    // the leader goes; meanwhile one report loses a finding (the follower sees it, writes nothing)
    leader.close();
    client
        .genericKubernetesResources(SCANS)
        .inNamespace(ns)
        .withName("report-2")
        .edit(
            r -> {
              @SuppressWarnings("unchecked")
              Map<String, Object> report =
                  (Map<String, Object>) r.getAdditionalProperties().get("report");
              report.put("results", ((List<?>) report.get("results")).subList(0, 2));
              return r;
            });
    Thread.sleep(1500);
    assertThat(resolved()).as("a follower writes nothing").isZero();

    counts.clear();
    follower.engine().start();
    follower.ingesters().start();
    SourceManager.CatchUp c = follower.engine().catchUp().get(30, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(10)).until(() -> resolved() == 1);
    assertThat(observations()).hasSize(15);
    assertThat(c.created()).isZero();
    // only the changed report was read; the four others matched their Observations
    assertThat(counts.getOrDefault("get scanreports", new AtomicLong()).get())
        .as(counts.toString())
        .isEqualTo(1);
    assertThat(counts.getOrDefault("list scanreports", new AtomicLong()).get())
        .as("no re-list")
        .isZero();
  }

  @Test
  void aWatchTheServerRefusesIsReadyFalseWatchFailed() throws Exception {
    rig(1000, true);
    Replica leader = replica(client);
    leader.engine().start();
    leader.ingesters().start();
    IngesterSpec s = spec("scans.example.com", List.of(ns));
    // custom resources support no field selector but metadata.name/namespace: the list is refused
    // (400)
    createIngester(
        "refused",
        new IngesterSpec(
            s.source(),
            s.type(),
            new IngesterSpec.Informer(s.informer().gvr(), List.of(ns), null, "spec.nope=x"),
            s.webhook(),
            s.mapping(),
            s.filter(),
            s.dedup()));
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              assertThat(ready("refused")).isNotNull();
              assertThat(ready("refused").getStatus()).isEqualTo("False");
              assertThat(ready("refused").getReason()).isEqualTo("WatchFailed");
              assertThat(ready("refused").getMessage())
                  .startsWith("informer: cannot watch scanreports.scans.example.com/v1: 400");
            });
    assertThat(leader.engine().status(IngesterInformers.sourceId(ns + "/refused")))
        .isEqualTo("syncing");
  }
}
