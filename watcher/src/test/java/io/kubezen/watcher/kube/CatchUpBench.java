package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.ObservationWriter;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.source.Samples;
import io.kubezen.watcher.source.catalog.Sources;
import io.kubezen.watcher.store.kubernetes.KubernetesObservationStore;
import io.kubezen.watcher.store.kubernetes.KubernetesStoreOptions;
import io.kubezen.watcher.testing.KubeApiServer;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * How long a new leader takes to catch up on 10k existing findings (issue 4's benchmark), against
 * the real API server. Not in the default test run (its name does not end in Test):
 *
 * <pre>
 * ./mvnw -B -o -q -pl watcher test -Dtest=CatchUpBench -Dsurefire.failIfNoSpecifiedTests=false \
 *   -Dbench.reports=100 -Dbench.vulns=100
 * </pre>
 */
class CatchUpBench {

  @Test
  void newLeaderCatchesUpOnExistingFindings() throws Exception {
    int reports = Integer.getInteger("bench.reports", 100);
    int vulns = Integer.getInteger("bench.vulns", 100);
    KubeApiServer.applyZenCrds();
    KubernetesClient client = KubeApiServer.client();
    String ns = KubeApiServer.uniqueNamespace("catchup");
    for (int r = 0; r < reports; r++) {
      client
          .genericKubernetesResources(SourceManagerApiServerTest.VULN)
          .inNamespace(ns)
          .resource(report(ns, "report-" + r, vulns))
          .create();
    }
    // The first leader creates every Observation; the write rate is raised only to set up faster.
    KubernetesStoreOptions options =
        KubernetesStoreOptions.defaults().withWriteRate(2000, 2000).withMaxInFlight(16);
    SourceOptions sources =
        new SourceOptions(Set.of("trivy"), List.of(ns), null, false, Duration.ofSeconds(1));
    try (Leader first = new Leader(client, options, sources)) {
      SourceManager.CatchUp c = first.manager.start().catchUp().get(15, TimeUnit.MINUTES);
      System.out.printf("first leader: created %d in %d ms%n", c.created(), c.took().toMillis());
    }
    long stored = client.resources(Observation.class).inNamespace(ns).list().getItems().size();
    assertThat(stored).isEqualTo((long) reports * vulns);
    // The new leader, with the default write rate (20/s): everything exists.
    try (Leader next = new Leader(client, KubernetesStoreOptions.defaults(), sources)) {
      SourceManager.CatchUp c = next.manager.start().catchUp().get(15, TimeUnit.MINUTES);
      System.out.printf(
          "new leader: %d existing findings, created %d, caught up in %d ms%n",
          stored, c.created(), c.took().toMillis());
      assertThat(c.created()).isZero();
    }
    try {
      client.resources(Observation.class).inNamespace(ns).withTimeout(2, TimeUnit.MINUTES).delete();
    } catch (RuntimeException e) {
      System.out.println("cleanup of " + ns + " did not finish: " + e.getMessage());
    }
  }

  static GenericKubernetesResource report(String ns, String name, int vulns) {
    ObjectNode report = (ObjectNode) Samples.json("trivy/vulnerabilityreport-nginx.json");
    ObjectNode meta = report.putObject("metadata");
    meta.put("name", name).put("namespace", ns);
    meta.putObject("labels")
        .put("trivy-operator.container.name", "nginx")
        .put("trivy-operator.resource.kind", "ReplicaSet")
        .put("trivy-operator.resource.name", name)
        .put("trivy-operator.resource.namespace", ns);
    ObjectNode template = (ObjectNode) report.path("report").path("vulnerabilities").get(0);
    ArrayNode all = Json.MAPPER.createArrayNode();
    for (int i = 0; i < vulns; i++) {
      ObjectNode v = template.deepCopy();
      v.put("vulnerabilityID", "CVE-2024-" + (10000 + i));
      all.add(v);
    }
    ((ObjectNode) report.get("report")).set("vulnerabilities", all);
    return Json.MAPPER.convertValue(report, GenericKubernetesResource.class);
  }

  /** A leader's pipeline over the Kubernetes store. */
  static final class Leader implements AutoCloseable {
    final KubernetesObservationStore store;
    final ObservationWriter writer;
    final SourceManager manager;

    Leader(KubernetesClient client, KubernetesStoreOptions options, SourceOptions sources) {
      Clock clock = Clock.systemUTC();
      Metrics metrics = Metrics.prometheus(Sources.standard().builtInNames());
      store = new KubernetesObservationStore(client, clock, options);
      Deduplicator dedup = new Deduplicator(10_000, Duration.ofSeconds(60));
      writer =
          new ObservationWriter(store, dedup, metrics, 10_000, 500, Duration.ofSeconds(2)).start();
      Pipeline pipeline =
          new Pipeline(
              () -> Filter.ALLOW_ALL,
              new ObservationFactory("zen-system", 604_800, Duration.ofSeconds(60), null),
              dedup,
              writer,
              metrics);
      manager = new SourceManager(client, pipeline, metrics, clock, sources);
    }

    @Override
    public void close() {
      manager.stop();
      writer.close(Duration.ofSeconds(30));
      store.close();
    }
  }
}
