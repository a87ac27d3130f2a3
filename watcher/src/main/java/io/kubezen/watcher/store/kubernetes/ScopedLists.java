package io.kubezen.watcher.store.kubernetes;

import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.watcher.store.InvalidContinueTokenException;
import io.kubezen.watcher.store.ObservationPage;
import io.kubezen.watcher.store.ObservationQuery;
import io.kubezen.watcher.store.StoreException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * Lists of Observations from the API server, within the access scope: across all namespaces, or
 * (with {@link KubernetesStoreOptions#namespaces()}, a service account with namespaced Roles only)
 * each namespace in turn, never across all. The read API's list before the Observation cache has
 * synced ({@link #list}, label selectors for its filters, the API server's order and continue
 * token, or under namespaced access a token naming the namespace and the API server's token within
 * it), GC and listByOrigin before the cache has synced, and the readiness probe.
 */
final class ScopedLists implements AutoCloseable {
  /** Page size of the lists of GC and listByOrigin. */
  static final int PAGE = 500;

  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(5);
  static final Pattern LABEL_VALUE = Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");

  private final ApiCalls calls;
  private final List<String> namespaces;
  private final ExecutorService prober;
  private final AtomicBoolean closed = new AtomicBoolean();

  ScopedLists(ApiCalls calls, List<String> namespaces) {
    this.calls = calls;
    this.namespaces = namespaces;
    this.prober =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "kube-store-probe");
              t.setDaemon(true);
              return t;
            });
  }

  /** The API server's list: its order (namespace, then name) and its continue token. */
  ObservationPage list(ObservationQuery query) {
    List<String> selector = new ArrayList<>();
    if (!addSelector(selector, Observation.LABEL_SOURCE, query.source())
        || !addSelector(selector, Observation.LABEL_SEVERITY, query.severity())
        || !addSelector(selector, Observation.LABEL_CATEGORY, query.category())
        || !addSelector(
            selector,
            KubernetesObservationStore.LABEL_EVENT_TYPE,
            query.eventType() == null
                ? null
                : KubernetesObservationStore.eventTypeLabel(query.eventType()))) {
      return new ObservationPage(List.of(), null); // no label can have that value: nothing matches
    }
    ListOptions opts =
        new ListOptionsBuilder()
            .withLimit((long) query.limit())
            .withContinue(query.continueToken())
            .withLabelSelector(selector.isEmpty() ? null : String.join(",", selector))
            .build();
    if (!namespaces.isEmpty()) {
      if (query.namespace() != null && !namespaces.contains(query.namespace())) {
        return new ObservationPage(List.of(), null); // this install stores nothing there
      }
      if (query.namespace() == null) {
        return listAcrossScopes(query, opts.getLabelSelector());
      }
    }
    KubernetesResourceList<Observation> page;
    try {
      page = listIn(query.namespace(), opts);
    } catch (KubernetesClientException e) {
      if (query.continueToken() != null && (e.getCode() == 400 || e.getCode() == 410)) {
        throw new InvalidContinueTokenException(
            "continue token not accepted by the API server (HTTP "
                + e.getCode()
                + "; it may have expired): start the list again");
      }
      throw failure("list", e);
    }
    List<Observation> items =
        page.getItems().stream().map(KubernetesObservationStore::forReading).toList();
    String next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
    return new ObservationPage(items, next == null || next.isEmpty() ? null : next);
  }

  /**
   * Prefix of the continue tokens of {@link #listAcrossScopes}: {@code ns1.<index>.<API server
   * token>}.
   */
  private static final String SCOPED_TOKEN = "ns1.";

  /**
   * A list without a namespace under namespaced access: the namespaces in order, each paged by the
   * API server, filling the page from the next namespace when one runs out.
   */
  private ObservationPage listAcrossScopes(ObservationQuery query, String labelSelector) {
    List<String> scopes = namespaces;
    int index = 0;
    String cont = null;
    if (query.continueToken() != null) {
      String t = query.continueToken();
      int dot = t.indexOf('.', SCOPED_TOKEN.length());
      try {
        if (!t.startsWith(SCOPED_TOKEN) || dot < 0) {
          throw new NumberFormatException();
        }
        index = Integer.parseInt(t.substring(SCOPED_TOKEN.length(), dot));
        cont = t.substring(dot + 1);
      } catch (NumberFormatException e) {
        throw new InvalidContinueTokenException(
            "continue token not issued by this list: start the list again");
      }
      if (index < 0 || index >= scopes.size()) {
        throw new InvalidContinueTokenException(
            "continue token names no namespace of this install: start the " + "list again");
      }
      cont = cont.isEmpty() ? null : cont;
    }
    List<Observation> items = new ArrayList<>();
    while (index < scopes.size()) {
      ListOptions opts =
          new ListOptionsBuilder()
              .withLimit((long) (query.limit() - items.size()))
              .withContinue(cont)
              .withLabelSelector(labelSelector)
              .build();
      KubernetesResourceList<Observation> page;
      try {
        page = listIn(scopes.get(index), opts);
      } catch (KubernetesClientException e) {
        if (cont != null && (e.getCode() == 400 || e.getCode() == 410)) {
          throw new InvalidContinueTokenException(
              "continue token not accepted by the API server (HTTP "
                  + e.getCode()
                  + "; it may have expired): start the list again");
        }
        throw failure("list in " + scopes.get(index), e);
      }
      page.getItems().forEach(o -> items.add(KubernetesObservationStore.forReading(o)));
      String next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
      if (next != null && !next.isEmpty()) {
        cont = next;
        if (items.size() >= query.limit()) {
          return new ObservationPage(items, SCOPED_TOKEN + index + "." + next);
        }
        continue;
      }
      index++;
      cont = null;
      if (items.size() >= query.limit()) {
        return new ObservationPage(
            items, index < scopes.size() ? SCOPED_TOKEN + index + "." : null);
      }
    }
    return new ObservationPage(items, null);
  }

  /**
   * The namespaces lists are made in: null (all at once), or each namespace of the access scope.
   */
  List<String> scopes() {
    return namespaces.isEmpty() ? java.util.Collections.singletonList(null) : namespaces;
  }

  /** One list call in {@code namespace}, or across all namespaces when null. */
  KubernetesResourceList<Observation> listIn(String namespace, ListOptions opts) {
    return calls.read(
        () ->
            namespace == null
                ? calls.api.inAnyNamespace().list(opts)
                : calls.api.inNamespace(namespace).list(opts));
  }

  static boolean addSelector(List<String> selector, String label, String value) {
    if (value == null) {
      return true;
    }
    if (value.length() > 63 || !LABEL_VALUE.matcher(value).matches()) {
      return false;
    }
    selector.add(label + "=" + value);
    return true;
  }

  /** Every Observation matching {@code labelSelector} (null: all), page by page. */
  void forEachPage(String labelSelector, java.util.function.Consumer<List<Observation>> consumer) {
    for (String ns : scopes()) {
      String cont = null;
      do {
        ListOptions opts =
            new ListOptionsBuilder()
                .withLimit((long) PAGE)
                .withContinue(cont)
                .withLabelSelector(labelSelector)
                .build();
        KubernetesResourceList<Observation> page = listIn(ns, opts);
        consumer.accept(page.getItems());
        cont = page.getMetadata() == null ? null : page.getMetadata().getContinue();
      } while (cont != null && !cont.isEmpty());
    }
  }

  /** True when a list of one Observation answers within {@link #PROBE_TIMEOUT}. */
  boolean isReachable() {
    if (closed.get()) {
      return false;
    }
    try {
      Future<Boolean> probe =
          prober.submit(
              () -> {
                listIn(scopes().get(0), new ListOptionsBuilder().withLimit(1L).build());
                return true;
              });
      try {
        return probe.get(PROBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        probe.cancel(true);
        return false;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | RuntimeException e) {
      return false;
    }
  }

  static StoreException failure(String what, KubernetesClientException e) {
    return new StoreException(
        "kubernetes store: " + what + " failed (HTTP " + e.getCode() + "): " + e.getMessage(), e);
  }

  @Override
  public void close() {
    closed.set(true);
    prober.shutdownNow();
  }
}
