package io.kubezen.watcher.kube.ingester;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.kube.ingester.IngesterStatusWriter.Readiness;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.pipeline.Pipeline;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.ingester.IngesterDefinition;
import io.kubezen.watcher.source.ingester.IngesterPipelines;
import io.kubezen.watcher.source.ingester.IngesterStats;
import io.kubezen.watcher.source.ingester.InvalidIngesterException;
import io.kubezen.watcher.store.ObservationKey;
import io.kubezen.watcher.store.ObservationStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the informer Ingesters (on the leader): for each one, informers on its
 * {@code informer.gvr} (in each of its {@code namespaces}, or everywhere), selected by its label
 * and field selectors. Every object goes through the Ingester's mapping and is reconciled
 * ({@link Pipeline#reconcile}): missing Observations are created, existing ones left alone;
 * Observations of findings that disappeared from the object, or of a deleted object, are resolved.
 * Writes the Ready condition and counts of informer Ingesters.
 *
 * <p>The kind and scope of the resource come from its CustomResourceDefinition
 * ({@code <resource>.<group>}), or from a small table of built-in resources; a resource whose CRD is
 * not installed makes the Ingester Ready=False (ResourceNotFound) and is tried again at each resync.
 */
public final class IngesterInformers implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IngesterInformers.class);

  /** Built-in resources (no CRD to read): group/resource → kind, namespaced. */
  private static final Map<String, Object[]> BUILT_IN = Map.ofEntries(
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
  private final ObservationStore store;
  private final IngesterStatusWriter status;
  private final Clock clock;
  private final Duration statusInterval;
  private final Duration resync;
  private final Map<String, Running> running = new ConcurrentHashMap<>();
  private final Object lock = new Object();
  private IngesterWatch watch;

  /** One running informer Ingester. */
  private static final class Running {
    final String namespace;
    final String name;
    final String uid;
    final long generation;
    final IngesterSpec spec;
    final IngesterStats stats;
    final List<SharedIndexInformer<GenericKubernetesResource>> informers = new ArrayList<>();
    final ExecutorService worker;
    volatile boolean stopped;

    Running(Ingester i, IngesterStats stats) {
      this.namespace = i.getMetadata().getNamespace();
      this.name = i.getMetadata().getName();
      this.uid = i.getMetadata().getUid();
      this.generation = i.getMetadata().getGeneration() == null ? 0 : i.getMetadata().getGeneration();
      this.spec = i.getSpec();
      this.stats = stats;
      this.worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ingester-" + namespace + "-" + name);
        t.setDaemon(true);
        return t;
      });
    }

    void stop() {
      stopped = true;
      informers.forEach(SharedIndexInformer::stop);
      worker.shutdownNow();
    }
  }

  /**
   * @param namespace where to look for Ingesters; null for every namespace
   */
  public IngesterInformers(KubernetesClient client, String namespace, Set<String> builtInSources,
      IngesterPipelines pipelines, ObservationStore store, IngesterStatusWriter status, Clock clock,
      Duration statusInterval, Duration resync) {
    this(client, namespace, List.of(), builtInSources, pipelines, store, status, clock, statusInterval, resync);
  }

  /**
   * @param namespace where to look for Ingesters; null for every namespace
   * @param accessNamespaces the only namespaces this install may read ({@code ACCESS_SCOPE=namespaces}):
   *     CRDs are not read (the resource is taken as namespaced), an Ingester without {@code
   *     informer.namespaces} watches these, and one naming another namespace or a cluster-scoped
   *     resource is not Ready (OutOfScope). Empty: every namespace.
   */
  public IngesterInformers(KubernetesClient client, String namespace, List<String> accessNamespaces,
      Set<String> builtInSources, IngesterPipelines pipelines, ObservationStore store, IngesterStatusWriter status,
      Clock clock, Duration statusInterval, Duration resync) {
    this.client = client;
    this.namespace = namespace;
    this.accessNamespaces = List.copyOf(accessNamespaces);
    this.builtInSources = Set.copyOf(builtInSources);
    this.pipelines = pipelines;
    this.store = store;
    this.status = status;
    this.clock = clock;
    this.statusInterval = statusInterval;
    this.resync = resync;
  }

  /** Starts (on becoming leader). Repeatable after {@link #stop}. */
  public void start() {
    synchronized (lock) {
      if (watch != null) {
        return;
      }
      watch = IngesterWatch.start(client, namespace, resync, statusInterval, "ingester-informer-status",
          this::handle, obj -> stopOne(key(obj), obj.getMetadata().getUid()), this::flushCounts);
    }
  }

  /** Stops every informer (on losing leadership or at shutdown); Observations are left as they are. */
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
      running.values().forEach(Running::stop);
      flushCounts();
      running.clear();
    }
  }

  @Override
  public void close() {
    stop();
  }

  /** The source names of the informer Ingesters running now: state-like, their findings live while reported. */
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

  private static String key(Ingester i) {
    return IngesterWatch.key(i);
  }


  private synchronized void stopOne(String key, String uid) {
    Running r = running.get(key);
    if (r != null && (uid == null || r.uid.equals(uid))) {
      r.stop();
      running.remove(key);
      status.addCounts(r.namespace, r.name, r.uid, r.stats.take());
      LOG.info("Ingester {}: informer stopped", key);
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
    long generation = ing.getMetadata().getGeneration() == null ? 0 : ing.getMetadata().getGeneration();
    String uid = ing.getMetadata().getUid();
    if (current != null && current.uid.equals(uid) && current.generation == generation) {
      return;
    }
    IngesterStats stats = current != null && current.uid.equals(uid) ? current.stats : new IngesterStats();
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
      status.setReady(ns, name, uid, generation, new Readiness(false, "InvalidSpec", e.getMessage()));
      return;
    }
    IngesterSpec.Gvr gvr = spec.informer().gvr();
    String group = gvr.group() == null ? "" : gvr.group();
    ResourceDefinitionContext context;
    try {
      context = context(group, gvr.version(), gvr.resource());
    } catch (IllegalStateException e) {
      LOG.warn("Ingester {}: {}", key, e.getMessage());
      status.setReady(ns, name, uid, generation, new Readiness(false, "ResourceNotFound", e.getMessage()));
      return;
    }
    boolean allNamespaces = spec.informer().namespaces() == null || spec.informer().namespaces().isEmpty();
    List<String> namespaces = allNamespaces || !context.isNamespaceScoped() ? java.util.Collections.singletonList(null)
        : spec.informer().namespaces();
    if (!accessNamespaces.isEmpty()) {
      // Namespaced Roles only: every informer in one namespace this install may read.
      String outside = !context.isNamespaceScoped() ? gvr.resource() + " is cluster-scoped"
          : allNamespaces ? null
          : namespaces.stream().filter(n -> !accessNamespaces.contains(n)).findFirst()
              .map(n -> "informer.namespaces: " + n + " is not").orElse(null);
      if (outside != null) {
        String m = outside + " among the namespaces of ACCESS_SCOPE=namespaces (" + String.join(", ", accessNamespaces)
            + ")";
        LOG.warn("Ingester {}: {}", key, m);
        status.setReady(ns, name, uid, generation, new Readiness(false, "OutOfScope", m));
        return;
      }
      if (allNamespaces) {
        namespaces = accessNamespaces;
      }
    }
    Running r = new Running(ing, stats);
    Pipeline pipeline = pipelines.create(def);
    try {
      for (String watched : namespaces) {
        var op = client.genericKubernetesResources(context);
        FilterWatchListDeletable<GenericKubernetesResource, GenericKubernetesResourceList,
            Resource<GenericKubernetesResource>> f = watched == null ? op.inAnyNamespace() : op.inNamespace(watched);
        if (spec.informer().labelSelector() != null && !spec.informer().labelSelector().isBlank()) {
          f = f.withLabelSelector(spec.informer().labelSelector());
        }
        f = withFieldSelector(f, spec.informer().fieldSelector());
        r.informers.add(f.inform(handler(r, def, pipeline), resync.toMillis()));
      }
    } catch (RuntimeException e) {
      r.stop();
      String m = "informer: cannot watch " + gvr.resource() + "." + group + "/" + gvr.version() + ": " + e.getMessage();
      status.setReady(ns, name, uid, generation, new Readiness(false, "WatchFailed", m));
      return;
    }
    running.put(key, r);
    LOG.info("Ingester {}: watching {} (source {})", key, context.getPlural() + "." + group, spec.source());
    status.setReady(ns, name, uid, generation, Readiness.ok("watching " + gvr.resource()
        + (group.isEmpty() ? "" : "." + group) + "/" + gvr.version()));
  }

  private static FilterWatchListDeletable<GenericKubernetesResource, GenericKubernetesResourceList,
      Resource<GenericKubernetesResource>> withFieldSelector(FilterWatchListDeletable<GenericKubernetesResource,
      GenericKubernetesResourceList, Resource<GenericKubernetesResource>> f, String selector) {
    if (selector == null || selector.isBlank()) {
      return f;
    }
    for (String part : selector.split(",")) {
      String p = part.strip();
      int ne = p.indexOf("!=");
      if (ne > 0) {
        f = f.withoutField(p.substring(0, ne).strip(), p.substring(ne + 2).strip());
        continue;
      }
      int eq = p.indexOf("==");
      int len = 2;
      if (eq < 0) {
        eq = p.indexOf('=');
        len = 1;
      }
      if (eq <= 0) {
        throw new IllegalArgumentException("informer.fieldSelector: '" + p + "' is not key=value or key!=value");
      }
      f = f.withField(p.substring(0, eq).strip(), p.substring(eq + len).strip());
    }
    return f;
  }

  private ResourceDefinitionContext context(String group, String version, String resource) {
    Object[] builtIn = BUILT_IN.get(group + "/" + resource);
    if (builtIn != null) {
      return new ResourceDefinitionContext.Builder().withGroup(group).withVersion(version).withPlural(resource)
          .withKind((String) builtIn[0]).withNamespaced((Boolean) builtIn[1]).build();
    }
    if (!accessNamespaces.isEmpty()) {
      // No right to read CRDs: a custom resource readable with namespaced Roles is a namespaced one.
      return new ResourceDefinitionContext.Builder().withGroup(group).withVersion(version).withPlural(resource)
          .withNamespaced(true).build();
    }
    String crdName = resource + "." + group;
    CustomResourceDefinition crd = group.isEmpty() ? null
        : client.apiextensions().v1().customResourceDefinitions().withName(crdName).get();
    if (crd == null) {
      throw new IllegalStateException("informer.gvr: no CustomResourceDefinition " + crdName
          + " is installed (install it; the Ingester is retried at each resync)");
    }
    boolean served = crd.getSpec().getVersions().stream().anyMatch(v -> version.equals(v.getName())
        && Boolean.TRUE.equals(v.getServed()));
    if (!served) {
      throw new IllegalStateException("informer.gvr.version: CustomResourceDefinition " + crdName
          + " serves no version " + version);
    }
    return new ResourceDefinitionContext.Builder().withGroup(group).withVersion(version).withPlural(resource)
        .withKind(crd.getSpec().getNames().getKind()).withNamespaced("Namespaced".equals(crd.getSpec().getScope()))
        .build();
  }

  private ResourceEventHandler<GenericKubernetesResource> handler(Running r, IngesterDefinition def,
      Pipeline pipeline) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(GenericKubernetesResource obj) {
        submit(r, () -> reconcile(r, def, pipeline, obj));
      }

      @Override
      public void onUpdate(GenericKubernetesResource oldObj, GenericKubernetesResource newObj) {
        if (oldObj != null && Objects.equals(oldObj.getMetadata().getResourceVersion(),
            newObj.getMetadata().getResourceVersion())) {
          return; // a resync: nothing changed
        }
        submit(r, () -> reconcile(r, def, pipeline, newObj));
      }

      @Override
      public void onDelete(GenericKubernetesResource obj, boolean unknown) {
        submit(r, () -> resolveAllOf(obj.getMetadata().getUid(), Set.of()));
      }
    };
  }

  private static void submit(Running r, Runnable task) {
    if (r.stopped) {
      return;
    }
    try {
      r.worker.execute(() -> {
        if (r.stopped) {
          return;
        }
        try {
          task.run();
        } catch (RuntimeException e) {
          LOG.warn("Ingester {}/{}: {}", r.namespace, r.name, e.toString());
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException ignored) {
      // stopped meanwhile
    }
  }

  private void reconcile(Running r, IngesterDefinition def, Pipeline pipeline, GenericKubernetesResource obj) {
    String uid = obj.getMetadata().getUid();
    JsonNode tree = Json.MAPPER.valueToTree(obj);
    List<Finding> findings;
    try {
      findings = def.normalizer().normalize(tree, IngestContext.at(clock.instant()));
    } catch (RuntimeException e) {
      LOG.warn("Ingester {}/{}: {} {}/{} not mapped: {}", r.namespace, r.name, obj.getKind(),
          obj.getMetadata().getNamespace(), obj.getMetadata().getName(), e.getMessage());
      return;
    }
    Pipeline.ReconcileResult result = pipeline.reconcile(def.normalizer(), findings, uid).join();
    r.stats.record(findings.size(), result.created(), clock.instant());
    resolveAllOf(uid, new HashSet<>(result.current()));
  }

  private void resolveAllOf(String uid, Set<ObservationKey> keep) {
    if (uid == null) {
      return;
    }
    List<ObservationKey> gone = new ArrayList<>();
    for (Observation o : store.listByOrigin(uid)) {
      ObservationKey k = new ObservationKey(o.getMetadata().getNamespace(), o.getMetadata().getName());
      boolean resolved = o.getStatus() != null && Boolean.TRUE.equals(o.getStatus().resolved());
      if (!keep.contains(k) && !resolved) {
        gone.add(k);
      }
    }
    if (!gone.isEmpty()) {
      store.resolve(gone, clock.instant());
    }
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
