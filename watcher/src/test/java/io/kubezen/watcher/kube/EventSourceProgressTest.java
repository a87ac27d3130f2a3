package io.kubezen.watcher.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubezen.watcher.source.k8sevents.KubernetesEventNormalizer;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The stored position: only past work that completed normally, and every earlier work with it. */
class EventSourceProgressTest {
  @Test
  void advancesOnlyOverTheCompletedPrefix() {
    EventSource.Progress p = new EventSource.Progress();
    p.resumeAt("100");
    CompletableFuture<Void> a = new CompletableFuture<>();
    CompletableFuture<Void> b = new CompletableFuture<>();
    CompletableFuture<Void> c = new CompletableFuture<>();
    p.add("101", a);
    p.add("105", b);
    p.add("107", c);
    assertThat(p.advance()).isEqualTo("100");
    b.complete(null); // later work done first: not enough
    assertThat(p.advance()).isEqualTo("100");
    a.complete(null);
    assertThat(p.advance()).isEqualTo("105");
    c.complete(null);
    assertThat(p.advance()).isEqualTo("107");
  }

  @Test
  void listedItemsHaveNoPositionOfTheirOwnAndTheListsComesAfterThemAll() {
    EventSource.Progress p = new EventSource.Progress();
    CompletableFuture<Void> item = new CompletableFuture<>();
    p.add(null, item);
    p.add("42", CompletableFuture.allOf(item));
    assertThat(p.advance()).isNull();
    item.complete(null);
    assertThat(p.advance()).isEqualTo("42");
  }

  @Test
  void workNotStoredHoldsThePositionUntilTheNextList() {
    EventSource.Progress p = new EventSource.Progress();
    p.resumeAt("10");
    p.add(
        "11",
        CompletableFuture.failedFuture(new OriginReconciler.NotStoredException("given up", null)));
    p.add("12", CompletableFuture.completedFuture(null));
    assertThat(p.advance()).isEqualTo("10");
    assertThat(p.held()).isTrue();
    p.add("13", CompletableFuture.completedFuture(null));
    assertThat(p.advance()).isEqualTo("10");
    // A re-list reconciles everything again: from its resourceVersion on, progress counts again.
    p.restart();
    p.add("20", CompletableFuture.completedFuture(null));
    assertThat(p.advance()).isEqualTo("20");
  }

  @Test
  void checkpointKeysNameGroupVersionResourceAndNamespaceAndStayValidAnnotationNames() {
    WatchedSource core =
        WatchedSource.builtIn(
            "k8s-events", "", "v1", "events", "Event", true, new KubernetesEventNormalizer());
    WatchedSource api =
        WatchedSource.builtIn(
            "k8s-events",
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            true,
            new KubernetesEventNormalizer());
    assertThat(EventCheckpoint.key(core, "")).isEqualTo("zen.kube-zen.io/rv.core.v1.events");
    assertThat(EventCheckpoint.key(api, "prod"))
        .isEqualTo("zen.kube-zen.io/rv.events.k8s.io.v1.events.prod");
    String longNs = "n".repeat(63);
    String k1 = EventCheckpoint.key(api, longNs);
    String k2 = EventCheckpoint.key(api, "n".repeat(62) + "m");
    String name = k1.substring("zen.kube-zen.io/".length());
    assertThat(name)
        .hasSizeLessThanOrEqualTo(63)
        .matches("[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");
    assertThat(k1).isNotEqualTo(k2);
  }
}
