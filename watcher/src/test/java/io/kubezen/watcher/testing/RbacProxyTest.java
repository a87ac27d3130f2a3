package io.kubezen.watcher.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Fingerprint;
import io.kubezen.watcher.model.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The RBAC proxy in front of the real API server: a ServiceAccount with a Role on observations in
 * namespace A only gets its calls in A through (watches and informers streamed), and the API
 * server's own 403 for anything in B or across namespaces.
 */
class RbacProxyTest {
  static final String SA = "zen-watcher";
  static final String OBS = "/apis/zen.kube-zen.io/v1alpha1";

  String nsA;
  String nsB;
  RbacProxy proxy;
  KubernetesClient client;

  @TempDir Path dir;

  @BeforeEach
  void start() {
    KubeApiServer.applyZenCrds();
    nsA = KubeApiServer.uniqueNamespace("rbac-a");
    nsB = KubeApiServer.uniqueNamespace("rbac-b");
    Role role =
        new RoleBuilder()
            .withNewMetadata()
            .withNamespace(nsA)
            .withName("zen-watcher")
            .endMetadata()
            .addNewRule()
            .withApiGroups(Observation.GROUP)
            .withResources("observations")
            .withVerbs("get", "list", "watch", "create", "delete")
            .endRule()
            .build();
    RoleBinding binding =
        new RoleBindingBuilder()
            .withNewMetadata()
            .withNamespace(nsA)
            .withName("zen-watcher")
            .endMetadata()
            .withNewRoleRef("rbac.authorization.k8s.io", "Role", "zen-watcher")
            .addNewSubject()
            .withKind("ServiceAccount")
            .withName(SA)
            .withNamespace(nsA)
            .endSubject()
            .build();
    proxy =
        RbacProxy.start(
            KubeApiServer.config(), new RbacAuthorizer(List.of(role, binding), nsA, SA));
    client = new KubernetesClientBuilder().withConfig(proxy.clientConfig()).build();
  }

  @AfterEach
  void stop() {
    if (client != null) {
      client.close();
    }
    if (proxy != null) {
      proxy.close();
    }
  }

  static Observation observation(String namespace, String name) {
    String fingerprint = Fingerprint.of("falco", List.of(namespace, name), -1);
    Observation o = new Observation();
    o.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(namespace)
            .withName(name)
            .addToLabels(Observation.LABEL_SOURCE, "falco")
            .build());
    o.setSpec(
        new ObservationSpec(
            "falco",
            Category.SECURITY,
            Severity.HIGH,
            "runtime_threat",
            ResourceRef.of("v1", "Pod", namespace, "web-7d4b9c"),
            "A shell was spawned in container web",
            Map.of("rule", "Terminal shell in container"),
            "2024-05-01T10:00:00Z",
            fingerprint,
            3600L,
            null));
    return o;
  }

  String line(String verb, String ns, String method, String path) {
    return verb + " observations.zen.kube-zen.io" + " namespace=" + ns + " " + method + " " + path;
  }

  String forbidden(String verb, String where) {
    return "observations.zen.kube-zen.io is forbidden: User \"system:serviceaccount:"
        + nsA
        + ":"
        + SA
        + "\" cannot "
        + verb
        + " resource \"observations\" in API group \"zen.kube-zen.io\" "
        + where;
  }

  @Test
  void allowedCallsReachTheServerAndRefusedOnesGetTheApiServersForbidden() {
    Observation created =
        client
            .resources(Observation.class)
            .inNamespace(nsA)
            .resource(observation(nsA, "o1"))
            .create();
    assertThat(created.getMetadata().getUid()).isNotEmpty();
    assertThat(
            client
                .resources(Observation.class)
                .inNamespace(nsA)
                .withName("o1")
                .get()
                .getSpec()
                .source())
        .isEqualTo("falco");
    assertThat(client.resources(Observation.class).inNamespace(nsA).list().getItems())
        .extracting(o -> o.getMetadata().getName())
        .containsExactly("o1");
    // It really is on the server: the admin client sees it.
    assertThat(
            KubeApiServer.client()
                .resources(Observation.class)
                .inNamespace(nsA)
                .withName("o1")
                .get())
        .isNotNull();

    assertThatThrownBy(() -> client.resources(Observation.class).inNamespace(nsB).list())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(403);
              assertThat(e.getStatus().getReason()).isEqualTo("Forbidden");
              assertThat(e.getStatus().getMessage())
                  .isEqualTo(forbidden("list", "in the namespace \"" + nsB + "\""));
            });
    assertThatThrownBy(() -> client.resources(Observation.class).inAnyNamespace().list())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(403);
              assertThat(e.getStatus().getMessage())
                  .isEqualTo(forbidden("list", "at the cluster scope"));
            });
    // The Role has no rule for observations/status: a status update is refused, the object is
    // untouched.
    created.setStatus(
        io.kubezen.api.v1alpha1.ObservationStatus.seen(
            2, "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z"));
    assertThatThrownBy(
            () ->
                client
                    .resources(Observation.class)
                    .inNamespace(nsA)
                    .resource(created)
                    .updateStatus())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(403);
              assertThat(e.getStatus().getMessage())
                  .isEqualTo(
                      "observations.zen.kube-zen.io \"o1\" is forbidden: User"
                          + " \"system:serviceaccount:"
                          + nsA
                          + ":"
                          + SA
                          + "\" cannot update resource \"observations/status\""
                          + " in API group \"zen.kube-zen.io\" in the namespace \""
                          + nsA
                          + "\"");
            });
    assertThat(client.resources(Observation.class).inNamespace(nsA).withName("o1").delete())
        .hasSize(1);

    assertThat(proxy.denied())
        .containsExactly(
            line("list", nsB, "GET", OBS + "/namespaces/" + nsB + "/observations"),
            line("list", "*", "GET", OBS + "/observations"),
            "update observations.zen.kube-zen.io/status namespace="
                + nsA
                + " PUT "
                + OBS
                + "/namespaces/"
                + nsA
                + "/observations/o1/status");
    assertThat(proxy.requests())
        .contains(
            line("create", nsA, "POST", OBS + "/namespaces/" + nsA + "/observations"),
            line("get", nsA, "GET", OBS + "/namespaces/" + nsA + "/observations/o1"),
            line("list", nsA, "GET", OBS + "/namespaces/" + nsA + "/observations"),
            line("delete", nsA, "DELETE", OBS + "/namespaces/" + nsA + "/observations/o1"))
        .containsAll(proxy.denied());
    proxy.clearLog();
    assertThat(proxy.requests()).isEmpty();
    assertThat(proxy.denied()).isEmpty();
  }

  @Test
  void theForbiddenBodyIsAKubernetesStatus() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(proxy.url() + OBS + "/namespaces/" + nsB + "/observations/x"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
    JsonNode body = Json.MAPPER.readTree(r.body());
    assertThat(body)
        .isEqualTo(
            Json.MAPPER.readTree(
                """
        {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
         "message":"observations.zen.kube-zen.io \\"x\\" is forbidden: User \\"system:serviceaccount:%s:zen-watcher\\" \
        cannot get resource \\"observations\\" in API group \\"zen.kube-zen.io\\" in the namespace \\"%s\\"",
         "reason":"Forbidden","details":{"name":"x","group":"zen.kube-zen.io","kind":"observations"},"code":403}
        """
                    .formatted(nsA, nsB)));
    // Discovery is allowed to everyone and forwarded (this server answers it, if only with 404).
    HttpResponse<String> version =
        http.send(
            HttpRequest.newBuilder(URI.create(proxy.url() + "/version")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(version.statusCode()).isNotEqualTo(403);
    assertThat(proxy.denied())
        .containsExactly(line("get", nsB, "GET", OBS + "/namespaces/" + nsB + "/observations/x"));
  }

  /**
   * fabric8 watches over WebSocket by default (an HTTP/1.1 upgrade, tunnelled by the proxy) and
   * over a chunked HTTP response with onlyHttpWatches. (This server refuses a watch without a
   * resourceVersion, its etcd lacking RequestWatchProgress: the watch starts from a list's.)
   */
  @ParameterizedTest(name = "onlyHttpWatches={0}")
  @ValueSource(booleans = {false, true})
  void watchAndInformerStreamThroughTheProxy(boolean onlyHttpWatches) {
    client.close();
    Config config = proxy.clientConfig();
    config.setOnlyHttpWatches(onlyHttpWatches);
    client = new KubernetesClientBuilder().withConfig(config).build();

    client
        .resources(Observation.class)
        .inNamespace(nsA)
        .resource(observation(nsA, "before"))
        .create();
    String rv =
        client
            .resources(Observation.class)
            .inNamespace(nsA)
            .list()
            .getMetadata()
            .getResourceVersion();
    List<String> events = new CopyOnWriteArrayList<>();
    Watch watch =
        client
            .resources(Observation.class)
            .inNamespace(nsA)
            .watch(
                new ListOptionsBuilder()
                    .withResourceVersion(rv)
                    .withAllowWatchBookmarks(true)
                    .build(),
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, Observation o) {
                    events.add(action + " " + o.getMetadata().getName());
                  }

                  @Override
                  public void onClose(WatcherException cause) {
                    events.add("closed " + cause);
                  }
                });
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> proxy.inFlight() == 1);
      // Created after the watch started, by someone else: only a streamed response can deliver it.
      KubeApiServer.client()
          .resources(Observation.class)
          .inNamespace(nsA)
          .resource(observation(nsA, "later"))
          .create();
      await().atMost(Duration.ofSeconds(20)).until(() -> events.contains("ADDED later"));
      assertThat(events).containsExactly("ADDED later");
      assertThat(proxy.inFlight()).as("the watch response is still open").isEqualTo(1);
    } finally {
      watch.close();
    }
    // The client closed its watch: the proxy closes the upstream side too.
    await().atMost(Duration.ofSeconds(20)).until(() -> proxy.inFlight() == 0);

    Set<String> informed = ConcurrentHashMap.newKeySet();
    SharedIndexInformer<Observation> informer =
        client
            .resources(Observation.class)
            .inNamespace(nsA)
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Observation o) {
                    informed.add(o.getMetadata().getName());
                  }

                  @Override
                  public void onUpdate(Observation oldObj, Observation newObj) {}

                  @Override
                  public void onDelete(Observation o, boolean deletedFinalStateUnknown) {}
                },
                0);
    try {
      await().atMost(Duration.ofSeconds(20)).until(informer::hasSynced);
      assertThat(informed).containsExactlyInAnyOrder("before", "later");
      KubeApiServer.client()
          .resources(Observation.class)
          .inNamespace(nsA)
          .resource(observation(nsA, "informed"))
          .create();
      await().atMost(Duration.ofSeconds(20)).until(() -> informed.contains("informed"));
      assertThat(informer.getStore().list())
          .extracting(o -> o.getMetadata().getName())
          .containsExactlyInAnyOrder("before", "later", "informed");
    } finally {
      informer.close();
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> proxy.inFlight() == 0);
    assertThat(proxy.requests())
        .contains(line("watch", nsA, "GET", OBS + "/namespaces/" + nsA + "/observations"));
    assertThat(proxy.denied()).isEmpty();
  }

  @Test
  void aWatchTheServerEndsEndsForTheClientToo() throws Exception {
    String rv =
        KubeApiServer.client()
            .resources(Observation.class)
            .inNamespace(nsA)
            .list()
            .getMetadata()
            .getResourceVersion();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    long start = System.nanoTime();
    HttpResponse<String> r =
        http.sendAsync(
                HttpRequest.newBuilder(
                        URI.create(
                            proxy.url()
                                + OBS
                                + "/namespaces/"
                                + nsA
                                + "/observations?watch=true&timeoutSeconds=1&resourceVersion="
                                + rv))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .get(20, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEmpty(); // no event in that second, and no error
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(Duration.ofMillis(900));
    await().atMost(Duration.ofSeconds(5)).until(() -> proxy.inFlight() == 0);
  }

  @Test
  void theKubeconfigPointsAtTheProxyWithoutCredentials() throws Exception {
    Path file = proxy.writeKubeconfig(dir);
    Config fromFile = Config.fromKubeconfig(Files.readString(file));
    for (Config c : List.of(fromFile, proxy.clientConfig())) {
      assertThat(c.getMasterUrl()).startsWith("http://127.0.0.1:" + proxy.port());
      assertThat(c.getNamespace()).isEqualTo(nsA);
      assertThat(c.getClientCertFile()).isNull();
      assertThat(c.getClientCertData()).isNull();
      assertThat(c.getOauthToken()).isNull();
    }
    try (KubernetesClient c = new KubernetesClientBuilder().withConfig(fromFile).build()) {
      // The default namespace is the ServiceAccount's, where the Role allows listing.
      assertThat(c.resources(Observation.class).list().getItems()).isEmpty();
    }
    assertThat(proxy.requests())
        .containsExactly(line("list", nsA, "GET", OBS + "/namespaces/" + nsA + "/observations"));
  }
}
