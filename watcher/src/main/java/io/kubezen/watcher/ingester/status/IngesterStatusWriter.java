package io.kubezen.watcher.ingester.status;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterStatus;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes Ingester status through the status subresource: the {@code Ready} condition with {@code
 * observedGeneration}, and the activity counts, added as deltas so that several replicas serving
 * the same webhook add up. Every write reads the object, changes it and replaces it with its
 * resourceVersion, retrying on 409 Conflict.
 */
public final class IngesterStatusWriter {
  private static final Logger LOG = LoggerFactory.getLogger(IngesterStatusWriter.class);
  public static final String READY = "Ready";
  private static final int ATTEMPTS = 6;

  private final KubernetesClient client;
  private final Clock clock;

  public IngesterStatusWriter(KubernetesClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
  }

  /** What the Ready condition should say about one generation of an Ingester. */
  public record Readiness(boolean ready, String reason, String message) {
    public static Readiness ok(String message) {
      return new Readiness(true, "Valid", message);
    }
  }

  /**
   * Sets Ready for {@code generation} of the Ingester with {@code uid}; does nothing when the
   * object is gone, was re-created, has moved to another generation, or already says exactly this.
   *
   * @return true when the status says this now
   */
  public boolean setReady(String namespace, String name, String uid, long generation, Readiness r) {
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      Ingester current =
          client.resources(Ingester.class).inNamespace(namespace).withName(name).get();
      if (current == null
          || !Objects.equals(uid, current.getMetadata().getUid())
          || !Objects.equals(generation, current.getMetadata().getGeneration())) {
        return false;
      }
      IngesterStatus s = current.getStatus();
      Condition old =
          s == null || s.conditions() == null
              ? null
              : s.conditions().stream()
                  .filter(c -> READY.equals(c.getType()))
                  .findFirst()
                  .orElse(null);
      String status = r.ready() ? "True" : "False";
      if (old != null
          && status.equals(old.getStatus())
          && r.reason().equals(old.getReason())
          && r.message().equals(old.getMessage())
          && s.observedGeneration() != null
          && s.observedGeneration() == generation) {
        return true;
      }
      String transition =
          old != null && status.equals(old.getStatus()) && old.getLastTransitionTime() != null
              ? old.getLastTransitionTime()
              : clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
      Condition c =
          new ConditionBuilder()
              .withType(READY)
              .withStatus(status)
              .withReason(r.reason())
              .withMessage(r.message())
              .withObservedGeneration(generation)
              .withLastTransitionTime(transition)
              .build();
      List<Condition> conditions = new ArrayList<>();
      if (s != null && s.conditions() != null) {
        s.conditions().stream().filter(x -> !READY.equals(x.getType())).forEach(conditions::add);
      }
      conditions.add(c);
      current.setStatus(
          new IngesterStatus(
              generation,
              conditions,
              s == null ? null : s.lastEventTime(),
              s == null ? null : s.eventsTotal(),
              s == null ? null : s.observationsCreated()));
      try {
        client.resources(Ingester.class).inNamespace(namespace).resource(current).updateStatus();
        return true;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          continue;
        }
        if (e.getCode() == 404) {
          return false;
        }
        throw e;
      }
    }
    LOG.warn("Ingester {}/{}: could not set status after {} conflicts", namespace, name, ATTEMPTS);
    return false;
  }

  /**
   * Adds counts to the status of the Ingester with {@code uid}.
   *
   * @return false when they could not be written (give them back to the stats); true when written,
   *     or when the object is gone or re-created (the counts belong to no one then)
   */
  public boolean addCounts(String namespace, String name, String uid, IngesterStats.Delta d) {
    if (d.isEmpty()) {
      return true;
    }
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      Ingester current;
      try {
        current = client.resources(Ingester.class).inNamespace(namespace).withName(name).get();
      } catch (KubernetesClientException e) {
        return false;
      }
      if (current == null || !Objects.equals(uid, current.getMetadata().getUid())) {
        return true;
      }
      IngesterStatus s = current.getStatus();
      long events = (s == null || s.eventsTotal() == null ? 0 : s.eventsTotal()) + d.events();
      long created =
          (s == null || s.observationsCreated() == null ? 0 : s.observationsCreated())
              + d.created();
      String last = s == null ? null : s.lastEventTime();
      if (d.lastEventTime() != null && (last == null || parse(last).isBefore(d.lastEventTime()))) {
        last = d.lastEventTime().toString();
      }
      current.setStatus(
          new IngesterStatus(
              s == null ? null : s.observedGeneration(),
              s == null ? null : s.conditions(),
              last,
              events,
              created));
      try {
        client.resources(Ingester.class).inNamespace(namespace).resource(current).updateStatus();
        return true;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          continue;
        }
        if (e.getCode() == 404) {
          return true;
        }
        LOG.debug("Ingester {}/{}: counts not written: {}", namespace, name, e.toString());
        return false;
      }
    }
    return false;
  }

  private static Instant parse(String t) {
    try {
      return java.time.OffsetDateTime.parse(t).toInstant();
    } catch (RuntimeException e) {
      return Instant.EPOCH;
    }
  }
}
