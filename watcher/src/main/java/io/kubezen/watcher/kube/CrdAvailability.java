package io.kubezen.watcher.kube;

import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

/**
 * Whether a watched source's resource is served: its CRD installed, established and serving the
 * version (or, without the right to read CRDs, a list of one item answered). {@link SourceManager}
 * asks every {@link SourceOptions#crdCheckInterval()}.
 */
final class CrdAvailability {

  /** Whether a source can be watched; when not, the state its status shows. */
  record Availability(boolean available, SourceState state) {
    static final Availability AVAILABLE = new Availability(true, SourceState.SYNCED);
    static final Availability UNKNOWN =
        new Availability(false, new SourceState(SourceState.Phase.CHECKING_CRD, "checking CRD"));
    static final Availability NOT_IN_SCOPE =
        new Availability(
            false,
            new SourceState(
                SourceState.Phase.NOT_WATCHED,
                "cluster-scoped: not watched (ACCESS_SCOPE=namespaces has no cluster-wide rights)"));

    static Availability notInstalled(String message) {
      return new Availability(false, new SourceState(SourceState.Phase.NOT_INSTALLED, message));
    }

    String message() {
      return state.text();
    }

    /**
     * Before the first check: available without a CRD, not in scope for a cluster-scoped one under
     * namespaced access.
     */
    static Availability initial(WatchedSource source, boolean namespacedAccess) {
      return source.crdName() == null
          ? AVAILABLE
          : namespacedAccess && !source.namespaced() ? NOT_IN_SCOPE : UNKNOWN;
    }
  }

  /**
   * One answer.
   *
   * @param source the source checked, or, when it reads its kind from the CRD ({@link
   *     WatchedSource#kindFromCrd()}), the same with the kind and scope read
   */
  record Check(Availability availability, WatchedSource source) {}

  private final KubernetesClient client;
  private final SourceOptions options;

  CrdAvailability(KubernetesClient client, SourceOptions options) {
    this.client = client;
    this.options = options;
  }

  /**
   * @throws KubernetesClientException when the API server does not answer (retried at the next
   *     check)
   */
  Check check(WatchedSource w) {
    if (options.namespacedAccess()) {
      return new Check(servedInNamespace(w), w);
    }
    CustomResourceDefinition crd =
        client.apiextensions().v1().customResourceDefinitions().withName(w.crdName()).get();
    if (crd == null) {
      return new Check(Availability.notInstalled("waiting for CRD " + w.crdName()), w);
    }
    boolean established =
        crd.getStatus() != null
            && crd.getStatus().getConditions() != null
            && crd.getStatus().getConditions().stream()
                .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
    if (!established) {
      return new Check(
          Availability.notInstalled("waiting for CRD " + w.crdName() + " to be established"), w);
    }
    String version = w.resource().getVersion();
    boolean served =
        crd.getSpec().getVersions().stream()
            .anyMatch(v -> version.equals(v.getName()) && Boolean.TRUE.equals(v.getServed()));
    if (!served) {
      return new Check(
          Availability.notInstalled(
              "waiting for CRD " + w.crdName() + " to serve version " + version),
          w);
    }
    if (w.kindFromCrd()) { // the kind and scope, read once from the CRD
      return new Check(
          Availability.AVAILABLE,
          w.withResource(
              WatchedSource.context(
                  w.resource().getGroup(),
                  version,
                  w.resource().getPlural(),
                  crd.getSpec().getNames().getKind(),
                  "Namespaced".equals(crd.getSpec().getScope()))));
    }
    return new Check(Availability.AVAILABLE, w);
  }

  /**
   * Without the right to read CRDs (namespaced Roles): the resource is installed when a list of one
   * item in the first watched namespace is answered; 404 means it is not served.
   */
  private Availability servedInNamespace(WatchedSource w) {
    String ns =
        w.namespaces() != null && !w.namespaces().isEmpty()
            ? w.namespaces().get(0)
            : options.watchNamespaces().get(0);
    try {
      client
          .genericKubernetesResources(w.resource())
          .inNamespace(ns)
          .list(new ListOptionsBuilder().withLimit(1L).build());
      return Availability.AVAILABLE;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        return Availability.notInstalled(
            "waiting for CRD " + w.crdName() + " (" + w.gvr() + " is not served)");
      }
      throw e;
    }
  }
}
