package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How far the leader has stored the Events it watches: per watched stream (a resource and a
 * namespace scope), the resourceVersion up to which every Event was stored, kept as annotations of
 * a {@code coordination.k8s.io/v1} Lease of its own ({@code <LEADER_ELECTION_ID>-events-checkpoint}
 * in {@code POD_NAMESPACE}). A Lease exists in every cluster (and on kube-apiext), and being a
 * separate object it never races the leader-election Lease's renewals.
 *
 * <p>Annotation keys: {@code zen.kube-zen.io/rv.<group>.<version>.<resource>[.<namespace>]} (group
 * {@code core} for the core group). resourceVersions are opaque: this only stores and returns them.
 *
 * <p>{@link #record} only remembers; {@link #flush} writes what changed since the last write, with
 * optimistic concurrency on the Lease's own resourceVersion (a 409 re-reads and re-applies). Only
 * the leader writes, so conflicts are rare; the values of this writer win.
 */
final class EventCheckpoint {
  private static final Logger log = LoggerFactory.getLogger(EventCheckpoint.class);
  static final String PREFIX = "zen.kube-zen.io/rv.";
  private static final int MAX_NAME = 63;
  private static final int ATTEMPTS = 4;

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final Map<String, String> wanted = new ConcurrentHashMap<>();
  private final Map<String, String> written = new HashMap<>();
  private Lease last;

  EventCheckpoint(KubernetesClient client, String namespace, String name) {
    this.client = Objects.requireNonNull(client, "client");
    this.namespace = Objects.requireNonNull(namespace, "namespace");
    this.name = Objects.requireNonNull(name, "name");
  }

  String namespace() {
    return namespace;
  }

  String name() {
    return name;
  }

  /**
   * The annotation key of the stream of {@code source} in {@code namespace} (null or empty: all
   * namespaces, or cluster-scoped). The name part is at most 63 characters: a long namespace is
   * shortened and suffixed with a hash of it.
   */
  static String key(WatchedSource source, String namespace) {
    String g = source.resource().getGroup();
    String base =
        "rv."
            + (g == null || g.isEmpty() ? "core" : g)
            + "."
            + source.resource().getVersion()
            + "."
            + source.resource().getPlural();
    String part = namespace == null || namespace.isEmpty() ? base : base + "." + namespace;
    if (part.length() > MAX_NAME) {
      String hash = sha256(part).substring(0, 10);
      String head = part.substring(0, MAX_NAME - hash.length() - 1);
      part = head + "-" + hash;
    }
    return "zen.kube-zen.io/" + part;
  }

  /**
   * The checkpointed resourceVersion of {@code key}, or null when there is none (no Lease yet, or
   * no annotation).
   *
   * @throws KubernetesClientException when the Lease cannot be read
   */
  String read(String key) {
    Lease l = lease().get();
    if (l == null || l.getMetadata().getAnnotations() == null) {
      return null;
    }
    String rv = l.getMetadata().getAnnotations().get(key);
    return rv == null || rv.isBlank() ? null : rv;
  }

  /**
   * Remembers that {@code key} is stored up to {@code resourceVersion}; written by the next {@link
   * #flush}.
   */
  void record(String key, String resourceVersion) {
    if (resourceVersion != null && !resourceVersion.isEmpty()) {
      wanted.put(key, resourceVersion);
    }
  }

  /**
   * Writes the recorded positions that changed since the last write (nothing when none did).
   *
   * @return true when the Lease holds every recorded position
   * @throws KubernetesClientException when the Lease cannot be written (kept for the next flush)
   */
  synchronized boolean flush() {
    Map<String, String> changes = new LinkedHashMap<>();
    wanted.forEach(
        (k, v) -> {
          if (!v.equals(written.get(k))) {
            changes.put(k, v);
          }
        });
    if (changes.isEmpty()) {
      return true;
    }
    KubernetesClientException failure = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        Lease base = last != null ? last : lease().get();
        Lease saved;
        if (base == null) {
          Lease fresh =
              new LeaseBuilder()
                  .withMetadata(
                      new ObjectMetaBuilder()
                          .withName(name)
                          .withNamespace(namespace)
                          .addToLabels("app.kubernetes.io/name", "zen-watcher")
                          .addToLabels("app.kubernetes.io/component", "events-checkpoint")
                          .withAnnotations(changes)
                          .build())
                  .withNewSpec()
                  .endSpec()
                  .build();
          saved = leases().resource(fresh).create();
        } else {
          Lease copy = new LeaseBuilder(base).build();
          Map<String, String> ann =
              copy.getMetadata().getAnnotations() == null
                  ? new HashMap<>()
                  : new HashMap<>(copy.getMetadata().getAnnotations());
          ann.putAll(changes);
          copy.getMetadata().setAnnotations(ann);
          // update() sends metadata.resourceVersion: a concurrent change is a 409, never
          // overwritten blindly.
          saved = leases().resource(copy).update();
        }
        last = saved;
        written.putAll(changes);
        log.debug("events checkpoint {}/{} written: {}", namespace, name, changes);
        return true;
      } catch (KubernetesClientException e) {
        last = null;
        failure = e;
        if (e.getCode() != 409) {
          break;
        }
      }
    }
    throw failure;
  }

  /** The positions recorded so far (diagnostics, tests). */
  Map<String, String> recorded() {
    return Map.copyOf(wanted);
  }

  private Resource<Lease> lease() {
    return leases().withName(name);
  }

  private NonNamespaceOperation<Lease, LeaseList, Resource<Lease>> leases() {
    return client.resources(Lease.class, LeaseList.class).inNamespace(namespace);
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
