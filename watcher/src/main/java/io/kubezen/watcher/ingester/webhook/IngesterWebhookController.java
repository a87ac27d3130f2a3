package io.kubezen.watcher.ingester.webhook;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.watcher.ingester.spec.IngesterDefinition;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.spec.InvalidIngesterException;
import io.kubezen.watcher.ingester.status.IngesterStats;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter;
import io.kubezen.watcher.ingester.status.IngesterStatusWriter.Readiness;
import io.kubezen.watcher.ingester.status.IngesterWatch;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the webhook routes up to date from the webhook Ingesters in the cluster: runs on every
 * replica (each serves the webhooks). Created, changed and deleted Ingesters take effect at once;
 * an Ingester re-created with the same path gets the path again. Writes the {@code Ready} condition
 * of webhook Ingesters (informer Ingesters are {@link
 * io.kubezen.watcher.ingester.informer.IngesterInformers}' business) and, every {@code
 * statusInterval}, the counts of what each route received.
 *
 * <p>Credentials (auth bearer or basic) are read from the Secret when the Ingester is seen (added,
 * changed, and at every informer resync), kept in memory, compared in constant time.
 */
public final class IngesterWebhookController implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IngesterWebhookController.class);

  private final KubernetesClient client;
  private final String namespace;
  private final Set<String> builtInSources;
  private final IngesterRegistry registry;
  private final IngesterPipelines pipelines;
  private final IngesterStatusWriter status;
  private final Duration statusInterval;
  private final Duration resync;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  private final Object lock = new Object();
  private IngesterWatch watch;

  /** What this controller did with one Ingester. */
  private record Entry(
      String namespace,
      String name,
      String uid,
      long generation,
      IngesterStats stats,
      String credentials,
      boolean routed,
      boolean conflict) {}

  /**
   * @param namespace where to look for Ingesters; null for every namespace
   * @param statusInterval how often counts are written to the status
   * @param resync how often every Ingester is looked at again (Secrets re-read)
   */
  public IngesterWebhookController(
      KubernetesClient client,
      String namespace,
      Set<String> builtInSources,
      IngesterRegistry registry,
      IngesterPipelines pipelines,
      IngesterStatusWriter status,
      Duration statusInterval,
      Duration resync) {
    this.client = client;
    this.namespace = namespace;
    this.builtInSources = Set.copyOf(builtInSources);
    this.registry = registry;
    this.pipelines = pipelines;
    this.status = status;
    this.statusInterval = statusInterval;
    this.resync = resync;
  }

  /**
   * Starts watching Ingesters; returns once the first list is handled. Repeatable after {@link
   * #stop}.
   */
  public void start() {
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
              "ingester-status",
              this::handle,
              this::deleted,
              this::flushCounts);
    }
  }

  /** Stops watching, writes the last counts and removes every route this controller installed. */
  public void stop() {
    IngesterWatch w;
    synchronized (lock) {
      w = watch;
      watch = null;
    }
    if (w != null) {
      w.stop();
    }
    flushCounts();
    for (String key : entries.keySet()) {
      registry.remove(key);
    }
    entries.clear();
  }

  @Override
  public void close() {
    stop();
  }

  private static String key(Ingester i) {
    return IngesterWatch.key(i);
  }

  private synchronized void handle(Ingester ing) {
    String key = key(ing);
    String uid = ing.getMetadata().getUid();
    long generation =
        ing.getMetadata().getGeneration() == null ? 0 : ing.getMetadata().getGeneration();
    IngesterSpec spec = ing.getSpec();
    Entry e = entries.get(key);
    if (e != null && !Objects.equals(e.uid(), uid)) {
      registry.remove(key);
      entries.remove(key);
      e = null;
    }
    if (spec != null && spec.type() == IngesterSpec.Type.INFORMER) {
      if (e != null) {
        registry.remove(key);
        entries.remove(key);
      }
      return;
    }
    IngesterStats stats = e != null ? e.stats() : new IngesterStats();
    String ns = ing.getMetadata().getNamespace();
    String name = ing.getMetadata().getName();
    IngesterDefinition def;
    try {
      def = IngesterDefinition.compile(key, spec, builtInSources);
    } catch (InvalidIngesterException ex) {
      registry.remove(key);
      entries.put(key, new Entry(ns, name, uid, generation, stats, null, false, false));
      LOG.warn("Ingester {} is invalid: {}", key, ex.getMessage());
      status.setReady(
          ns, name, uid, generation, new Readiness(false, "InvalidSpec", ex.getMessage()));
      return;
    }
    Credentials c = credentials(ns, def);
    if (e != null
        && e.routed()
        && e.generation() == generation
        && Objects.equals(e.credentials(), c.fingerprint())) {
      return;
    }
    try {
      registry.put(IngesterRegistry.Route.of(def, pipelines, c.auth(), stats));
    } catch (IngesterRegistry.PathTakenException ex) {
      registry.remove(key);
      entries.put(key, new Entry(ns, name, uid, generation, stats, null, false, true));
      status.setReady(
          ns, name, uid, generation, new Readiness(false, "PathConflict", ex.getMessage()));
      return;
    }
    entries.put(key, new Entry(ns, name, uid, generation, stats, c.fingerprint(), true, false));
    LOG.info(
        "Ingester {}: serving /ingest/{} (source {}, auth {})",
        key,
        def.path(),
        spec.source(),
        def.authType().wire());
    Readiness r =
        c.auth().problem() == null
            ? Readiness.ok("serving /ingest/" + def.path())
            : new Readiness(false, "CredentialsUnavailable", "webhook.auth: " + c.auth().problem());
    status.setReady(ns, name, uid, generation, r);
  }

  private synchronized void deleted(Ingester ing) {
    String key = key(ing);
    Entry e = entries.get(key);
    if (e != null && !Objects.equals(e.uid(), ing.getMetadata().getUid())) {
      return;
    }
    registry.remove(key);
    entries.remove(key);
    if (e != null) {
      LOG.info("Ingester {} deleted: route removed", key);
    }
    IngesterWatch w = watch;
    for (Entry other : List.copyOf(entries.values())) {
      if (other.conflict() && w != null) {
        Ingester again = w.cached(other.namespace() + "/" + other.name());
        if (again != null) {
          handle(again);
        }
      }
    }
  }

  private record Credentials(WebhookAuth auth, String fingerprint) {}

  private Credentials credentials(String ns, IngesterDefinition def) {
    if (def.authType() == IngesterSpec.AuthType.NONE) {
      return new Credentials(WebhookAuth.NONE, "none");
    }
    String secretName = def.secretRef().name();
    Secret secret;
    try {
      secret = client.secrets().inNamespace(ns).withName(secretName).get();
    } catch (KubernetesClientException e) {
      String why = "cannot read Secret " + ns + "/" + secretName + ": " + e.getMessage();
      return new Credentials(WebhookAuth.unavailable(def.authType(), why), "error:" + why);
    }
    if (secret == null) {
      String why = "Secret " + ns + "/" + secretName + " not found";
      return new Credentials(WebhookAuth.unavailable(def.authType(), why), "error:" + why);
    }
    if (def.authType() == IngesterSpec.AuthType.BEARER) {
      String k =
          def.secretRef().key() == null || def.secretRef().key().isBlank()
              ? "token"
              : def.secretRef().key();
      String token = value(secret, k);
      if (token == null || token.isBlank()) {
        String why = "Secret " + ns + "/" + secretName + " has no key '" + k + "'";
        return new Credentials(WebhookAuth.unavailable(def.authType(), why), "error:" + why);
      }
      return new Credentials(WebhookAuth.bearer(token), digest("bearer\0" + token));
    }
    String user = value(secret, "username");
    String password = value(secret, "password");
    if (user == null || password == null) {
      String why = "Secret " + ns + "/" + secretName + " needs the keys 'username' and 'password'";
      return new Credentials(WebhookAuth.unavailable(def.authType(), why), "error:" + why);
    }
    return new Credentials(
        WebhookAuth.basic(user, password), digest("basic\0" + user + "\0" + password));
  }

  private static String value(Secret s, String key) {
    if (s.getData() != null && s.getData().get(key) != null) {
      try {
        return new String(
            Base64.getDecoder().decode(s.getData().get(key).strip()), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
    return s.getStringData() == null ? null : s.getStringData().get(key);
  }

  private static String digest(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writes the counts of every route to its Ingester's status. */
  void flushCounts() {
    for (Entry e : entries.values()) {
      IngesterStats.Delta d = e.stats().take();
      if (d.isEmpty()) {
        continue;
      }
      boolean ok;
      try {
        ok = status.addCounts(e.namespace(), e.name(), e.uid(), d);
      } catch (RuntimeException ex) {
        ok = false;
      }
      if (!ok) {
        e.stats().restore(d);
      }
    }
  }
}
