package io.kubezen.watcher.pipeline.filter;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Finding;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Test findings shaped like the normalizers' output. */
final class Findings {
  private Findings() {}

  static Finding falco(Severity severity, String namespace, String rule) {
    ResourceRef pod =
        namespace == null ? null : ResourceRef.of("v1", "Pod", namespace, "web-7d4b9c6f5-x2k8p");
    return new Finding(
        "falco",
        Category.SECURITY,
        severity,
        "runtime_threat",
        pod,
        "Terminal shell in container",
        Map.of(
            "rule",
            rule,
            "priority",
            "Warning",
            "container_image",
            "nginx:1.25",
            "tags",
            List.of("container", "shell", "mitre_execution")),
        Instant.parse("2024-05-01T10:00:00Z"),
        List.of(rule, namespace == null ? "" : namespace));
  }

  static Finding of(
      String source,
      Category category,
      Severity severity,
      String eventType,
      ResourceRef resource,
      Map<String, Object> details) {
    return new Finding(
        source,
        category,
        severity,
        eventType,
        resource,
        "a title",
        details,
        Instant.parse("2024-05-01T10:00:00Z"),
        List.of("x"));
  }
}
