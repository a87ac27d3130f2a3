package io.kubezen.watcher.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.api.model.rbac.SubjectBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kubezen.watcher.testing.RbacAuthorizer.Decision;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class RbacAuthorizerTest {
  static final String ZEN = "zen.kube-zen.io";
  static final String OBS = "/apis/zen.kube-zen.io/v1alpha1";

  static RequestAttributes attrs(
      String verb, String group, String resource, String sub, String ns, String name) {
    return new RequestAttributes(verb, group, resource, sub, ns, name);
  }

  @Nested
  class Parse {
    @Test
    void namespacedVerbsFromMethodNameAndQuery() {
      String coll = OBS + "/namespaces/a/observations";
      assertThat(RequestAttributes.parse("GET", coll + "/o1"))
          .isEqualTo(attrs("get", ZEN, "observations", "", "a", "o1"));
      assertThat(RequestAttributes.parse("HEAD", coll + "/o1").verb()).isEqualTo("get");
      assertThat(RequestAttributes.parse("GET", coll))
          .isEqualTo(attrs("list", ZEN, "observations", "", "a", ""));
      assertThat(RequestAttributes.parse("GET", coll + "?labelSelector=x%3Dy&limit=500"))
          .isEqualTo(attrs("list", ZEN, "observations", "", "a", ""));
      assertThat(RequestAttributes.parse("GET", coll + "?watch=false").verb()).isEqualTo("list");
      assertThat(RequestAttributes.parse("GET", coll + "?watch=0").verb()).isEqualTo("list");
      assertThat(
              RequestAttributes.parse(
                  "GET", coll + "?allowWatchBookmarks=true&resourceVersion=12&watch=true"))
          .isEqualTo(attrs("watch", ZEN, "observations", "", "a", ""));
      assertThat(RequestAttributes.parse("GET", coll + "?watch=1").verb()).isEqualTo("watch");
      assertThat(RequestAttributes.parse("POST", coll))
          .isEqualTo(attrs("create", ZEN, "observations", "", "a", ""));
      assertThat(RequestAttributes.parse("PUT", coll + "/o1"))
          .isEqualTo(attrs("update", ZEN, "observations", "", "a", "o1"));
      assertThat(RequestAttributes.parse("PATCH", coll + "/o1?fieldManager=zw&force=true"))
          .isEqualTo(attrs("patch", ZEN, "observations", "", "a", "o1"));
      assertThat(RequestAttributes.parse("DELETE", coll + "/o1"))
          .isEqualTo(attrs("delete", ZEN, "observations", "", "a", "o1"));
      assertThat(RequestAttributes.parse("DELETE", coll + "?labelSelector=a%3Db"))
          .isEqualTo(attrs("deletecollection", ZEN, "observations", "", "a", ""));
    }

    @Test
    void subresourceStatus() {
      assertThat(RequestAttributes.parse("PUT", OBS + "/namespaces/a/observations/o1/status"))
          .isEqualTo(attrs("update", ZEN, "observations", "status", "a", "o1"));
      assertThat(
              RequestAttributes.parse("PUT", OBS + "/namespaces/a/observations/o1/status")
                  .combinedResource())
          .isEqualTo("observations/status");
    }

    @Test
    void clusterScopeListAndWatchAcrossNamespaces() {
      assertThat(RequestAttributes.parse("GET", OBS + "/observations"))
          .isEqualTo(attrs("list", ZEN, "observations", "", "", ""));
      assertThat(RequestAttributes.parse("GET", OBS + "/observations?watch=true"))
          .isEqualTo(attrs("watch", ZEN, "observations", "", "", ""));
      assertThat(
              RequestAttributes.parse(
                  "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x"))
          .isEqualTo(
              attrs("get", "apiextensions.k8s.io", "customresourcedefinitions", "", "", "x"));
    }

    @Test
    void legacyWatchPathPrefix() {
      assertThat(RequestAttributes.parse("GET", "/api/v1/watch/namespaces/a/configmaps"))
          .isEqualTo(attrs("watch", "", "configmaps", "", "a", ""));
      assertThat(RequestAttributes.parse("GET", "/api/v1/watch/namespaces/a/configmaps/c1"))
          .isEqualTo(attrs("watch", "", "configmaps", "", "a", "c1"));
      assertThat(RequestAttributes.parse("GET", OBS + "/watch/observations"))
          .isEqualTo(attrs("watch", ZEN, "observations", "", "", ""));
      assertThatThrownBy(() -> RequestAttributes.parse("GET", "/api/v1/watch"))
          .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void namespacesThemselves() {
      // The namespace object's own name is also the request's namespace, as in RequestInfoFactory.
      assertThat(RequestAttributes.parse("GET", "/api/v1/namespaces/x"))
          .isEqualTo(attrs("get", "", "namespaces", "", "x", "x"));
      assertThat(RequestAttributes.parse("PUT", "/api/v1/namespaces/x/status"))
          .isEqualTo(attrs("update", "", "namespaces", "status", "x", "x"));
      assertThat(RequestAttributes.parse("PUT", "/api/v1/namespaces/x/finalize"))
          .isEqualTo(attrs("update", "", "namespaces", "finalize", "x", "x"));
      assertThat(RequestAttributes.parse("GET", "/api/v1/namespaces"))
          .isEqualTo(attrs("list", "", "namespaces", "", "", ""));
      assertThat(RequestAttributes.parse("GET", "/api/v1/namespaces?watch=true").verb())
          .isEqualTo("watch");
    }

    @Test
    void coreGroupResources() {
      assertThat(RequestAttributes.parse("GET", "/api/v1/namespaces/a/configmaps/c1"))
          .isEqualTo(attrs("get", "", "configmaps", "", "a", "c1"));
      assertThat(RequestAttributes.parse("GET", "/api/v1/namespaces/a/secrets/token"))
          .isEqualTo(attrs("get", "", "secrets", "", "a", "token"));
      assertThat(RequestAttributes.parse("GET", "/api/v1/events?watch=true"))
          .isEqualTo(attrs("watch", "", "events", "", "", ""));
      assertThat(RequestAttributes.parse("GET", "/api/v1/namespaces/a/pods/p/log"))
          .isEqualTo(attrs("get", "", "pods", "log", "a", "p"));
    }

    @Test
    void discoveryAndOtherPathsAreNonResource() {
      for (String p :
          List.of(
              "/api",
              "/api/v1",
              "/apis",
              "/apis/zen.kube-zen.io",
              "/apis/zen.kube-zen.io/v1alpha1",
              "/version",
              "/healthz",
              "/livez",
              "/readyz",
              "/openapi/v2",
              "/openapi/v3/apis/zen.kube-zen.io/v1alpha1",
              "/metrics",
              "/")) {
        RequestAttributes a = RequestAttributes.parse("GET", p);
        assertThat(a.isResourceRequest()).as(p).isFalse();
        assertThat(a.path()).isEqualTo(p);
        assertThat(a.verb()).isEqualTo("get");
      }
      assertThat(RequestAttributes.parse("POST", "/apis?x=1"))
          .isEqualTo(RequestAttributes.nonResource("post", "/apis"));
    }

    @Test
    void fieldSelectorOnNameNamesTheObjectOfListAndWatch() {
      String coll = "/apis/coordination.k8s.io/v1/namespaces/a/leases";
      assertThat(
              RequestAttributes.parse(
                  "GET", coll + "?fieldSelector=metadata.name%3Dzw-leader&watch=true"))
          .isEqualTo(attrs("watch", "coordination.k8s.io", "leases", "", "a", "zw-leader"));
      assertThat(
              RequestAttributes.parse(
                  "GET", coll + "?fieldSelector=metadata.namespace%3Da,metadata.name%3D%3Dl1"))
          .isEqualTo(attrs("list", "coordination.k8s.io", "leases", "", "a", "l1"));
      assertThat(RequestAttributes.parse("GET", coll + "?fieldSelector=metadata.name!%3Dl1").name())
          .isEmpty();
      assertThat(RequestAttributes.parse("GET", coll + "?fieldSelector=spec.holder%3Dl1").name())
          .isEmpty();
      assertThat(RequestAttributes.exactName("metadata.name=a\\,b")).isEqualTo("a,b");
    }

    @Test
    void percentEncodedPath() {
      assertThat(RequestAttributes.parse("GET", "/api/v1/namespaces/a/configmaps/my%2Dcm"))
          .isEqualTo(attrs("get", "", "configmaps", "", "a", "my-cm"));
    }
  }

  // authorize

  static final String SA_NS = "zen-system";
  static final String SA = "zen-watcher";

  static Subject sa(String ns, String name) {
    return new SubjectBuilder().withKind("ServiceAccount").withName(name).withNamespace(ns).build();
  }

  static PolicyRule rule(List<String> groups, List<String> resources, List<String> verbs) {
    return new PolicyRuleBuilder()
        .withApiGroups(groups)
        .withResources(resources)
        .withVerbs(verbs)
        .build();
  }

  static PolicyRule observationsRead() {
    return rule(List.of(ZEN), List.of("observations"), List.of("get", "list", "watch"));
  }

  static Role role(String ns, String name, PolicyRule... rules) {
    return new RoleBuilder()
        .withNewMetadata()
        .withNamespace(ns)
        .withName(name)
        .endMetadata()
        .withRules(rules)
        .build();
  }

  static ClusterRole clusterRole(String name, PolicyRule... rules) {
    return new ClusterRoleBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withRules(rules)
        .build();
  }

  static RoleBinding roleBinding(
      String ns, String name, String refKind, String ref, Subject... subjects) {
    return new RoleBindingBuilder()
        .withNewMetadata()
        .withNamespace(ns)
        .withName(name)
        .endMetadata()
        .withNewRoleRef("rbac.authorization.k8s.io", refKind, ref)
        .withSubjects(subjects)
        .build();
  }

  static ClusterRoleBinding clusterRoleBinding(String name, String ref, Subject... subjects) {
    return new ClusterRoleBindingBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", ref)
        .withSubjects(subjects)
        .build();
  }

  static RbacAuthorizer authorizer(HasMetadata... objects) {
    return new RbacAuthorizer(List.of(objects), SA_NS, SA);
  }

  static RequestAttributes list(String ns) {
    return attrs("list", ZEN, "observations", "", ns, "");
  }

  @Test
  void roleInOneNamespaceAllowsOnlyThere() {
    RbacAuthorizer auth =
        authorizer(
            role("a", "obs-read", observationsRead()),
            roleBinding("a", "obs-read", "Role", "obs-read", sa(SA_NS, SA)));
    Decision allowed = auth.authorize(list("a"));
    assertThat(allowed.allowed()).isTrue();
    assertThat(allowed.reason()).contains("RoleBinding \"a/obs-read\"");
    assertThat(auth.authorize(attrs("get", ZEN, "observations", "", "a", "o1")).allowed()).isTrue();
    assertThat(auth.authorize(attrs("watch", ZEN, "observations", "", "a", "")).allowed()).isTrue();
    assertThat(auth.authorize(attrs("create", ZEN, "observations", "", "a", "")).allowed())
        .isFalse();
    assertThat(auth.authorize(attrs("list", ZEN, "ingesters", "", "a", "")).allowed()).isFalse();
    assertThat(auth.authorize(attrs("list", "other.io", "observations", "", "a", "")).allowed())
        .isFalse();

    Decision otherNs = auth.authorize(list("b"));
    assertThat(otherNs.allowed()).isFalse();
    assertThat(otherNs.reason())
        .isEqualTo(
            "User \"system:serviceaccount:zen-system:zen-watcher\" cannot list resource"
                + " \"observations\" in API group \"zen.kube-zen.io\" in the namespace \"b\"");
    Decision cluster = auth.authorize(list(""));
    assertThat(cluster.allowed()).isFalse();
    assertThat(cluster.reason())
        .isEqualTo(
            "User \"system:serviceaccount:zen-system:zen-watcher\" cannot list resource"
                + " \"observations\" in API group \"zen.kube-zen.io\" at the cluster scope");
  }

  @Test
  void roleBindingOnlyUsesRolesOfItsOwnNamespace() {
    // A Role "obs-read" exists only in b; the binding in a refers to a missing Role in a.
    RbacAuthorizer auth =
        authorizer(
            role("b", "obs-read", observationsRead()),
            roleBinding("a", "obs-read", "Role", "obs-read", sa(SA_NS, SA)));
    Decision d = auth.authorize(list("a"));
    assertThat(d.allowed()).isFalse();
    assertThat(d.reason()).endsWith(": role.rbac.authorization.k8s.io \"obs-read\" not found");
    assertThat(auth.authorize(list("b")).allowed()).isFalse();
  }

  @Test
  void clusterRoleViaClusterRoleBindingAllowsEverywhereAndClusterWide() {
    RbacAuthorizer auth =
        authorizer(
            clusterRole("obs-read", observationsRead()),
            clusterRoleBinding("obs-read", "obs-read", sa(SA_NS, SA)));
    assertThat(auth.authorize(list("a")).allowed()).isTrue();
    assertThat(auth.authorize(list("zzz")).allowed()).isTrue();
    Decision cluster = auth.authorize(list(""));
    assertThat(cluster.allowed()).isTrue();
    assertThat(cluster.reason())
        .isEqualTo("ClusterRoleBinding \"obs-read\" of ClusterRole \"obs-read\"");
  }

  @Test
  void clusterRoleViaRoleBindingOnlyInThatNamespace() {
    RbacAuthorizer auth =
        authorizer(
            clusterRole("obs-read", observationsRead()),
            roleBinding("a", "obs-read", "ClusterRole", "obs-read", sa(SA_NS, SA)));
    assertThat(auth.authorize(list("a")).allowed()).isTrue();
    assertThat(auth.authorize(list("b")).allowed()).isFalse();
    assertThat(auth.authorize(list("")).allowed()).isFalse();
  }

  @Test
  void resourceNamesMatchOnlyNamedRequests() {
    PolicyRule leaseRule =
        new PolicyRuleBuilder()
            .withApiGroups("coordination.k8s.io")
            .withResources("leases")
            .withResourceNames("zw-leader")
            .withVerbs("get", "update", "list", "watch", "create")
            .build();
    RbacAuthorizer auth =
        authorizer(
            role("a", "lease", leaseRule),
            roleBinding("a", "lease", "Role", "lease", sa(SA_NS, SA)));
    String base = "/apis/coordination.k8s.io/v1/namespaces/a/leases";
    assertThat(auth.authorize(RequestAttributes.parse("GET", base + "/zw-leader")).allowed())
        .isTrue();
    assertThat(auth.authorize(RequestAttributes.parse("PUT", base + "/zw-leader")).allowed())
        .isTrue();
    assertThat(auth.authorize(RequestAttributes.parse("GET", base + "/other")).allowed()).isFalse();
    // No name on list, watch, create: resourceNames cannot match them.
    assertThat(auth.authorize(RequestAttributes.parse("GET", base)).allowed()).isFalse();
    assertThat(auth.authorize(RequestAttributes.parse("GET", base + "?watch=true")).allowed())
        .isFalse();
    assertThat(auth.authorize(RequestAttributes.parse("POST", base)).allowed()).isFalse();
    // Unless a field selector on metadata.name names the object, as the API server reads it.
    assertThat(
            auth.authorize(
                    RequestAttributes.parse(
                        "GET", base + "?fieldSelector=metadata.name%3Dzw-leader&watch=1"))
                .allowed())
        .isTrue();
  }

  @Test
  void subresourceNeedsItsOwnRule() {
    RbacAuthorizer auth =
        authorizer(
            role("a", "obs", rule(List.of(ZEN), List.of("observations"), List.of("get", "update"))),
            roleBinding("a", "obs", "Role", "obs", sa(SA_NS, SA)));
    RequestAttributes status =
        RequestAttributes.parse("PUT", OBS + "/namespaces/a/observations/o1/status");
    assertThat(
            auth.authorize(RequestAttributes.parse("PUT", OBS + "/namespaces/a/observations/o1"))
                .allowed())
        .isTrue();
    Decision d = auth.authorize(status);
    assertThat(d.allowed()).isFalse();
    assertThat(d.reason()).contains("cannot update resource \"observations/status\"");

    RbacAuthorizer withStatus =
        authorizer(
            role("a", "obs", rule(List.of(ZEN), List.of("observations/status"), List.of("update"))),
            roleBinding("a", "obs", "Role", "obs", sa(SA_NS, SA)));
    assertThat(withStatus.authorize(status).allowed()).isTrue();
    assertThat(
            withStatus
                .authorize(RequestAttributes.parse("PUT", OBS + "/namespaces/a/observations/o1"))
                .allowed())
        .isFalse();
    RbacAuthorizer anyStatus =
        authorizer(
            role("a", "obs", rule(List.of(ZEN), List.of("*/status"), List.of("update"))),
            roleBinding("a", "obs", "Role", "obs", sa(SA_NS, SA)));
    assertThat(anyStatus.authorize(status).allowed()).isTrue();
    assertThat(
            anyStatus
                .authorize(
                    RequestAttributes.parse("PUT", OBS + "/namespaces/a/observations/o1/scale"))
                .allowed())
        .isFalse();
  }

  @Test
  void otherSubjectsAreDenied() {
    RbacAuthorizer auth =
        authorizer(
            role("a", "obs", observationsRead()),
            roleBinding("a", "other-name", "Role", "obs", sa(SA_NS, "someone-else")),
            roleBinding("a", "other-ns", "Role", "obs", sa("other-ns", SA)),
            roleBinding(
                "a",
                "user",
                "Role",
                "obs",
                new SubjectBuilder()
                    .withKind("User")
                    .withName("system:serviceaccount:other-ns:" + SA)
                    .build()),
            roleBinding(
                "a",
                "group",
                "Role",
                "obs",
                new SubjectBuilder()
                    .withKind("Group")
                    .withName("system:serviceaccounts:other-ns")
                    .build()),
            clusterRole("all", observationsRead()),
            // A ServiceAccount subject without a namespace in a ClusterRoleBinding names nobody.
            clusterRoleBinding(
                "no-ns",
                "all",
                new SubjectBuilder().withKind("ServiceAccount").withName(SA).build()));
    assertThat(auth.authorize(list("a")).allowed()).isFalse();
    assertThat(auth.authorize(list("")).allowed()).isFalse();
  }

  @Test
  void subjectsMatchingTheServiceAccount() {
    Role r = role("a", "obs", observationsRead());
    List<Subject> matching =
        List.of(
            sa(SA_NS, SA),
            new SubjectBuilder()
                .withKind("User")
                .withName("system:serviceaccount:" + SA_NS + ":" + SA)
                .build(),
            new SubjectBuilder().withKind("Group").withName("system:serviceaccounts").build(),
            new SubjectBuilder()
                .withKind("Group")
                .withName("system:serviceaccounts:" + SA_NS)
                .build(),
            new SubjectBuilder().withKind("Group").withName("system:authenticated").build());
    for (Subject s : matching) {
      assertThat(
              authorizer(r, roleBinding("a", "b", "Role", "obs", s)).authorize(list("a")).allowed())
          .as(s.getKind() + " " + s.getName())
          .isTrue();
    }
    // In a RoleBinding, a ServiceAccount subject without a namespace means the binding's namespace.
    Subject local = new SubjectBuilder().withKind("ServiceAccount").withName(SA).build();
    assertThat(
            new RbacAuthorizer(List.of(r, roleBinding("a", "b", "Role", "obs", local)), "a", SA)
                .authorize(list("a"))
                .allowed())
        .isTrue();
    assertThat(
            authorizer(r, roleBinding("a", "b", "Role", "obs", local))
                .authorize(list("a"))
                .allowed())
        .isFalse();
  }

  @Test
  void wildcards() {
    RbacAuthorizer all =
        authorizer(
            clusterRole("admin", rule(List.of("*"), List.of("*"), List.of("*"))),
            roleBinding("a", "admin", "ClusterRole", "admin", sa(SA_NS, SA)));
    assertThat(
            all.authorize(attrs("deletecollection", "apps", "deployments", "", "a", "")).allowed())
        .isTrue();
    assertThat(all.authorize(attrs("update", ZEN, "observations", "status", "a", "o1")).allowed())
        .isTrue();
    assertThat(all.authorize(attrs("get", ZEN, "observations", "", "b", "o1")).allowed()).isFalse();

    RbacAuthorizer anyVerb =
        authorizer(
            role("a", "r", rule(List.of(ZEN), List.of("observations"), List.of("*"))),
            roleBinding("a", "r", "Role", "r", sa(SA_NS, SA)));
    assertThat(
            anyVerb
                .authorize(attrs("deletecollection", ZEN, "observations", "", "a", ""))
                .allowed())
        .isTrue();
    assertThat(
            anyVerb.authorize(attrs("update", ZEN, "observations", "status", "a", "o1")).allowed())
        .isFalse();

    RbacAuthorizer anyGroup =
        authorizer(
            role("a", "r", rule(List.of("*"), List.of("observations"), List.of("list"))),
            roleBinding("a", "r", "Role", "r", sa(SA_NS, SA)));
    assertThat(anyGroup.authorize(attrs("list", "other.io", "observations", "", "a", "")).allowed())
        .isTrue();
    assertThat(anyGroup.authorize(attrs("list", "other.io", "reports", "", "a", "")).allowed())
        .isFalse();
  }

  @Test
  void discoveryPathsAreAllowedToEveryoneOtherNonResourcePathsNeedAClusterRole() {
    RbacAuthorizer none = authorizer();
    for (String p :
        List.of(
            "/api",
            "/api/v1",
            "/apis",
            "/apis/zen.kube-zen.io/v1alpha1",
            "/version",
            "/healthz",
            "/livez",
            "/readyz",
            "/openapi/v2")) {
      assertThat(none.authorize(RequestAttributes.parse("GET", p)).allowed()).as(p).isTrue();
    }
    Decision metrics = none.authorize(RequestAttributes.parse("GET", "/metrics"));
    assertThat(metrics.allowed()).isFalse();
    assertThat(metrics.reason())
        .isEqualTo(
            "User \"system:serviceaccount:zen-system:zen-watcher\" cannot get path \"/metrics\"");
    assertThat(none.authorize(RequestAttributes.parse("POST", "/apis")).allowed()).isFalse();
    assertThat(none.authorize(RequestAttributes.parse("HEAD", "/version")).allowed())
        .isFalse(); // verb "head"
    assertThat(
            none.authorize(RequestAttributes.parse("GET", "/.well-known/openid-configuration"))
                .allowed())
        .isTrue();
    // system:basic-user: anyone may ask what they may do.
    assertThat(
            none.authorize(
                    RequestAttributes.parse(
                        "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"))
                .allowed())
        .isTrue();
    assertThat(
            none.authorize(
                    RequestAttributes.parse(
                        "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"))
                .allowed())
        .isFalse();
    assertThat(
            none.authorize(
                    RequestAttributes.parse(
                        "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews"))
                .allowed())
        .isFalse();
    assertThat(none.authorize(list("a")).allowed()).isFalse();

    ClusterRole metricsReader =
        new ClusterRoleBuilder()
            .withNewMetadata()
            .withName("metrics")
            .endMetadata()
            .addNewRule()
            .withNonResourceURLs("/metrics", "/debug/*")
            .withVerbs("get")
            .endRule()
            .build();
    RbacAuthorizer viaCrb =
        authorizer(metricsReader, clusterRoleBinding("metrics", "metrics", sa(SA_NS, SA)));
    assertThat(viaCrb.authorize(RequestAttributes.parse("GET", "/metrics")).allowed()).isTrue();
    assertThat(viaCrb.authorize(RequestAttributes.parse("GET", "/debug/pprof/heap")).allowed())
        .isTrue();
    // A RoleBinding cannot grant a non-resource path (it has no namespace).
    RbacAuthorizer viaRb =
        authorizer(
            metricsReader, roleBinding("a", "metrics", "ClusterRole", "metrics", sa(SA_NS, SA)));
    assertThat(viaRb.authorize(RequestAttributes.parse("GET", "/metrics")).allowed()).isFalse();
  }

  @Test
  void aggregatedClusterRolesGetTheRulesOfTheRolesTheySelect() {
    ClusterRole aggregate =
        new ClusterRoleBuilder()
            .withNewMetadata()
            .withName("view-all")
            .endMetadata()
            .withNewAggregationRule()
            .addNewClusterRoleSelector()
            .addToMatchLabels("aggregate-to-view", "true")
            .endClusterRoleSelector()
            .endAggregationRule()
            .build();
    ClusterRole part =
        new ClusterRoleBuilder()
            .withNewMetadata()
            .withName("obs-view")
            .addToLabels("aggregate-to-view", "true")
            .endMetadata()
            .withRules(observationsRead())
            .build();
    ClusterRole unlabelled =
        clusterRole("ingesters", rule(List.of(ZEN), List.of("ingesters"), List.of("list")));
    RbacAuthorizer auth =
        authorizer(
            aggregate, part, unlabelled, clusterRoleBinding("view-all", "view-all", sa(SA_NS, SA)));
    assertThat(auth.authorize(list("")).allowed()).isTrue();
    assertThat(auth.authorize(attrs("list", ZEN, "ingesters", "", "", "")).allowed()).isFalse();
  }

  @Test
  void picksRbacObjectsOutOfAnythingTypedOrGeneric() {
    Role r = role("a", "obs", observationsRead());
    GenericKubernetesResource genericBinding =
        Serialization.unmarshal(
            Serialization.asJson(roleBinding("a", "obs", "Role", "obs", sa(SA_NS, SA))),
            GenericKubernetesResource.class);
    HasMetadata unrelated =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName("cm")
            .withNamespace("a")
            .endMetadata()
            .build();
    RbacAuthorizer auth = new RbacAuthorizer(List.of(unrelated, r, genericBinding), SA_NS, SA);
    assertThat(auth.authorize(list("a")).allowed()).isTrue();
    assertThat(auth.user()).isEqualTo("system:serviceaccount:zen-system:zen-watcher");

    Role noNamespace = new RoleBuilder().withNewMetadata().withName("x").endMetadata().build();
    assertThatThrownBy(() -> new RbacAuthorizer(List.of(noNamespace), SA_NS, SA))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no namespace");
  }

  @Test
  void bindingToAMissingClusterRoleSaysSoInTheDenial() {
    RbacAuthorizer auth = authorizer(clusterRoleBinding("x", "nope", sa(SA_NS, SA)));
    assertThat(auth.authorize(list("")).reason())
        .endsWith("at the cluster scope: clusterrole.rbac.authorization.k8s.io \"nope\" not found");
  }

  @Test
  void forbiddenStatusMessageAsTheApiServerWordsIt() {
    RbacAuthorizer auth = authorizer();
    RequestAttributes named = attrs("get", ZEN, "observations", "", "a", "o1");
    assertThat(RbacProxy.forbiddenStatusMessage(named, auth.authorize(named).reason()))
        .isEqualTo(
            "observations.zen.kube-zen.io \"o1\" is forbidden: User \"system:serviceaccount:zen-system:zen-watcher\""
                + " cannot get resource \"observations\" in API group \"zen.kube-zen.io\" in the namespace \"a\"");
    RequestAttributes core = attrs("list", "", "secrets", "", "", "");
    assertThat(RbacProxy.forbiddenStatusMessage(core, auth.authorize(core).reason()))
        .isEqualTo(
            "secrets is forbidden: User \"system:serviceaccount:zen-system:zen-watcher\" cannot list resource \"secrets\""
                + " in API group \"\" at the cluster scope");
    RequestAttributes path = RequestAttributes.parse("GET", "/metrics");
    assertThat(RbacProxy.forbiddenStatusMessage(path, auth.authorize(path).reason()))
        .isEqualTo(
            "forbidden: User \"system:serviceaccount:zen-system:zen-watcher\" cannot get path \"/metrics\"");
    assertThat(
            RbacProxy.line(attrs("update", ZEN, "observations", "status", "a", "o1"), "PUT", "/x"))
        .isEqualTo("update observations.zen.kube-zen.io/status namespace=a PUT /x");
    assertThat(RbacProxy.line(list(""), "GET", "/y"))
        .isEqualTo("list observations.zen.kube-zen.io namespace=* GET /y");
  }
}
