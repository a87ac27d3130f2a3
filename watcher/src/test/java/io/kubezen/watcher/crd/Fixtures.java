package io.kubezen.watcher.crd;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.Ingester;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.api.v1alpha1.IngesterStatus;
import io.kubezen.api.v1alpha1.Observation;
import io.kubezen.api.v1alpha1.ObservationSpec;
import io.kubezen.api.v1alpha1.ObservationStatus;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An Observation and an Ingester with every field set (EveryField checks that nothing is left
 * unset).
 */
final class Fixtures {
  static final String FINGERPRINT =
      "ab823477255ede0e49a656c174c33b34f642d815f40cc7b10e517f8f0b29ba8f";

  private Fixtures() {}

  static Observation observation(String namespace, String name) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("rule", "Terminal shell in container");
    details.put("priority", "Warning");
    details.put("cvss", 9.8);
    details.put("fd_num", 3);
    details.put("blocked", false);
    details.put("tags", List.of("container", "shell", "mitre_execution"));
    details.put(
        "output_fields",
        Map.of(
            "proc.cmdline",
            "bash -i",
            "container.id",
            "4f1a2b3c4d5e",
            "k8s.pod.labels",
            Map.of("app", "web", "tier", "frontend"),
            "proc.pids",
            List.of(412, 413)));
    details.put("rules", List.of(Map.of("id", "r1", "hits", List.of(Map.of("line", 7)))));
    Observation o = new Observation();
    o.getMetadata().setNamespace(namespace);
    o.getMetadata().setName(name);
    o.getMetadata()
        .setLabels(Map.of(Observation.LABEL_SOURCE, "falco", Observation.LABEL_SEVERITY, "high"));
    o.setSpec(
        new ObservationSpec(
            "falco",
            Category.SECURITY,
            Severity.HIGH,
            "runtime_threat",
            new ResourceRef("v1", "Pod", "web-7d9f8", "shop"),
            "Terminal shell in container web-7d9f8",
            details,
            "2026-11-22T09:14:03.512Z",
            FINGERPRINT,
            604800L,
            "prod-eu-1"));
    o.setStatus(
        new ObservationStatus(
            3L, "2026-11-22T09:14:03Z", "2026-11-22T09:19:41Z", true, "2026-11-22T10:00:00Z"));
    return o;
  }

  static Ingester ingester(String namespace, String name) {
    Ingester i = new Ingester();
    i.getMetadata().setNamespace(namespace);
    i.getMetadata().setName(name);
    i.setSpec(
        new IngesterSpec(
            "acme-scanner",
            IngesterSpec.Type.INFORMER,
            new IngesterSpec.Informer(
                new IngesterSpec.Gvr("scans.acme.io", "v1beta1", "scanresults"),
                List.of("shop", "payments"),
                "app.kubernetes.io/managed-by=acme",
                "metadata.name!=ignored"),
            new IngesterSpec.Webhook(
                "acme-scanner",
                new IngesterSpec.Auth(
                    IngesterSpec.AuthType.BEARER,
                    new IngesterSpec.SecretRef("acme-token", "token"))),
            new IngesterSpec.Mapping(
                "report.results",
                "item.level",
                Map.of("CRITICAL", "critical", "MAJOR", "high", "MINOR", "low"),
                "item.message",
                "'scan_' + item.kind",
                "'security'",
                new IngesterSpec.ResourceMapping(
                    "object.apiVersion",
                    "object.kind",
                    "object.metadata.name",
                    "object.metadata.namespace"),
                "item.timestamp",
                Map.of("rule", "item.ruleId", "package", "item.pkg"),
                List.of("item.ruleId", "object.metadata.uid")),
            new IngesterSpec.Filter(
                "medium",
                List.of("shop"),
                List.of("kube-system"),
                List.of("Pod", "Deployment"),
                List.of("Secret"),
                List.of("security"),
                List.of("cost"),
                List.of("scan_vuln"),
                List.of("scan_info"),
                List.of("R-1"),
                List.of("R-9"),
                "severity != 'low'"),
            new IngesterSpec.Dedup("5m")));
    i.setStatus(
        new IngesterStatus(
            2L,
            List.of(
                new ConditionBuilder()
                    .withType("Ready")
                    .withStatus("True")
                    .withReason("Watching")
                    .withMessage("watching scanresults.v1beta1.scans.acme.io in shop, payments")
                    .withObservedGeneration(2L)
                    .withLastTransitionTime("2026-11-22T09:00:00Z")
                    .build()),
            "2026-11-22T09:30:00Z",
            42L,
            17L));
    return i;
  }
}
