package io.kubezen.watcher.http.console;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The Ready condition of the Ingester resources, as the leader wrote it to their status (what
 * {@code kubectl get ingesters} shows): one list of the Ingesters (in one namespace, or all),
 * remembered for {@link #FRESH_FOR} so that page views do not each ask the API server. Any replica
 * answers the same. An Ingester whose status is missing, or describes an older generation, is
 * {@code Unknown} ("not yet reconciled").
 */
public final class KubeIngesterConditions implements IngesterConditions {
  static final Duration FRESH_FOR = Duration.ofSeconds(5);

  private final KubernetesClient client;
  private final String namespace;
  private final Clock clock;
  private List<Condition> last;
  private Instant lastAt;

  /**
   * @param namespace where the Ingesters are; null for every namespace
   */
  public KubeIngesterConditions(KubernetesClient client, String namespace, Clock clock) {
    this.client = client;
    this.namespace = namespace;
    this.clock = clock;
  }

  @Override
  public synchronized List<Condition> conditions() {
    Instant now = clock.instant();
    if (last != null && now.isBefore(lastAt.plus(FRESH_FOR))) {
      return last;
    }
    var op = client.resources(Ingester.class);
    List<Ingester> items =
        (namespace == null ? op.inAnyNamespace().list() : op.inNamespace(namespace).list())
            .getItems();
    List<Condition> out = new ArrayList<>();
    for (Ingester i : items) {
      out.add(of(i));
    }
    out.sort(Comparator.comparing(Condition::name));
    last = List.copyOf(out);
    lastAt = now;
    return last;
  }

  static Condition of(Ingester i) {
    String name = i.getMetadata().getNamespace() + "/" + i.getMetadata().getName();
    String type =
        i.getSpec() == null || i.getSpec().type() == null ? null : i.getSpec().type().wire();
    String source = i.getSpec() == null ? null : i.getSpec().source();
    IngesterStatus s = i.getStatus();
    io.fabric8.kubernetes.api.model.Condition ready =
        s == null || s.conditions() == null
            ? null
            : s.conditions().stream()
                .filter(c -> "Ready".equals(c.getType()))
                .findFirst()
                .orElse(null);
    if (ready == null) {
      return new Condition(
          name,
          "cluster",
          type,
          source,
          "Unknown",
          "NotReconciled",
          "no Ready condition yet: the leader has not processed this Ingester",
          null);
    }
    Long generation = i.getMetadata().getGeneration();
    Long observed =
        ready.getObservedGeneration() != null
            ? ready.getObservedGeneration()
            : s.observedGeneration();
    String message = ready.getMessage() == null ? "" : ready.getMessage();
    String status = ready.getStatus() == null ? "Unknown" : ready.getStatus();
    if (generation != null && observed != null && observed < generation) {
      message =
          "describes generation "
              + observed
              + "; generation "
              + generation
              + " is not applied yet: "
              + message;
      status = "Unknown";
    }
    return new Condition(
        name,
        "cluster",
        type,
        source,
        status,
        ready.getReason(),
        message,
        parse(ready.getLastTransitionTime()));
  }

  private static Instant parse(String t) {
    if (t == null) {
      return null;
    }
    try {
      return OffsetDateTime.parse(t).toInstant();
    } catch (RuntimeException e) {
      return null;
    }
  }
}
