package io.kubezen.watcher.ingester.informer;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.watcher.ingester.spec.IngesterDefinition;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.spec.InvalidIngesterException;
import io.kubezen.watcher.ingester.status.IngesterStats;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter.Readiness;
import io.kubezen.watcher.ingester.status.IngesterWatch;
import io.kubezen.watcher.kube.FieldSelectors;
import io.kubezen.watcher.kube.SourceManager;
import io.kubezen.watcher.kube.WatchedSource;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.source.ObjectReader;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the informer Ingesters as watched sources of the watch-and-reconcile engine ({@link
 * SourceManager}): for each valid informer Ingester, one {@link WatchedSource} over its {@code
 * informer.gvr} (in each of its {@code namespaces}, or everywhere), selected by its label and field
 * selectors, read as it is and normalized by the Ingester's mapping through the Ingester's own
 * pipeline. The engine does the rest as for the built-in sources: it waits for the CRD, lists in
 * pages, reconciles (missing Observations created, those of findings that left the object or of a
 * deleted object resolved, through the writer), waits out a full write queue, keeps digests in warm
 * standby and catches up from them.
 *
 * <p>This class handles the Ingester objects themselves: it watches them, validates their spec,
 * tells the engine which sources to run ({@link SourceManager#add}, {@link SourceManager#remove}),
 * and, while this replica leads, writes their Ready condition and counts. A resource whose CRD is
 * not installed makes the Ingester Ready=False (ResourceNotFound) until the engine finds it (it
 * looks every {@code CRD_CHECK_INTERVAL}), then Ready=True.
 */
public final class IngesterInformers implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IngesterInformers.class);

  /** Built-in resources (no CRD to read): group/resource → kind, namespaced. */
  private static final Map<String, Object[]> BUILT_IN =
      Map.ofEntries(
          Map.entry("/configmaps", new Object[] {"ConfigMap", true}),
          Map.entry("/pods", new Object[] {"Pod", true}),
          Map.entry("/services", new Object[] {"Service", true}),
          Map.entry("/events", new Object[] {"Event", true}),
          Map.entry("/serviceaccounts", new Object[] {"ServiceAccount", true}),
          Map.entry("/nodes", new Object[] {"Node", false}),
          Map.entry("/namespaces", new Object[] {"Namespace", false}),
          Map.entry("apps/deployments", new Object[] {"Deployment", true}),
          Map.entry("apps/daemonsets", new Object[] {"DaemonSet", true}),
          Map.entry("apps/statefulsets", new Object[] {"StatefulSet", true}),
          Map.entry("batch/jobs", new Object[] {"Job", true}),
          Map.entry("batch/cronjobs", new Object[] {"CronJob", true}),
          Map.entry("events.k8s.io/events", new Object[] {"Event", true}));

  private final KubernetesClient client;
  private final String namespace;
  private final List<String> accessNamespaces;
  private final Set<String> builtInSources;
  private final IngesterPipelines pipelines;
  private final SourceManager engine;
  private final IngesterStatusWriter status;
  private final Clock clock;
  private final Duration statusInterval;
  private final Duration resync;
  private final Map<String, Running> running = new ConcurrentHashMap<>();
  private final Object lock = new Object();
  private IngesterWatch watch;

  /** True while this replica leads: only then are the Ingesters' status and counts written. */
  private volatile boolean leading;

  /** One running informer Ingester: its watched source in the engine. */
  private static final class Running {
    final String namespace;
    final String name;
    final String uid;
    final long generation;
    final IngesterSpec spec;
    final IngesterStats stats;
    final String sourceId;
    final String watching;

    /** What Ready says now, or should say (written while leading). */
    volatile Readiness readiness;

    volatile boolean written;

    Running(
        Ingester i, IngesterStats stats, String sourceId, String watching, Readiness readiness) {
      this.namespace = i.getMetadata().getNamespace();
      this.name = i.getMetadata().getName();
      this.uid = i.getMetadata().getUid();
      this.generation =
          i.getMetadata().getGeneration() == null ? 0 : i.getMetadata().getGeneration();
      this.spec = i.getSpec();
      this.stats = stats;
      this.sourceId = sourceId;
      this.watching = watching;
      this.readiness = readiness;
    }
  }

  /**
   * @param namespace where to look for Ingesters; null for every namespace
   */
  public IngesterInformers(
      KubernetesClient client,
      String namespace,
      Set<String> builtInSources,
      IngesterPipelines pipelines,
      SourceManager engine,
      IngesterStatusWriter status,
      Clock clock,
      Duration statusInterval,
      Duration resync) {
    this(
        client,
        namespace,
        List.of(),
        builtInSources,
        pipelines,
        engine,
        status,
        clock,
        statusInterval,
        resync);
  }

  /**
   * @param namespace where to look for Ingesters; null for every namespace
   * @param accessNamespaces the only namespaces this install may read ({@code
   *     ACCESS_SCOPE=namespaces}): CRDs are not read (the resource is taken as namespaced), an
   *     Ingester without {@code informer.namespaces} watches these, and one naming another
   *     namespace or a cluster-scoped resource is not Ready (OutOfScope). Empty: every namespace.
   * @param engine the engine that runs the watched sources (started, in standby or stopped by the
   *     caller)
   */
  public IngesterInformers(
      KubernetesClient client,
      String namespace,
      List<String> accessNamespaces,
      Set<String> builtInSources,
      IngesterPipelines pipelines,
      SourceManager engine,
      IngesterStatusWriter status,
      Clock clock,
      Duration statusInterval,
      Duration resync) {
    this.client = client;
    this.namespace = namespace;
    this.accessNamespaces = List.copyOf(accessNamespaces);
    this.builtInSources = Set.copyOf(builtInSources);
    this.pipelines = pipelines;
    this.engine = Objects.requireNonNull(engine, "engine");
    this.status = status;
    this.clock = clock;
    this.statusInterval = statusInterval;
    this.resync = resync;
  }

  /**
   * Starts leading (on becoming leader): the Ingesters are watched and their status written.
   * Repeatable after {@link #stop}.
   */
  public void start() {
    leading = true;
    watchIngesters();
    for (Running r : running.values()) {
      r.written = false; // a new leader writes what it sees
    }
  }

  /**
   * Warm standby: the Ingesters are watched and their sources run in the engine (which remembers,
   * but writes nothing while not leading); no status is written. {@link #start} makes it lead.
   */
  public void standby() {
    leading = false;
    watchIngesters();
  }

  /**
   * Leading to warm standby: the sources keep running in the engine; the status is no longer
   * written.
   */
  public void demote() {
    if (leading) {
      flushCounts();
    }
    leading = false;
  }

  private void watchIngesters() {
    synchronized (lock) {
      if (watch != null) {
        return;
      }
      watch =
          IngesterWatch.start(
              client,
              namespace,
              resync,
              statusInterval,
              "ingester-informer-status",
              this::handle,
              obj -> stopOne(key(obj), obj.getMetadata().getUid()),
              this::tick);
    }
  }

  /**
   * Stops watching Ingesters and removes their sources from the engine; Observations are left as
   * they are.
   */
  public void stop() {
    IngesterWatch w;
    synchronized (lock) {
      w = watch;
      watch = null;
    }
    if (w != null) {
      w.stop();
    }
    synchronized (this) {
      if (leading) {
        flushCounts();
      }
      running.values().forEach(r -> engine.remove(r.sourceId));
      running.clear();
    }
    leading = false;
  }

  @Override
  public void close() {
    stop();
  }

  /**
   * The source names of the informer Ingesters running now: state-like, their findings live while
   * reported.
   */
  public Set<String> sourceNames() {
    Set<String> out = new java.util.TreeSet<>();
    for (Running r : running.values()) {
      if (r.spec != null && r.spec.source() != null) {
        out.add(r.spec.source());
      }
    }
    return out;
  }

  /** The informer Ingesters running now ({@code namespace/name}). */
  public Set<String> runningKeys() {
    return Set.copyOf(running.keySet());
  }

  /** The id of the engine's watched source of an Ingester: {@code ingester:<namespace>/<name>}. */
  public static String sourceId(String ingesterKey) {
    return "ingester:" + ingesterKey;
  }

  private static String key(Ingester i) {
    return IngesterWatch.key(i);
  }

  private synchronized void stopOne(String key, String uid) {
    Running r = running.get(key);
    if (r != null && (uid == null || r.uid.equals(uid))) {
      engine.remove(r.sourceId);
      running.remove(key);
      if (leading) {
        status.addCounts(r.namespace, r.name, r.uid, r.stats.take());
      }
      LOG.info("Ingester {}: informer stopped", key);
    }
  }

  private void setReady(String ns, String name, String uid, long generation, Readiness r) {
    if (leading) {
      status.setReady(ns, name, uid, generation, r);
    }
  }

  private synchronized void handle(Ingester ing) {
    String key = key(ing);
    IngesterSpec spec = ing.getSpec();
    Running current = running.get(key);
    if (spec == null || spec.type() != IngesterSpec.Type.INFORMER) {
      if (current != null) {
        stopOne(key, null);
      }
      return;
    }
    long generation =
        ing.getMetadata().getGeneration() == null ? 0 : ing.getMetadata().getGeneration();
    String uid = ing.getMetadata().getUid();
    if (current != null && current.uid.equals(uid) && current.generation == generation) {
      return;
    }
    IngesterStats stats =
        current != null && current.uid.equals(uid) ? current.stats : new IngesterStats();
    if (current != null) {
      stopOne(key, null);
    }
    String ns = ing.getMetadata().getNamespace();
    String name = ing.getMetadata().getName();
    IngesterDefinition def;
    try {
      def = IngesterDefinition.compile(key, spec, builtInSources);
    } catch (InvalidIngesterException e) {
      LOG.warn("Ingester {} is invalid: {}", key, e.getMessage());
      setReady(ns, name, uid, generation, new Readiness(false, "InvalidSpec", e.getMessage()));
      return;
    }
    IngesterSpec.Gvr gvr = spec.informer().gvr();
    String group = gvr.group() == null ? "" : gvr.group();
    String label = gvr.resource() + (group.isEmpty() ? "" : "." + group) + "/" + gvr.version();
    Resolved resolved = context(group, gvr.version(), gvr.resource());
    ResourceDefinitionContext context = resolved.context();
    boolean allNamespaces =
        spec.informer().namespaces() == null || spec.informer().namespaces().isEmpty();
    List<String> namespaces = allNamespaces ? List.of() : spec.informer().namespaces();
    if (!accessNamespaces.isEmpty()) {
      // Namespaced Roles only: every informer in one namespace this install may read.
      String outside =
          !context.isNamespaceScoped()
              ? gvr.resource() + " is cluster-scoped"
              : allNamespaces
                  ? null
                  : namespaces.stream()
                      .filter(n -> !accessNamespaces.contains(n))
                      .findFirst()
                      .map(n -> "informer.namespaces: " + n + " is not")
                      .orElse(null);
      if (outside != null) {
        String m =
            outside
                + " among the namespaces of ACCESS_SCOPE=namespaces ("
                + String.join(", ", accessNamespaces)
                + ")";
        LOG.warn("Ingester {}: {}", key, m);
        setReady(ns, name, uid, generation, new Readiness(false, "OutOfScope", m));
        return;
      }
      if (allNamespaces) {
        namespaces = accessNamespaces;
      }
    }
    try { // checked here: the engine's watch would fail on it
      FieldSelectors.apply(
          client.genericKubernetesResources(context).inAnyNamespace(),
          spec.informer().fieldSelector());
    } catch (RuntimeException e) {
      String m =
          "informer: cannot watch "
              + gvr.resource()
              + "."
              + group
              + "/"
              + gvr.version()
              + ": "
              + e.getMessage();
      setReady(ns, name, uid, generation, new Readiness(false, "WatchFailed", m));
      return;
    }
    Pipeline pipeline = pipelines.create(def);
    String sourceId = sourceId(key);
    WatchedSource source =
        new WatchedSource(
            spec.source(),
            context,
            spec.informer().labelSelector(),
            ObjectReader.asIs(),
            def.normalizer(),
            resolved.crdName(),
            spec.informer().fieldSelector(),
            namespaces,
            sourceId,
            pipeline,
            (findings, created) -> stats.record(findings, created, clock.instant()));
    Readiness readiness =
        resolved.missing() != null
            ? new Readiness(false, "ResourceNotFound", resolved.missing())
            : Readiness.ok("watching " + label);
    Running r = new Running(ing, stats, sourceId, "watching " + label, readiness);
    engine.remove(sourceId); // a previous generation's, if any
    try {
      engine.add(source);
    } catch (RuntimeException e) {
      String m = "informer: cannot watch " + label + ": " + e.getMessage();
      setReady(ns, name, uid, generation, new Readiness(false, "WatchFailed", m));
      return;
    }
    running.put(key, r);
    LOG.info(
        "Ingester {}: watching {} (source {}){}",
        key,
        label,
        spec.source(),
        resolved.missing() == null ? "" : "; " + resolved.missing());
    writeReady(r);
  }

  /** Writes the Ready condition of {@code r} when leading and not yet written. */
  private void writeReady(Running r) {
    if (!leading || r.written) {
      return;
    }
    try {
      status.setReady(r.namespace, r.name, r.uid, r.generation, r.readiness);
      r.written = true;
    } catch (RuntimeException e) {
      LOG.debug(
          "Ingester {}/{}: cannot write Ready (retried): {}", r.namespace, r.name, e.toString());
    }
  }

  /**
   * The status timer: Ready follows the engine (waiting for the CRD, or watching), then the counts.
   */
  private void tick() {
    for (Running r : running.values()) {
      String s = engine.status(r.sourceId);
      String failure = engine.failure(r.sourceId);
      Readiness next = r.readiness;
      if (s == null || s.equals("stopped") || s.startsWith("checking")) {
        next = r.readiness; // not known yet
      } else if (failure != null) { // a 403 on the list or watch, say: retried by the engine
        String m =
            "informer: cannot " + r.watching.replaceFirst("^watching", "watch") + ": " + failure;
        next =
            m.equals(r.readiness.message()) ? r.readiness : new Readiness(false, "WatchFailed", m);
      } else if (s.startsWith("waiting for CRD") || s.startsWith("cluster-scoped")) {
        next =
            r.readiness.ready() || !"ResourceNotFound".equals(r.readiness.reason())
                ? new Readiness(false, "ResourceNotFound", s)
                : r.readiness;
      } else if (!r.readiness.ready() && s.startsWith("synced")) {
        next = Readiness.ok(r.watching);
        LOG.info("Ingester {}/{}: its resource is served; {}", r.namespace, r.name, r.watching);
      }
      if (next != r.readiness) {
        r.readiness = next;
        r.written = false;
      }
      writeReady(r);
    }
    if (leading) {
      flushCounts();
    }
  }

  /**
   * A resource context, its CRD (null for a built-in resource), and why it cannot be watched yet
   * (or null).
   */
  private record Resolved(ResourceDefinitionContext context, String crdName, String missing) {}

  private Resolved context(String group, String version, String resource) {
    Object[] builtIn = BUILT_IN.get(group + "/" + resource);
    if (builtIn != null) {
      return new Resolved(
          new ResourceDefinitionContext.Builder()
              .withGroup(group)
              .withVersion(version)
              .withPlural(resource)
              .withKind((String) builtIn[0])
              .withNamespaced((Boolean) builtIn[1])
              .build(),
          null,
          null);
    }
    String crdName = resource + "." + group;
    // Without a kind the engine reads the kind and scope from the CRD once it is there.
    ResourceDefinitionContext unknown =
        new ResourceDefinitionContext.Builder()
            .withGroup(group)
            .withVersion(version)
            .withPlural(resource)
            .withNamespaced(true)
            .build();
    if (!accessNamespaces.isEmpty()) {
      // No right to read CRDs: a custom resource readable with namespaced Roles is a namespaced
      // one.
      return new Resolved(unknown, crdName, null);
    }
    CustomResourceDefinition crd;
    try {
      crd =
          group.isEmpty()
              ? null
              : client.apiextensions().v1().customResourceDefinitions().withName(crdName).get();
    } catch (RuntimeException e) {
      return new Resolved(
          unknown,
          crdName,
          "informer.gvr: cannot read CustomResourceDefinition "
              + crdName
              + ": "
              + e.getMessage()
              + " (retried)");
    }
    if (crd == null) {
      return new Resolved(
          unknown,
          crdName,
          "informer.gvr: no CustomResourceDefinition "
              + crdName
              + " is installed (the Ingester starts when it is)");
    }
    boolean served =
        crd.getSpec().getVersions().stream()
            .anyMatch(v -> version.equals(v.getName()) && Boolean.TRUE.equals(v.getServed()));
    if (!served) {
      return new Resolved(
          unknown,
          crdName,
          "informer.gvr.version: CustomResourceDefinition "
              + crdName
              + " serves no version "
              + version
              + " (the Ingester starts when it does)");
    }
    return new Resolved(
        new ResourceDefinitionContext.Builder()
            .withGroup(group)
            .withVersion(version)
            .withPlural(resource)
            .withKind(crd.getSpec().getNames().getKind())
            .withNamespaced("Namespaced".equals(crd.getSpec().getScope()))
            .build(),
        crdName,
        null);
  }

  void flushCounts() {
    for (Running r : running.values()) {
      IngesterStats.Delta d = r.stats.take();
      boolean ok;
      try {
        ok = status.addCounts(r.namespace, r.name, r.uid, d);
      } catch (RuntimeException e) {
        ok = false;
      }
      if (!ok) {
        r.stats.restore(d);
      }
    }
  }
}
