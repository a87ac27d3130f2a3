package io.kubezen.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubezen.watcher.model.Json;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Realistic inputs, generated deterministically (fixed seed): Falco alerts as Falco's http_output
 * sends them, and audit.k8s.io/v1 EventLists as the API server's webhook backend sends them.
 */
final class Fixtures {
  private Fixtures() {}

  /** Falco rules of the default rule set, with the priority they usually carry. */
  private static final String[][] FALCO_RULES = {
    {"Terminal shell in container", "Notice"},
    {"Contact K8S API Server From Container", "Notice"},
    {"Read sensitive file untrusted", "Warning"},
    {"Write below etc", "Error"},
    {"Write below binary dir", "Error"},
    {"Launch Privileged Container", "Informational"},
    {"Drop and execute new binary in container", "Critical"},
    {"Netcat Remote Code Execution in Container", "Warning"},
    {"Redirect STDOUT/STDIN to Network Connection in Container", "Notice"},
    {"Packet socket created in container", "Notice"},
    {"Clear Log Activities", "Warning"},
    {"Search Private Keys or Passwords", "Warning"},
    {"Run shell untrusted", "Debug"},
    {"Unexpected UDP Traffic", "Notice"},
    {"Create Symlink Over Sensitive Files", "Warning"},
    {"Detect crypto miners using the Stratum protocol", "Critical"},
    {"Modify Shell Configuration File", "Warning"},
    {"System user interactive", "Informational"},
  };

  private static final String[] NAMESPACES = {
    "payments",
    "shop",
    "checkout",
    "kube-system",
    "monitoring",
    "dev-alice",
    "dev-bob",
    "default",
    "ingress-nginx",
    "data"
  };

  private static final String[] IMAGES = {
    "docker.io/library/nginx:1.25.3",
    "ghcr.io/acme/checkout:2.14.1",
    "docker.io/library/redis:7.2.4",
    "quay.io/prometheus/node-exporter:v1.8.1",
    "registry.k8s.io/coredns/coredns:v1.11.1",
    "docker.io/library/postgres:16.3",
    "ghcr.io/acme/payments-api:5.0.2",
    "docker.io/library/busybox:1.36"
  };

  /** Falco writes nanosecond times, always nine digits. */
  private static final java.time.format.DateTimeFormatter NANOS =
      java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSS'Z'")
          .withZone(java.time.ZoneOffset.UTC);

  private static final Instant BASE = Instant.parse("2025-06-01T09:41:02.123456789Z");

  /**
   * {@code count} distinct Falco alerts (distinct bodies; about one in {@code freshEvery} carries
   * placeholder {@code i} in its container id, so that it can be made a new identity every time).
   *
   * @return one Slots per alert (zero placeholders for the fixed ones)
   */
  static List<Slots> falcoAlerts(int count, int freshEvery) {
    Random random = new Random(42);
    List<Slots> out = new ArrayList<>(count);
    int placeholders = 0;
    for (int i = 0; i < count; i++) {
      String[] rule = FALCO_RULES[random.nextInt(FALCO_RULES.length)];
      String ns = NAMESPACES[random.nextInt(NAMESPACES.length)];
      // Few pods and containers per namespace: the same (rule, pod, container) recurs, as in real
      // streams.
      int podIndex = random.nextInt(4);
      String deploy = ns + "-app";
      String pod = deploy + "-7c9f8d6b5-" + "x2lqp9".substring(0, 5) + podIndex;
      boolean fresh = i % freshEvery == 0;
      String containerId =
          fresh
              ? Slots.placeholder(placeholders++)
              : String.format("%012x", 0x3a9c1f2b7d4eL + podIndex * 7919L + ns.hashCode());
      String image = IMAGES[random.nextInt(IMAGES.length)];
      String repo = image.substring(0, image.lastIndexOf(':'));
      String tag = image.substring(image.lastIndexOf(':') + 1);
      String container = repo.substring(repo.lastIndexOf('/') + 1);
      boolean host = random.nextInt(20) == 0; // a few host-level alerts: no pod
      Instant time = BASE.plusNanos(i * 1_000_003L);
      String hostname = "ip-10-0-12-" + (30 + random.nextInt(4)) + ".eu-west-1.compute.internal";

      ObjectNode a = Json.MAPPER.createObjectNode();
      a.put("hostname", hostname);
      a.put(
          "output",
          NANOS.format(time).substring(11, 29)
              + ": "
              + rule[1]
              + " "
              + rule[0]
              + " (evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/usr/bin/bash"
              + " parent=runc command=bash -c \"cat /etc/shadow\" terminal=34816 exe_flags=EXE_WRITABLE"
              + (host
                  ? ""
                  : " container_id="
                      + containerId
                      + " container_image="
                      + repo
                      + " container_image_tag="
                      + tag
                      + " container_name="
                      + container
                      + " k8s_ns="
                      + ns
                      + " k8s_pod_name="
                      + pod)
              + ")");
      ObjectNode f = a.putObject("output_fields");
      if (!host) {
        f.put("container.id", containerId);
        f.put("container.image.repository", repo);
        f.put("container.image.tag", tag);
        f.put("container.name", container);
      } else {
        f.put("container.id", "host");
      }
      f.put("evt.arg.flags", "EXE_WRITABLE");
      f.put("evt.time", time.getEpochSecond() * 1_000_000_000L + time.getNano());
      f.put("evt.type", "execve");
      if (!host) {
        f.put("k8s.ns.name", ns);
        f.put("k8s.pod.name", pod);
      }
      f.put("proc.cmdline", "bash -c \"cat /etc/shadow\"");
      f.put("proc.exepath", "/usr/bin/bash");
      f.put("proc.name", "bash");
      f.put("proc.pname", "runc");
      f.put("proc.tty", 34816);
      f.put("user.loginuid", -1);
      f.put("user.name", "root");
      f.put("user.uid", 0);
      a.put("priority", rule[1]);
      a.put("rule", rule[0]);
      a.put("source", "syscall");
      ArrayNode tags = a.putArray("tags");
      tags.add("T1059").add("container").add("maturity_stable").add("mitre_execution").add("shell");
      a.put("time", NANOS.format(time));
      byte[] bytes = bytes(a);
      out.add(fresh && !host ? Slots.find(bytes, placeholders - 1, 1) : Slots.find(bytes, 0, 0));
    }
    return out;
  }

  /**
   * An audit.k8s.io/v1 EventList of {@code size} items, as the webhook backend batches them: mostly
   * reads and watches by controllers and kubelets (not findings), some
   * ResponseStarted/RequestReceived stages (skipped), and the security-relevant share: secret reads
   * by people, deletes, exec, RBAC writes, denials, privileged pod creates. {@code fresh} of the
   * relevant events name an object through a placeholder (see {@link Slots}), numbered from {@code
   * firstPlaceholder}.
   */
  static Slots auditEventList(int size, long seed, int firstPlaceholder, int fresh) {
    Random random = new Random(seed);
    ObjectNode list = Json.MAPPER.createObjectNode();
    list.put("kind", "EventList");
    list.put("apiVersion", "audit.k8s.io/v1");
    list.putObject("metadata");
    ArrayNode items = list.putArray("items");
    int placeholders = 0;
    for (int i = 0; i < size; i++) {
      Instant t = BASE.plusMillis(i * 3L);
      int kind = random.nextInt(100);
      String ns = NAMESPACES[random.nextInt(NAMESPACES.length)];
      ObjectNode e;
      if (kind < 55) {
        // Noise: controllers and kubelets reading.
        String[] verbs = {"get", "list", "watch"};
        String[] resources = {"configmaps", "pods", "endpoints", "leases", "nodes", "services"};
        String verb = verbs[random.nextInt(verbs.length)];
        String res = resources[random.nextInt(resources.length)];
        e =
            event(
                t,
                verb,
                "system:serviceaccount:kube-system:" + res + "-controller",
                ns,
                res,
                verb.equals("get") ? res + "-" + random.nextInt(50) : null,
                null,
                200,
                "ResponseComplete");
      } else if (kind < 62) {
        e =
            event(
                t,
                "get",
                "system:node:worker-" + random.nextInt(3),
                ns,
                "configmaps",
                "kube-root-ca.crt",
                null,
                200,
                "RequestReceived");
      } else {
        boolean isFresh = placeholders < fresh && random.nextInt(4) == 0;
        String name = isFresh ? Slots.placeholder(firstPlaceholder + placeholders++) : null;
        String user =
            new String[] {
                  "alice@example.com", "bob@example.com", "ci-deployer", "mallory@example.com"
                }
                [random.nextInt(4)];
        if (kind < 74) {
          e =
              event(
                  t,
                  "get",
                  user,
                  ns,
                  "secrets",
                  name != null ? name : "db-credentials-" + random.nextInt(5),
                  null,
                  200,
                  "ResponseComplete");
        } else if (kind < 82) {
          e =
              event(
                  t,
                  "delete",
                  user,
                  ns,
                  "pods",
                  name != null ? name : ns + "-app-7c9f8d6b5-x2lq" + random.nextInt(6),
                  null,
                  200,
                  "ResponseComplete");
        } else if (kind < 87) {
          e =
              event(
                  t,
                  "create",
                  user,
                  ns,
                  "pods",
                  name != null ? name : ns + "-app-7c9f8d6b5-x2lq" + random.nextInt(6),
                  "exec",
                  101,
                  random.nextBoolean() ? "ResponseStarted" : "ResponseComplete");
          e.put(
              "requestURI",
              "/api/v1/namespaces/"
                  + ns
                  + "/pods/"
                  + e.get("objectRef").get("name").asText()
                  + "/exec?command=sh&container=app&stdin=true&stdout=true&tty=true");
        } else if (kind < 91) {
          e =
              event(
                  t,
                  "create",
                  user,
                  ns,
                  "rolebindings",
                  name != null ? name : "edit-" + random.nextInt(3),
                  null,
                  201,
                  "ResponseComplete");
          ((ObjectNode) e.get("objectRef")).put("apiGroup", "rbac.authorization.k8s.io");
          ObjectNode rb = e.putObject("requestObject");
          rb.put("kind", "RoleBinding").put("apiVersion", "rbac.authorization.k8s.io/v1");
          rb.putObject("metadata")
              .put("name", e.get("objectRef").get("name").asText())
              .put("namespace", ns);
          rb.putObject("roleRef")
              .put("apiGroup", "rbac.authorization.k8s.io")
              .put("kind", "ClusterRole")
              .put("name", "edit");
          rb.putArray("subjects").addObject().put("kind", "User").put("name", "bob@example.com");
        } else if (kind < 97) {
          e =
              event(
                  t,
                  "get",
                  user,
                  ns,
                  "secrets",
                  name != null ? name : "tls-" + random.nextInt(3),
                  null,
                  403,
                  "ResponseComplete");
          ((ObjectNode) e.get("responseStatus"))
              .put("status", "Failure")
              .put("reason", "Forbidden")
              .put(
                  "message",
                  "secrets is forbidden: User \"" + user + "\" cannot get resource \"secrets\"");
        } else {
          String pod = name != null ? name : "debug-" + random.nextInt(4);
          e = event(t, "create", user, ns, "pods", pod, null, 201, "ResponseComplete");
          ObjectNode p = e.putObject("requestObject");
          p.put("kind", "Pod").put("apiVersion", "v1");
          p.putObject("metadata").put("name", pod).put("namespace", ns);
          ObjectNode spec = p.putObject("spec");
          spec.put("hostPID", true);
          ObjectNode c = spec.putArray("containers").addObject();
          c.put("name", "debug").put("image", "docker.io/library/busybox:1.36");
          c.putObject("securityContext").put("privileged", true);
        }
      }
      items.add(e);
    }
    return Slots.find(bytes(list), firstPlaceholder, placeholders);
  }

  private static ObjectNode event(
      Instant t,
      String verb,
      String user,
      String ns,
      String resource,
      String name,
      String subresource,
      int code,
      String stage) {
    ObjectNode e = Json.MAPPER.createObjectNode();
    e.put("level", "Metadata");
    e.put(
        "auditID",
        java.util.UUID.nameUUIDFromBytes((t + user + verb + name).getBytes()).toString());
    e.put("stage", stage);
    e.put(
        "requestURI",
        "/api/v1/namespaces/"
            + ns
            + "/"
            + resource
            + (name == null ? "" : "/" + name)
            + (subresource == null ? "" : "/" + subresource));
    e.put("verb", verb);
    ObjectNode u = e.putObject("user");
    u.put("username", user);
    ArrayNode groups = u.putArray("groups");
    if (user.startsWith("system:serviceaccount:")) {
      groups.add("system:serviceaccounts").add("system:serviceaccounts:kube-system");
    } else if (user.startsWith("system:node:")) {
      groups.add("system:nodes");
    } else {
      groups.add("dev-team");
    }
    groups.add("system:authenticated");
    e.putArray("sourceIPs").add("10.0.12." + (Math.abs(user.hashCode()) % 200 + 1));
    e.put(
        "userAgent",
        user.startsWith("system:")
            ? "kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350"
            : "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350");
    ObjectNode ref = e.putObject("objectRef");
    ref.put("resource", resource);
    ref.put("namespace", ns);
    if (name != null) {
      ref.put("name", name);
    }
    if (subresource != null) {
      ref.put("subresource", subresource);
    }
    ref.put("apiVersion", "v1");
    if (!"RequestReceived".equals(stage)) {
      e.putObject("responseStatus").putObject("metadata");
      ((ObjectNode) e.get("responseStatus")).put("code", code);
    }
    e.put("requestReceivedTimestamp", t.toString());
    e.put("stageTimestamp", t.plusMillis(2).toString());
    ObjectNode ann = e.putObject("annotations");
    ann.put("authorization.k8s.io/decision", code == 403 ? "forbid" : "allow");
    ann.put(
        "authorization.k8s.io/reason",
        code == 403 ? "" : "RBAC: allowed by ClusterRoleBinding \"system:controller\"");
    return e;
  }

  private static byte[] bytes(ObjectNode node) {
    try {
      return Json.MAPPER.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
