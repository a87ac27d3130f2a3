package io.kubezen.watcher.testing;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleRef;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Kubernetes RBAC for one ServiceAccount, evaluated the way the kube-apiserver's RBAC authorizer
 * does (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac): ClusterRoleBindings apply to every
 * request, RoleBindings only to requests in their own namespace; a rule allows a request when its
 * verbs, apiGroups, resources (or {@code resource/subresource}, or {@code *}/{@code *}/sub) and
 * resourceNames all match. Nothing is denied explicitly: a request no rule allows is forbidden.
 *
 * <p>Built from any objects: only {@code rbac.authorization.k8s.io/v1} Role, RoleBinding,
 * ClusterRole and ClusterRoleBinding are read (typed fabric8 objects or generic ones). Aggregated
 * ClusterRoles (aggregationRule) get the rules of the ClusterRoles their selectors match, as the
 * aggregation controller would. What a cluster's default ClusterRoleBindings grant every
 * ServiceAccount is allowed too: discovery, health, version and OpenAPI paths (system:discovery,
 * system:public-info-viewer), the OIDC issuer paths, and self access reviews (system:basic-user).
 * Pure: no I/O.
 */
public final class RbacAuthorizer {
  public static final String RBAC_API_VERSION = "rbac.authorization.k8s.io/v1";

  /**
   * The answer for one request: allowed, with the binding that allowed it, or denied, with the
   * Kubernetes message.
   */
  public record Decision(boolean allowed, String reason) {
    public static Decision allow(String reason) {
      return new Decision(true, reason);
    }

    public static Decision deny(String reason) {
      return new Decision(false, reason);
    }
  }

  /**
   * What a cluster's default bindings grant every ServiceAccount (bound to system:authenticated or
   * system:serviceaccounts): system:discovery and system:public-info-viewer (discovery, health,
   * version, OpenAPI paths), system:service-account-issuer-discovery (OIDC paths) and
   * system:basic-user (self access reviews).
   */
  private static final Map<String, PolicyRule> DEFAULT_RULES =
      Map.of(
          "system:discovery/system:public-info-viewer",
              new PolicyRuleBuilder()
                  .withVerbs("get")
                  .withNonResourceURLs(
                      "/api",
                      "/api/*",
                      "/apis",
                      "/apis/*",
                      "/healthz",
                      "/livez",
                      "/openapi",
                      "/openapi/*",
                      "/readyz",
                      "/version",
                      "/version/")
                  .build(),
          "system:service-account-issuer-discovery",
              new PolicyRuleBuilder()
                  .withVerbs("get")
                  .withNonResourceURLs(
                      "/.well-known/openid-configuration",
                      "/.well-known/openid-configuration/",
                      "/openid/v1/jwks",
                      "/openid/v1/jwks/")
                  .build(),
          "system:basic-user",
              new PolicyRuleBuilder()
                  .withVerbs("create")
                  .withApiGroups("authorization.k8s.io", "authentication.k8s.io")
                  .withResources(
                      "selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews")
                  .build());

  private final String serviceAccountNamespace;
  private final String serviceAccountName;
  private final String user;
  private final Set<String> groups;
  private final Map<String, Role> roles = new LinkedHashMap<>();
  private final Map<String, ClusterRole> clusterRoles = new LinkedHashMap<>();
  private final Map<String, List<PolicyRule>> clusterRoleRules = new LinkedHashMap<>();
  private final List<RoleBinding> roleBindings = new ArrayList<>();
  private final List<ClusterRoleBinding> clusterRoleBindings = new ArrayList<>();

  /**
   * @param objects anything (a rendered chart); the RBAC v1 objects among them are used
   * @param serviceAccountNamespace the namespace of the ServiceAccount requests are made as
   * @param serviceAccountName its name
   * @throws IllegalArgumentException for a Role or RoleBinding without a namespace
   */
  public RbacAuthorizer(
      List<? extends HasMetadata> objects,
      String serviceAccountNamespace,
      String serviceAccountName) {
    this.serviceAccountNamespace = require(serviceAccountNamespace, "serviceAccountNamespace");
    this.serviceAccountName = require(serviceAccountName, "serviceAccountName");
    this.user = "system:serviceaccount:" + serviceAccountNamespace + ":" + serviceAccountName;
    this.groups =
        Set.of(
            "system:serviceaccounts",
            "system:serviceaccounts:" + serviceAccountNamespace,
            "system:authenticated");
    KubernetesSerialization serialization = new KubernetesSerialization();
    for (HasMetadata o : objects) {
      if (o == null || !RBAC_API_VERSION.equals(o.getApiVersion())) {
        continue;
      }
      switch (String.valueOf(o.getKind())) {
        case "Role" -> {
          Role r = typed(serialization, o, Role.class);
          roles.put(namespaced(r, "Role") + "/" + r.getMetadata().getName(), r);
        }
        case "RoleBinding" -> {
          RoleBinding b = typed(serialization, o, RoleBinding.class);
          namespaced(b, "RoleBinding");
          roleBindings.add(b);
        }
        case "ClusterRole" -> {
          ClusterRole r = typed(serialization, o, ClusterRole.class);
          clusterRoles.put(r.getMetadata().getName(), r);
        }
        case "ClusterRoleBinding" ->
            clusterRoleBindings.add(typed(serialization, o, ClusterRoleBinding.class));
        default -> {
          // not RBAC
        }
      }
    }
    for (String name : clusterRoles.keySet()) {
      clusterRoleRules.put(name, effectiveRules(name, new HashSet<>()));
    }
  }

  public String serviceAccountNamespace() {
    return serviceAccountNamespace;
  }

  public String serviceAccountName() {
    return serviceAccountName;
  }

  /**
   * The user name the API server gives the ServiceAccount: {@code
   * system:serviceaccount:<ns>:<name>}.
   */
  public String user() {
    return user;
  }

  /**
   * Its groups: system:serviceaccounts, system:serviceaccounts:&lt;ns&gt;, system:authenticated.
   */
  public Set<String> groups() {
    return groups;
  }

  public Decision authorize(RequestAttributes a) {
    for (Map.Entry<String, PolicyRule> e : DEFAULT_RULES.entrySet()) {
      if (ruleAllows(e.getValue(), a)) {
        return Decision.allow("default ClusterRole " + e.getKey() + " (every ServiceAccount)");
      }
    }
    Set<String> errors = new LinkedHashSet<>();
    for (ClusterRoleBinding b : clusterRoleBindings) {
      if (!appliesToSubject(b.getSubjects(), "")) {
        continue;
      }
      RoleRef ref = b.getRoleRef();
      if (ref == null || !"ClusterRole".equals(ref.getKind())) {
        errors.add(
            "unsupported role reference kind: \"" + (ref == null ? "" : ref.getKind()) + "\"");
        continue;
      }
      List<PolicyRule> rules = clusterRoleRules.get(ref.getName());
      if (rules == null) {
        errors.add("clusterrole.rbac.authorization.k8s.io \"" + ref.getName() + "\" not found");
        continue;
      }
      for (PolicyRule rule : rules) {
        if (ruleAllows(rule, a)) {
          return Decision.allow(
              "ClusterRoleBinding \""
                  + b.getMetadata().getName()
                  + "\" of ClusterRole \""
                  + ref.getName()
                  + "\"");
        }
      }
    }
    if (!a.namespace().isEmpty()) {
      for (RoleBinding b : roleBindings) {
        String ns = b.getMetadata().getNamespace();
        if (!ns.equals(a.namespace()) || !appliesToSubject(b.getSubjects(), ns)) {
          continue;
        }
        RoleRef ref = b.getRoleRef();
        List<PolicyRule> rules;
        if (ref != null && "Role".equals(ref.getKind())) {
          Role role = roles.get(ns + "/" + ref.getName());
          if (role == null) {
            errors.add("role.rbac.authorization.k8s.io \"" + ref.getName() + "\" not found");
            continue;
          }
          rules = role.getRules() == null ? List.of() : role.getRules();
        } else if (ref != null && "ClusterRole".equals(ref.getKind())) {
          rules = clusterRoleRules.get(ref.getName());
          if (rules == null) {
            errors.add("clusterrole.rbac.authorization.k8s.io \"" + ref.getName() + "\" not found");
            continue;
          }
        } else {
          errors.add(
              "unsupported role reference kind: \"" + (ref == null ? "" : ref.getKind()) + "\"");
          continue;
        }
        for (PolicyRule rule : rules) {
          if (ruleAllows(rule, a)) {
            return Decision.allow(
                "RoleBinding \""
                    + ns
                    + "/"
                    + b.getMetadata().getName()
                    + "\" of "
                    + ref.getKind()
                    + " \""
                    + ref.getName()
                    + "\"");
          }
        }
      }
    }
    String message = forbiddenMessage(user, a);
    if (!errors.isEmpty()) {
      message +=
          ": "
              + (errors.size() == 1
                  ? errors.iterator().next()
                  : "[" + String.join(", ", errors) + "]");
    }
    return Decision.deny(message);
  }

  /**
   * The API server's text for a refused request (k8s.io/apiserver
   * responsewriters.forbiddenMessage), e.g. {@code User "system:serviceaccount:a:w" cannot list
   * resource "observations" in API group "zen.kube-zen.io" in the namespace "b"}.
   */
  public static String forbiddenMessage(String user, RequestAttributes a) {
    if (!a.isResourceRequest()) {
      return "User " + quote(user) + " cannot " + a.verb() + " path " + quote(a.path());
    }
    String prefix =
        "User "
            + quote(user)
            + " cannot "
            + a.verb()
            + " resource "
            + quote(a.combinedResource())
            + " in API group "
            + quote(a.apiGroup());
    return a.namespace().isEmpty()
        ? prefix + " at the cluster scope"
        : prefix + " in the namespace " + quote(a.namespace());
  }

  /** Go's %q for the plain strings Kubernetes names are made of. */
  static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  // rbac evaluation helpers (k8s.io/component-helpers/auth/rbac/validation and pkg/apis/rbac/v1)

  static boolean ruleAllows(PolicyRule rule, RequestAttributes a) {
    if (a.isResourceRequest()) {
      return verbMatches(rule, a.verb())
          && contains(rule.getApiGroups(), a.apiGroup(), "*")
          && resourceMatches(rule, a.combinedResource(), a.subresource())
          && resourceNameMatches(rule, a.name());
    }
    return verbMatches(rule, a.verb()) && nonResourceUrlMatches(rule, a.path());
  }

  private static boolean verbMatches(PolicyRule rule, String verb) {
    return contains(rule.getVerbs(), verb, "*");
  }

  private static boolean resourceMatches(PolicyRule rule, String combined, String subresource) {
    for (String r : nullToEmpty(rule.getResources())) {
      if (r.equals("*") || r.equals(combined)) {
        return true;
      }
      if (!subresource.isEmpty() && r.equals("*/" + subresource)) {
        return true;
      }
    }
    return false;
  }

  private static boolean resourceNameMatches(PolicyRule rule, String name) {
    List<String> names = nullToEmpty(rule.getResourceNames());
    return names.isEmpty() || names.contains(name);
  }

  private static boolean nonResourceUrlMatches(PolicyRule rule, String path) {
    for (String url : nullToEmpty(rule.getNonResourceURLs())) {
      if (url.equals("*") || url.equals(path)) {
        return true;
      }
      if (url.endsWith("*") && path.startsWith(url.substring(0, url.length() - 1))) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(List<String> values, String wanted, String all) {
    for (String v : nullToEmpty(values)) {
      if (v.equals(all) || v.equals(wanted)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Does one of the subjects name our ServiceAccount (directly, as its user name, or by one of its
   * groups)?
   */
  private boolean appliesToSubject(List<Subject> subjects, String bindingNamespace) {
    for (Subject s : nullToEmpty(subjects)) {
      switch (String.valueOf(s.getKind())) {
        case "User" -> {
          if (user.equals(s.getName())) {
            return true;
          }
        }
        case "Group" -> {
          if (groups.contains(s.getName())) {
            return true;
          }
        }
        case "ServiceAccount" -> {
          String ns =
              s.getNamespace() == null || s.getNamespace().isEmpty()
                  ? bindingNamespace
                  : s.getNamespace();
          if (!ns.isEmpty()
              && ns.equals(serviceAccountNamespace)
              && serviceAccountName.equals(s.getName())) {
            return true;
          }
        }
        default -> {
          // unknown subject kinds match nobody
        }
      }
    }
    return false;
  }

  private List<PolicyRule> effectiveRules(String clusterRole, Set<String> visiting) {
    ClusterRole role = clusterRoles.get(clusterRole);
    if (role.getAggregationRule() == null
        || role.getAggregationRule().getClusterRoleSelectors() == null
        || role.getAggregationRule().getClusterRoleSelectors().isEmpty()
        || !visiting.add(clusterRole)) {
      return role.getRules() == null ? List.of() : role.getRules();
    }
    List<PolicyRule> rules = new ArrayList<>();
    for (ClusterRole other : clusterRoles.values()) {
      if (other == role) {
        continue;
      }
      Map<String, String> labels =
          other.getMetadata().getLabels() == null ? Map.of() : other.getMetadata().getLabels();
      if (role.getAggregationRule().getClusterRoleSelectors().stream()
          .anyMatch(sel -> selects(sel, labels))) {
        for (PolicyRule r : effectiveRules(other.getMetadata().getName(), visiting)) {
          if (!rules.contains(r)) {
            rules.add(r);
          }
        }
      }
    }
    visiting.remove(clusterRole);
    return rules;
  }

  private static boolean selects(LabelSelector selector, Map<String, String> labels) {
    if (selector.getMatchLabels() != null) {
      for (Map.Entry<String, String> e : selector.getMatchLabels().entrySet()) {
        if (!Objects.equals(labels.get(e.getKey()), e.getValue())) {
          return false;
        }
      }
    }
    for (LabelSelectorRequirement req : nullToEmpty(selector.getMatchExpressions())) {
      String value = labels.get(req.getKey());
      List<String> values = nullToEmpty(req.getValues());
      boolean ok =
          switch (req.getOperator()) {
            case "In" -> value != null && values.contains(value);
            case "NotIn" -> value == null || !values.contains(value);
            case "Exists" -> value != null;
            case "DoesNotExist" -> value == null;
            default -> false;
          };
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static <T extends HasMetadata> T typed(
      KubernetesSerialization serialization, HasMetadata o, Class<T> type) {
    if (type.isInstance(o)) {
      return type.cast(o);
    }
    if (o instanceof GenericKubernetesResource) {
      return serialization.convertValue(o, type);
    }
    throw new IllegalArgumentException(
        "cannot read " + o.getKind() + " from " + o.getClass().getName());
  }

  private static String namespaced(HasMetadata o, String kind) {
    String ns = o.getMetadata() == null ? null : o.getMetadata().getNamespace();
    if (ns == null || ns.isEmpty()) {
      throw new IllegalArgumentException(
          kind
              + " "
              + (o.getMetadata() == null ? "" : o.getMetadata().getName())
              + " has no namespace: give the rendered objects their release namespace");
    }
    return ns;
  }

  private static String require(String value, String what) {
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException(what + " is required");
    }
    return value;
  }

  private static <T> List<T> nullToEmpty(List<T> list) {
    return list == null ? List.of() : list;
  }
}
