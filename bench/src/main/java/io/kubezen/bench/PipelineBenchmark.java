package io.kubezen.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.watcher.http.BodyParser;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.pipeline.ObservationFactory;
import io.kubezen.watcher.pipeline.dedup.Deduplicator;
import io.kubezen.watcher.pipeline.filter.Decision;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.pipeline.filter.FilterConfigException;
import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.falco.FalcoNormalizer;
import io.kubezen.watcher.source.k8saudit.AuditNormalizer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The in-memory part of the webhook path, on one thread, from the request body's bytes: JSON parse
 * (the program's own {@link BodyParser}, hence {@code Json.MAPPER}), the real normalizer, a {@link
 * Filter} compiled from a realistic config, {@link ObservationFactory#place} (fingerprint, name),
 * the real {@link Deduplicator}, and for first sightings the Observation built for the store. No
 * store, no HTTP, no metrics: those are measured by webhook-load.sh.
 *
 * <p>{@code filter}: {@code cel} the config below with its CEL expressions; {@code fields} the same
 * config without the expressions; {@code none} no filter at all.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@State(Scope.Thread)
public class PipelineBenchmark {

  /**
   * A realistic filter config (docs/filter.md): system namespace out, a noisy rule out, CEL per
   * source.
   */
  static final String FILTER_WITH_CEL =
      """
      global:
        minSeverity: info
        excludeNamespaces: [kube-system]
      sources:
        falco:
          excludeRules: ["Contact K8S API Server From Container"]
          expression: "severity in ['critical', 'high'] || !(has(resource.namespace) && resource.namespace.startsWith('dev-'))"
        k8s-audit:
          expression: "eventType != 'secret_access' || !has(details.user) || details.user != 'ci-deployer'"
      """;

  /** The same without the expressions. */
  static final String FILTER_WITHOUT_CEL =
      FILTER_WITH_CEL
          .lines()
          .filter(l -> !l.strip().startsWith("expression:"))
          .reduce("", (a, b) -> a + b + "\n")
          .replace("  k8s-audit:\n", "");

  /** Events per audit EventList: the API server webhook backend's maximum batch. */
  public static final int AUDIT_BATCH = 400;

  @Param({"cel", "fields", "none"})
  public String filter;

  private Stages stages;
  private final FalcoNormalizer falco = new FalcoNormalizer();
  private final AuditNormalizer audit = new AuditNormalizer();
  private final IngestContext context =
      new IngestContext(Instant.parse("2025-06-01T09:41:05Z"), Map.of());

  private List<Slots> alerts;
  private int nextAlert;
  private List<Slots> eventLists;
  private int nextList;
  private long counter = 1;

  @Setup(Level.Trial)
  public void setUp() throws FilterConfigException {
    Filter f =
        switch (filter) {
          case "cel" -> Filter.parse(FILTER_WITH_CEL);
          case "fields" -> Filter.parse(FILTER_WITHOUT_CEL);
          case "none" -> Filter.ALLOW_ALL;
          default -> throw new IllegalArgumentException(filter);
        };
    stages = new Stages(f);
    // 1000 distinct alerts; one in ten gets a new container id each time it comes round (a new
    // Observation).
    alerts = Fixtures.falcoAlerts(1000, 10);
    eventLists = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      eventLists.add(Fixtures.auditEventList(AUDIT_BATCH, 1000 + i, i * 1000, 16));
    }
  }

  @TearDown(Level.Trial)
  public void report() {
    System.out.println();
    System.out.println("[" + filter + "] " + stages.summary());
  }

  /** One Falco alert (one request body of ~1.3 KB) through the whole in-memory path. */
  @Benchmark
  public int falcoAlert(Blackhole bh) {
    Slots s = alerts.get(nextAlert);
    nextAlert = nextAlert + 1 == alerts.size() ? 0 : nextAlert + 1;
    if (s.count() > 0) {
      counter = s.refresh(counter);
    }
    JsonNode input = BodyParser.parse(s.bytes(), BodyFormat.JSON, false);
    return stages.run(falco, input, context, bh);
  }

  /** One 400-item audit EventList; JMH divides by 400, so the score is audit events per second. */
  @Benchmark
  @OperationsPerInvocation(AUDIT_BATCH)
  public int auditEventList(Blackhole bh) {
    Slots s = eventLists.get(nextList);
    nextList = nextList + 1 == eventLists.size() ? 0 : nextList + 1;
    counter = s.refresh(counter);
    JsonNode input = BodyParser.parse(s.bytes(), BodyFormat.JSON, true);
    return stages.run(audit, input, context, bh);
  }

  /** What Pipeline.process does before the store, without metrics or futures. */
  static final class Stages {
    private final Filter filter;
    private final ObservationFactory factory =
        new ObservationFactory("zen-system", 604_800, Duration.ofSeconds(60), null);
    private final Deduplicator dedup = new Deduplicator(10_000, Duration.ofSeconds(60));
    private long findings;
    private long filtered;
    private long firsts;
    private long repeats;
    private long drained;

    Stages(Filter filter) {
      this.filter = filter;
    }

    int run(Normalizer normalizer, JsonNode input, IngestContext context, Blackhole bh) {
      List<Finding> out = normalizer.normalize(input, context);
      int kept = 0;
      for (Finding f : out) {
        findings++;
        Decision d = filter.apply(f);
        if (!d.kept()) {
          filtered++;
          continue;
        }
        kept++;
        ObservationFactory.Placement p = factory.place(f, normalizer.kind());
        Deduplicator.Admission a =
            dedup.admit(p.fingerprint(), p.namespace(), p.name(), f.detectedAt());
        if (a instanceof Deduplicator.First) {
          firsts++;
          bh.consume(factory.build(f, p));
          dedup.stored(a.entry()); // as if the store had taken it
        } else {
          repeats++;
        }
        // The writer drains the repeats once per flush interval; here every 4096 admissions.
        if (((firsts + repeats) & 4095) == 0) {
          drained += dedup.drainRepeats().size();
        }
      }
      return kept;
    }

    String summary() {
      return String.format(
          "findings=%d filtered=%d (%.1f%%) firsts=%d (%.1f%%) repeats=%d flushed=%d dedupSize=%d",
          findings,
          filtered,
          100.0 * filtered / Math.max(1, findings),
          firsts,
          100.0 * firsts / Math.max(1, firsts + repeats),
          repeats,
          drained,
          dedup.size());
    }
  }
}
