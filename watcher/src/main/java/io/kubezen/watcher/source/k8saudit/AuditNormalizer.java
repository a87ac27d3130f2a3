package io.kubezen.watcher.source.k8saudit;

import com.fasterxml.jackson.databind.JsonNode;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.IngestContext;
import io.kubezen.watcher.source.InvalidInputException;
import io.kubezen.watcher.source.JsonFields;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceKind;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Kubernetes audit events ({@code audit.k8s.io/v1} and {@code v1beta1}): an {@code EventList} as
 * the API server's webhook backend POSTs it (items may carry no apiVersion/kind of their own), a
 * single {@code Event}, or a JSON array of Events (an audit log file, one Event per line, turned
 * into an array by the HTTP layer). Only security-relevant events give a Finding, at most one per
 * event; see {@link AuditType} for the types and their precedence and docs/sources/k8s-audit.md for
 * the full rule set.
 *
 * <p>Stages: {@code ResponseComplete} and {@code Panic} count. Long-running connect requests
 * (pods/exec, pods/attach, pods/portforward) count at {@code ResponseStarted} too, the moment the
 * session opens; their ResponseComplete gives the same identity and the same detectedAt (the time
 * the request was received), so both land on one Observation. Other stages give nothing.
 *
 * <p>The code walks the JsonNode tree and rejects noise (get/list/watch, other stages) after a
 * handful of field look-ups, before any allocation.
 */
public final class AuditNormalizer implements Normalizer {
  public static final String SOURCE = "k8s-audit";
  public static final String API_GROUP = "audit.k8s.io";
  static final String V1 = "audit.k8s.io/v1";
  static final String V1BETA1 = "audit.k8s.io/v1beta1";
  static final String RBAC_GROUP = "rbac.authorization.k8s.io";

  /** Resource plural → kind, for the resources an audit finding is usually about. */
  static final Map<String, String> KINDS =
      Map.ofEntries(
          Map.entry("pods", "Pod"),
          Map.entry("secrets", "Secret"),
          Map.entry("configmaps", "ConfigMap"),
          Map.entry("services", "Service"),
          Map.entry("serviceaccounts", "ServiceAccount"),
          Map.entry("namespaces", "Namespace"),
          Map.entry("nodes", "Node"),
          Map.entry("endpoints", "Endpoints"),
          Map.entry("events", "Event"),
          Map.entry("persistentvolumes", "PersistentVolume"),
          Map.entry("persistentvolumeclaims", "PersistentVolumeClaim"),
          Map.entry("replicationcontrollers", "ReplicationController"),
          Map.entry("resourcequotas", "ResourceQuota"),
          Map.entry("limitranges", "LimitRange"),
          Map.entry("deployments", "Deployment"),
          Map.entry("replicasets", "ReplicaSet"),
          Map.entry("daemonsets", "DaemonSet"),
          Map.entry("statefulsets", "StatefulSet"),
          Map.entry("jobs", "Job"),
          Map.entry("cronjobs", "CronJob"),
          Map.entry("roles", "Role"),
          Map.entry("clusterroles", "ClusterRole"),
          Map.entry("rolebindings", "RoleBinding"),
          Map.entry("clusterrolebindings", "ClusterRoleBinding"),
          Map.entry("networkpolicies", "NetworkPolicy"),
          Map.entry("ingresses", "Ingress"),
          Map.entry("ingressclasses", "IngressClass"),
          Map.entry("storageclasses", "StorageClass"),
          Map.entry("poddisruptionbudgets", "PodDisruptionBudget"),
          Map.entry("horizontalpodautoscalers", "HorizontalPodAutoscaler"),
          Map.entry("customresourcedefinitions", "CustomResourceDefinition"),
          Map.entry("mutatingwebhookconfigurations", "MutatingWebhookConfiguration"),
          Map.entry("validatingwebhookconfigurations", "ValidatingWebhookConfiguration"),
          Map.entry("validatingadmissionpolicies", "ValidatingAdmissionPolicy"),
          Map.entry("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding"),
          Map.entry("certificatesigningrequests", "CertificateSigningRequest"),
          Map.entry("leases", "Lease"),
          Map.entry("endpointslices", "EndpointSlice"),
          Map.entry("priorityclasses", "PriorityClass"),
          Map.entry("runtimeclasses", "RuntimeClass"),
          Map.entry("apiservices", "APIService"),
          Map.entry("tokenreviews", "TokenReview"),
          Map.entry("subjectaccessreviews", "SubjectAccessReview"),
          Map.entry("selfsubjectaccessreviews", "SelfSubjectAccessReview"));

  /** Deleting these is medium (the rest is low): losing them breaks or opens up much more. */
  static final Set<String> SENSITIVE_DELETES =
      Set.of(
          "namespaces",
          "nodes",
          "customresourcedefinitions",
          "persistentvolumes",
          "persistentvolumeclaims",
          "deployments",
          "statefulsets",
          "daemonsets",
          "services",
          "serviceaccounts",
          "networkpolicies",
          "configmaps",
          "mutatingwebhookconfigurations",
          "validatingwebhookconfigurations",
          "validatingadmissionpolicies",
          "validatingadmissionpolicybindings",
          "apiservices",
          "storageclasses",
          "ingresses",
          "cronjobs",
          "priorityclasses",
          "runtimeclasses");

  /** Non-resource paths anonymous clients (load balancers, probes) read by design: no finding. */
  private static final String[] ANONYMOUS_HEALTH_PATHS = {
    "/healthz", "/livez", "/readyz", "/version"
  };

  public AuditNormalizer() {}

  @Override
  public String source() {
    return SOURCE;
  }

  @Override
  public SourceKind kind() {
    return SourceKind.EVENT;
  }

  @Override
  public List<Finding> normalize(JsonNode input, IngestContext context) {
    Objects.requireNonNull(context, "context");
    if (input == null || input.isNull()) {
      throw new InvalidInputException(
          "expected an audit.k8s.io EventList, Event or array of Events, got null");
    }
    List<Finding> out = new ArrayList<>();
    if (input.isArray()) {
      int i = 0;
      for (JsonNode e : input) {
        top(e, i++, context, out);
      }
    } else {
      top(input, -1, context, out);
    }
    return out;
  }

  /** One element of the input: an EventList or an Event; {@code index} is -1 for a bare object. */
  private static void top(JsonNode n, int index, IngestContext ctx, List<Finding> out) {
    if (!n.isObject()) {
      throw invalid(index, "expected an audit.k8s.io Event or EventList object, got " + type(n));
    }
    String kind = str(n, "kind");
    String apiVersion = str(n, "apiVersion");
    if ("EventList".equals(kind)) {
      checkApiVersion(apiVersion, kind, index);
      JsonNode items = n.get("items");
      if (items == null || items.isNull()) {
        return;
      }
      if (!items.isArray()) {
        throw invalid(index, "EventList.items must be an array, got " + type(items));
      }
      int i = 0;
      for (JsonNode item : items) {
        if (!item.isObject()) {
          throw invalid(index, "EventList item " + i + " is not an object but " + type(item));
        }
        String itemKind = str(item, "kind");
        if (itemKind != null && !"Event".equals(itemKind)) {
          throw invalid(
              index, "EventList item " + i + " has kind " + itemKind + ", expected Event");
        }
        String itemVersion = str(item, "apiVersion");
        if (itemVersion != null && !V1.equals(itemVersion) && !V1BETA1.equals(itemVersion)) {
          throw invalid(
              index,
              "EventList item "
                  + i
                  + " has apiVersion "
                  + itemVersion
                  + ", expected audit.k8s.io/v1 or audit.k8s.io/v1beta1");
        }
        event(item, ctx, out);
        i++;
      }
      return;
    }
    if ("Event".equals(kind) || (kind == null && apiVersion != null)) {
      checkApiVersion(apiVersion, "Event", index);
      event(n, ctx, out);
      return;
    }
    if (kind == null) {
      // No kind and no apiVersion: accepted only when it has the shape of an audit event.
      if (str(n, "auditID") == null || str(n, "stage") == null) {
        throw invalid(index, "not an audit event: no kind, no apiVersion, and no auditID/stage");
      }
      event(n, ctx, out);
      return;
    }
    throw invalid(
        index,
        "expected kind EventList or Event of audit.k8s.io/v1 or v1beta1, got kind "
            + kind
            + (apiVersion == null ? "" : " apiVersion " + apiVersion));
  }

  private static void checkApiVersion(String apiVersion, String kind, int index) {
    if (apiVersion != null && !V1.equals(apiVersion) && !V1BETA1.equals(apiVersion)) {
      String hint =
          "v1".equals(apiVersion) || "events.k8s.io/v1".equals(apiVersion)
              ? " (a Kubernetes Event, not an audit Event: post it to /ingest/k8s-events)"
              : "";
      throw invalid(
          index,
          "expected apiVersion audit.k8s.io/v1 or audit.k8s.io/v1beta1 for kind "
              + kind
              + ", got "
              + apiVersion
              + hint);
    }
  }

  /** Classifies one audit event and adds its Finding, if any. */
  private static void event(JsonNode e, IngestContext ctx, List<Finding> out) {
    String stage = str(e, "stage");
    JsonNode ref = obj(e, "objectRef");
    String resource = str(ref, "resource");
    String subresource = str(ref, "subresource");
    boolean connect = "pods".equals(resource) && isConnect(subresource);
    if (stage != null
        && !"ResponseComplete".equals(stage)
        && !"Panic".equals(stage)
        && !(connect && "ResponseStarted".equals(stage))) {
      return;
    }
    String verb = str(e, "verb");
    JsonNode userNode = obj(e, "user");
    String user = str(userNode, "username");
    JsonNode groups = userNode == null ? null : userNode.get("groups");
    int code = code(e);
    boolean denied = code == 401 || code == 403;

    AuditType type;
    String privileged = null;
    if ("system:anonymous".equals(user) || contains(groups, "system:unauthenticated")) {
      if (ref == null && isHealthPath(str(e, "requestURI"))) {
        return;
      }
      type = AuditType.ANONYMOUS_ACCESS;
    } else if (denied) {
      type = AuditType.ACCESS_DENIED;
    } else if (code >= 400) {
      return; // failed (conflict, not found, invalid...): nothing happened
    } else if (ref == null || resource == null) {
      return; // non-resource request by an authenticated user
    } else if ("pods".equals(resource) && (privileged = privileged(e, verb, subresource)) != null) {
      type = AuditType.PRIVILEGED_POD;
    } else if (connect) {
      type = AuditType.POD_EXEC;
    } else if (RBAC_GROUP.equals(str(ref, "apiGroup")) && isWrite(verb)) {
      type = AuditType.RBAC_CHANGE;
    } else if ("secrets".equals(resource)
        && (isWrite(verb) || (isRead(verb) && (user == null || !user.startsWith("system:"))))) {
      type = AuditType.SECRET_ACCESS;
    } else if (isDelete(verb)) {
      type = AuditType.RESOURCE_DELETION;
    } else {
      return;
    }
    out.add(
        finding(
            e,
            type,
            ref,
            resource,
            subresource,
            verb,
            user,
            groups,
            code,
            stage,
            connect,
            privileged,
            ctx));
  }

  private static Finding finding(
      JsonNode e,
      AuditType type,
      JsonNode ref,
      String resource,
      String subresource,
      String verb,
      String user,
      JsonNode groups,
      int code,
      String stage,
      boolean connect,
      String privileged,
      IngestContext ctx) {
    String namespace = str(ref, "namespace");
    String name = str(ref, "name");
    if (name == null && ref != null) {
      // A create with generateName: the name is only in the response (or request) object.
      name = text(e, "responseObject", "metadata", "name");
      if (name == null) {
        name = text(e, "requestObject", "metadata", "name");
      }
    }
    String kind = resource == null ? null : KINDS.getOrDefault(resource, resource);
    ResourceRef resourceRef =
        ref == null
            ? null
            : ResourceRef.of(
                apiVersion(ref), kind, "namespaces".equals(resource) ? null : namespace, name);
    String uri = str(e, "requestURI");

    Severity severity =
        switch (type) {
          case ANONYMOUS_ACCESS -> code == 401 || code == 403 ? Severity.MEDIUM : Severity.HIGH;
          case ACCESS_DENIED, SECRET_ACCESS -> Severity.MEDIUM;
          case PRIVILEGED_POD, POD_EXEC -> Severity.HIGH;
          case RBAC_CHANGE -> grantsClusterAdmin(e, resource) ? Severity.CRITICAL : Severity.HIGH;
          case RESOURCE_DELETION ->
              "deletecollection".equals(verb) || SENSITIVE_DELETES.contains(resource)
                  ? Severity.MEDIUM
                  : Severity.LOW;
        };

    Details d =
        Details.builder()
            .put("verb", verb)
            .put("user", user)
            .put("groups", strings(groups))
            .put("impersonatedUser", text(e, "impersonatedUser", "username"))
            .put("sourceIPs", strings(e.get("sourceIPs")))
            .put("userAgent", str(e, "userAgent"))
            .put("auditID", str(e, "auditID"))
            .put("responseCode", code == 0 ? null : code)
            .put("stage", stage)
            .put("subresource", subresource)
            .put("requestURI", uri);
    if (code >= 400) {
      d.put("reason", text(e, "responseStatus", "reason"));
      d.put("authorizationReason", text(e, "annotations", "authorization.k8s.io/reason"));
    }
    if (privileged != null) {
      d.put("privileged", privileged);
    }
    if (connect && uri != null) {
      putConnectParams(d, uri);
    }
    if (type == AuditType.RBAC_CHANGE) {
      d.put("roleRef", text(e, "requestObject", "roleRef", "name"));
    }

    Instant detectedAt =
        connect
            // Both stages of one exec session: the same time, hence the same dedup bucket.
            ? first(
                JsonFields.time(e, "requestReceivedTimestamp"),
                JsonFields.time(e, "stageTimestamp"))
            : first(
                JsonFields.time(e, "stageTimestamp"),
                JsonFields.time(e, "requestReceivedTimestamp"));
    if (detectedAt == null) {
      detectedAt = first(JsonFields.time(e, "timestamp"), ctx.receivedAt()); // v1beta1
    }

    String target = target(kind, namespace, name, subresource, ref == null ? path(uri) : null);
    List<String> identity =
        List.of(
            type.eventType(),
            nz(user),
            nz(verb),
            nz(namespace),
            nz(resource),
            nz(name),
            nz(subresource),
            ref == null ? nz(path(uri)) : "");
    return new Finding(
        SOURCE,
        type.category(),
        severity,
        type.eventType(),
        resourceRef,
        title(type, user, verb, target, subresource, code, privileged),
        d.build(),
        detectedAt,
        identity);
  }

  private static String title(
      AuditType type,
      String user,
      String verb,
      String target,
      String subresource,
      int code,
      String privileged) {
    String who = user == null ? "unauthenticated client" : user;
    return switch (type) {
      case ANONYMOUS_ACCESS ->
          "Anonymous request: "
              + verb
              + " "
              + target
              + (code == 0 ? "" : " (" + code + (code == 401 || code == 403 ? " denied)" : ")"));
      case ACCESS_DENIED -> who + " denied " + verb + " " + target + " (" + code + ")";
      case PRIVILEGED_POD -> "Privileged pod " + target + " by " + who + " (" + privileged + ")";
      case POD_EXEC -> who + " opened " + subresource + " on " + target;
      case RBAC_CHANGE, SECRET_ACCESS, RESOURCE_DELETION -> who + " " + verb + " " + target;
    };
  }

  private static String target(
      String kind, String namespace, String name, String subresource, String path) {
    if (kind == null) {
      return path == null ? "(no resource)" : path;
    }
    StringBuilder b = new StringBuilder(kind);
    if (name == null) {
      b.append(namespace == null ? " (all namespaces)" : " in " + namespace);
    } else {
      b.append(' ');
      if (namespace != null && !"Namespace".equals(kind)) {
        b.append(namespace).append('/');
      }
      b.append(name);
    }
    if (subresource != null && !isConnect(subresource)) {
      b.append('/').append(subresource);
    }
    return b.toString();
  }

  /**
   * Why a pod write is privileged, or null: a create of pods (no subresource) or a write of
   * pods/ephemeralcontainers (kubectl debug), judged from requestObject when the audit level
   * recorded it.
   */
  static String privileged(JsonNode e, String verb, String subresource) {
    boolean create = subresource == null && "create".equals(verb);
    boolean ephemeral =
        "ephemeralcontainers".equals(subresource) && isWrite(verb) && !isDelete(verb);
    if (!create && !ephemeral) {
      return null;
    }
    JsonNode spec = obj(obj(e, "requestObject"), "spec");
    if (spec == null) {
      return null;
    }
    List<String> reasons = null;
    if (create) {
      reasons = privilegedContainers(spec.get("containers"), reasons);
      reasons = privilegedContainers(spec.get("initContainers"), reasons);
    }
    reasons = privilegedContainers(spec.get("ephemeralContainers"), reasons);
    if (create) {
      for (String host : new String[] {"hostPID", "hostNetwork", "hostIPC"}) {
        JsonNode v = spec.get(host);
        if (v != null && v.asBoolean(false)) {
          reasons = add(reasons, host);
        }
      }
      JsonNode volumes = spec.get("volumes");
      if (volumes != null && volumes.isArray()) {
        for (JsonNode v : volumes) {
          String path = text(v, "hostPath", "path");
          if (path != null) {
            reasons = add(reasons, "hostPath " + path);
          }
        }
      }
    }
    return reasons == null ? null : String.join(", ", reasons);
  }

  private static List<String> privilegedContainers(JsonNode containers, List<String> reasons) {
    if (containers == null || !containers.isArray()) {
      return reasons;
    }
    for (JsonNode c : containers) {
      JsonNode p = c.path("securityContext").path("privileged");
      if (p.asBoolean(false)) {
        String name = str(c, "name");
        reasons = add(reasons, "privileged container" + (name == null ? "" : " " + name));
      }
    }
    return reasons;
  }

  private static List<String> add(List<String> list, String s) {
    List<String> l = list == null ? new ArrayList<>(2) : list;
    l.add(s);
    return l;
  }

  /** A (Cluster)RoleBinding whose roleRef is cluster-admin. */
  private static boolean grantsClusterAdmin(JsonNode e, String resource) {
    return ("rolebindings".equals(resource) || "clusterrolebindings".equals(resource))
        && "cluster-admin".equals(text(e, "requestObject", "roleRef", "name"));
  }

  /** {@code command} and {@code container} of an exec/attach request URI, decoded. */
  private static void putConnectParams(Details d, String uri) {
    int q = uri.indexOf('?');
    if (q < 0) {
      return;
    }
    StringBuilder command = null;
    String container = null;
    String ports = null;
    for (String param : uri.substring(q + 1).split("&")) {
      int eq = param.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      String key = param.substring(0, eq);
      String value = decode(param.substring(eq + 1));
      switch (key) {
        case "command" ->
            command =
                command == null ? new StringBuilder(value) : command.append(' ').append(value);
        case "container" -> container = value;
        case "ports" -> ports = ports == null ? value : ports + "," + value;
        default -> {}
      }
    }
    d.put("command", command == null ? null : command.toString());
    d.put("container", container);
    d.put("ports", ports);
  }

  private static String decode(String s) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return s;
    }
  }

  private static String apiVersion(JsonNode ref) {
    String group = str(ref, "apiGroup");
    String version = str(ref, "apiVersion");
    if (group == null) {
      return version;
    }
    return version == null ? group : group + "/" + version;
  }

  private static boolean isHealthPath(String uri) {
    String p = path(uri);
    if (p == null) {
      return false;
    }
    for (String h : ANONYMOUS_HEALTH_PATHS) {
      if (p.equals(h) || (p.startsWith(h) && p.charAt(h.length()) == '/')) {
        return true;
      }
    }
    return false;
  }

  private static String path(String uri) {
    if (uri == null) {
      return null;
    }
    int q = uri.indexOf('?');
    return q < 0 ? uri : uri.substring(0, q);
  }

  static boolean isConnect(String subresource) {
    return "exec".equals(subresource)
        || "attach".equals(subresource)
        || "portforward".equals(subresource);
  }

  static boolean isWrite(String verb) {
    return "create".equals(verb) || "update".equals(verb) || "patch".equals(verb) || isDelete(verb);
  }

  static boolean isDelete(String verb) {
    return "delete".equals(verb) || "deletecollection".equals(verb);
  }

  static boolean isRead(String verb) {
    return "get".equals(verb) || "list".equals(verb) || "watch".equals(verb);
  }

  private static int code(JsonNode e) {
    JsonNode status = e.get("responseStatus");
    if (status == null || !status.isObject()) {
      return 0;
    }
    JsonNode c = status.get("code");
    return c == null ? 0 : c.asInt(0);
  }

  private static boolean contains(JsonNode array, String value) {
    if (array == null || !array.isArray()) {
      return false;
    }
    for (JsonNode n : array) {
      if (value.equals(n.textValue())) {
        return true;
      }
    }
    return false;
  }

  private static List<String> strings(JsonNode array) {
    if (array == null || !array.isArray() || array.isEmpty()) {
      return null;
    }
    List<String> out = new ArrayList<>(array.size());
    for (JsonNode n : array) {
      if (n.isValueNode() && !n.isNull()) {
        out.add(n.asText());
      }
    }
    return out;
  }

  /** A scalar field of an object as text; null when absent, null, blank or not a scalar. */
  private static String str(JsonNode n, String field) {
    if (n == null) {
      return null;
    }
    JsonNode v = n.get(field);
    if (v == null || !v.isValueNode() || v.isNull()) {
      return null;
    }
    String s = v.isTextual() ? v.textValue() : v.asText();
    return s.isEmpty() ? null : s;
  }

  private static String text(JsonNode n, String a, String b) {
    return str(obj(n, a), b);
  }

  private static String text(JsonNode n, String a, String b, String c) {
    return str(obj(obj(n, a), b), c);
  }

  private static JsonNode obj(JsonNode n, String field) {
    if (n == null) {
      return null;
    }
    JsonNode v = n.get(field);
    return v != null && v.isObject() ? v : null;
  }

  private static <T> T first(T a, T b) {
    return a != null ? a : b;
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }

  private static String type(JsonNode n) {
    return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
  }

  private static InvalidInputException invalid(int index, String message) {
    return new InvalidInputException(index < 0 ? message : "element " + index + ": " + message);
  }
}
