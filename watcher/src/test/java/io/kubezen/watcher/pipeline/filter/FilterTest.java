package io.kubezen.watcher.pipeline.filter;

import static io.kubezen.watcher.pipeline.filter.Findings.falco;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.Category;
import io.kubezen.api.v1alpha1.ResourceRef;
import io.kubezen.api.v1alpha1.Severity;
import io.kubezen.watcher.model.Details;
import io.kubezen.watcher.model.Finding;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class FilterTest {

  private static final ResourceRef POD = ResourceRef.of("v1", "Pod", "payments", "api-0");
  private static final ResourceRef CLUSTER_ROLE =
      ResourceRef.of("rbac.authorization.k8s.io/v1", "ClusterRole", null, "admin-2");

  private static Filter filter(String yaml) throws FilterConfigException {
    return Filter.parse(yaml);
  }

  private static void assertDropped(Decision d, DropReason reason, String scope) {
    assertThat(d.kept()).as("kept").isFalse();
    assertThat(d.dropped()).isTrue();
    assertThat(d.reason()).isEqualTo(reason);
    assertThat(d.scope()).isEqualTo(scope);
    assertThat(d.expressionError()).isFalse();
  }

  private static void assertKept(Decision d) {
    assertThat(d.kept()).as("kept: " + d).isTrue();
    assertThat(d.reason()).isNull();
    assertThat(d.expressionError()).as("expression error: " + d.errorMessage()).isFalse();
  }

  private static Finding kyverno(Category category, String namespace, String kind, String policy) {
    return Findings.of(
        "kyverno",
        category,
        Severity.MEDIUM,
        "policy_violation",
        ResourceRef.of("apps/v1", kind, namespace, "web"),
        Details.builder()
            .put("policy", policy)
            .put("rule", "check-" + policy)
            .put("result", "fail")
            .build());
  }

  @Test
  void allowAllKeepsEverything() {
    assertThat(Filter.ALLOW_ALL.allowsAll()).isTrue();
    assertThat(Filter.ALLOW_ALL.apply(falco(Severity.INFO, "kube-system", "x")))
        .isSameAs(Decision.KEEP);
  }

  @Test
  void emptyConfigAllowsAll() throws Exception {
    Filter f = filter("# no rules\n");
    assertThat(f.allowsAll()).isTrue();
    assertKept(f.apply(falco(Severity.INFO, null, "x")));
  }

  @Test
  void minSeverity() throws Exception {
    Filter f = filter("global:\n  minSeverity: medium\n");
    assertKept(f.apply(falco(Severity.CRITICAL, "a", "r")));
    assertKept(f.apply(falco(Severity.MEDIUM, "a", "r")));
    assertDropped(f.apply(falco(Severity.LOW, "a", "r")), DropReason.MIN_SEVERITY, "global");
    assertDropped(f.apply(falco(Severity.INFO, "a", "r")), DropReason.MIN_SEVERITY, "global");
  }

  @Test
  void namespaces() throws Exception {
    Filter f =
        filter("global:\n  includeNamespaces: [payments, shop]\n  excludeNamespaces: [shop]\n");
    assertKept(f.apply(falco(Severity.HIGH, "payments", "r")));
    assertDropped(f.apply(falco(Severity.HIGH, "default", "r")), DropReason.NAMESPACE, "global");
    // exclude wins over include
    assertDropped(f.apply(falco(Severity.HIGH, "shop", "r")), DropReason.NAMESPACE, "global");
  }

  @Test
  void findingsWithoutNamespacePassIncludeListsUnlessExcludeNamesEmpty() throws Exception {
    Finding hostAlert = falco(Severity.HIGH, null, "r");
    Finding clusterScoped =
        Findings.of(
            "k8s-audit", Category.COMPLIANCE, Severity.HIGH, "rbac_change", CLUSTER_ROLE, Map.of());
    Filter include = filter("global:\n  includeNamespaces: [payments]\n  includeKinds: [Pod]\n");
    assertKept(include.apply(hostAlert));
    assertDropped(include.apply(clusterScoped), DropReason.KIND, "global");

    Filter excludeEmpty = filter("global:\n  excludeNamespaces: ['']\n");
    assertDropped(excludeEmpty.apply(hostAlert), DropReason.NAMESPACE, "global");
    assertDropped(excludeEmpty.apply(clusterScoped), DropReason.NAMESPACE, "global");
    assertKept(excludeEmpty.apply(falco(Severity.HIGH, "payments", "r")));
  }

  @Test
  void kinds() throws Exception {
    Filter f =
        filter(
            "global:\n  excludeKinds: [ConfigMap]\nsources:\n  kyverno:\n    includeKinds: [Deployment, Pod]\n");
    assertKept(f.apply(kyverno(Category.SECURITY, "a", "Deployment", "p")));
    assertDropped(
        f.apply(kyverno(Category.SECURITY, "a", "StatefulSet", "p")),
        DropReason.KIND,
        "sources.kyverno");
    assertDropped(
        f.apply(kyverno(Category.SECURITY, "a", "ConfigMap", "p")), DropReason.KIND, "global");
    // a host alert has no kind: not judged by include lists
    assertKept(filter("global:\n  includeKinds: [Pod]\n").apply(falco(Severity.HIGH, null, "r")));
    assertDropped(
        filter("global:\n  excludeKinds: ['']\n").apply(falco(Severity.HIGH, null, "r")),
        DropReason.KIND,
        "global");
  }

  @Test
  void categories() throws Exception {
    Filter f =
        filter(
            "global:\n  includeCategories: [security, compliance]\n  excludeCategories: [compliance]\n");
    assertKept(f.apply(kyverno(Category.SECURITY, "a", "Pod", "p")));
    assertDropped(
        f.apply(kyverno(Category.COMPLIANCE, "a", "Pod", "p")), DropReason.CATEGORY, "global");
    assertDropped(f.apply(kyverno(Category.COST, "a", "Pod", "p")), DropReason.CATEGORY, "global");
  }

  @Test
  void eventTypes() throws Exception {
    Filter f =
        filter(
            "sources:\n  k8s-audit:\n    excludeEventTypes: [access_denied]\n"
                + "  falco:\n    includeEventTypes: [runtime_threat]\n");
    Finding denied =
        Findings.of(
            "k8s-audit", Category.SECURITY, Severity.MEDIUM, "access_denied", POD, Map.of());
    Finding exec =
        Findings.of("k8s-audit", Category.COMPLIANCE, Severity.HIGH, "pod_exec", POD, Map.of());
    assertDropped(f.apply(denied), DropReason.EVENT_TYPE, "sources.k8s-audit");
    assertKept(f.apply(exec));
    assertKept(f.apply(falco(Severity.HIGH, "a", "r")));
    Finding other =
        Findings.of("falco", Category.SECURITY, Severity.HIGH, "custom_event", POD, Map.of());
    assertDropped(f.apply(other), DropReason.EVENT_TYPE, "sources.falco");
  }

  @Test
  void rulesMatchRulePolicyAndCheckId() throws Exception {
    Filter f =
        filter(
            "global:\n  excludeRules: [require-labels, CKV_K8S_21, Terminal shell in container]\n");
    assertDropped(
        f.apply(falco(Severity.HIGH, "a", "Terminal shell in container")),
        DropReason.RULE,
        "global");
    assertKept(f.apply(falco(Severity.HIGH, "a", "Write below etc")));
    assertDropped(
        f.apply(kyverno(Category.SECURITY, "a", "Pod", "require-labels")),
        DropReason.RULE,
        "global");
    Finding checkov =
        Findings.of(
            "checkov",
            Category.SECURITY,
            Severity.MEDIUM,
            "static_analysis",
            POD,
            Map.of(
                "check_id",
                "CKV_K8S_21",
                "check_name",
                "The default namespace should not be used"));
    assertDropped(f.apply(checkov), DropReason.RULE, "global");

    Filter include = filter("sources:\n  kyverno:\n    includeRules: [disallow-privileged]\n");
    // policy matches although details.rule (check-disallow-privileged) does not
    assertKept(include.apply(kyverno(Category.SECURITY, "a", "Pod", "disallow-privileged")));
    assertDropped(
        include.apply(kyverno(Category.SECURITY, "a", "Pod", "require-labels")),
        DropReason.RULE,
        "sources.kyverno");
    // a finding with no rule at all is not judged by includeRules, but excludeRules [''] drops it
    Finding noRule =
        Findings.of("kyverno", Category.SECURITY, Severity.HIGH, "policy_violation", POD, Map.of());
    assertKept(include.apply(noRule));
    assertDropped(
        filter("global:\n  excludeRules: ['']\n").apply(noRule), DropReason.RULE, "global");
  }

  @Test
  void excludeRuleWinsOverIncludeRuleOnTheSameFinding() throws Exception {
    Filter f =
        filter(
            "global:\n  includeRules: [disallow-privileged]\n  excludeRules: [check-disallow-privileged]\n");
    assertDropped(
        f.apply(kyverno(Category.SECURITY, "a", "Pod", "disallow-privileged")),
        DropReason.RULE,
        "global");
  }

  @Test
  void findingMustPassGlobalAndItsSourceRules() throws Exception {
    Filter f =
        filter(
            """
        global:
          minSeverity: low
          excludeNamespaces: [kube-system]
        sources:
          falco:
            minSeverity: high
        """);
    assertKept(f.apply(falco(Severity.HIGH, "payments", "r")));
    assertDropped(
        f.apply(falco(Severity.MEDIUM, "payments", "r")), DropReason.MIN_SEVERITY, "sources.falco");
    assertDropped(
        f.apply(falco(Severity.INFO, "payments", "r")), DropReason.MIN_SEVERITY, "global");
    assertDropped(
        f.apply(falco(Severity.CRITICAL, "kube-system", "r")), DropReason.NAMESPACE, "global");
    // other sources only see the global rules
    assertKept(f.apply(kyverno(Category.SECURITY, "payments", "Pod", "p")));
  }

  @Test
  void cheapChecksComeBeforeExpressions() throws Exception {
    // The expression would fail to evaluate (missing key): a finding dropped by a field rule never
    // gets there.
    Filter f = filter("global:\n  minSeverity: high\n  expression: details.nope == 'x'\n");
    assertDropped(f.apply(falco(Severity.LOW, "a", "r")), DropReason.MIN_SEVERITY, "global");
  }

  @Test
  void expressionFromTheIssue() throws Exception {
    Filter f =
        filter(
            "global:\n  expression: \"severity in ['critical','high'] && resource.namespace != 'kube-system'\"\n");
    assertKept(f.apply(falco(Severity.CRITICAL, "payments", "r")));
    assertDropped(
        f.apply(falco(Severity.MEDIUM, "payments", "r")), DropReason.EXPRESSION, "global");
    assertDropped(
        f.apply(falco(Severity.HIGH, "kube-system", "r")), DropReason.EXPRESSION, "global");
    // no resource: namespace is ''
    assertKept(f.apply(falco(Severity.HIGH, null, "r")));
  }

  @Test
  void expressionsSeeEveryVariable() throws Exception {
    Finding trivy =
        new Finding(
            "trivy",
            Category.SECURITY,
            Severity.HIGH,
            "vulnerability",
            ResourceRef.of("apps/v1", "Deployment", "shop", "cart"),
            "CVE-2023-44487 in golang.org/x/net 0.7.0",
            Details.builder()
                .put("vulnerabilityID", "CVE-2023-44487")
                .put("resource", "golang.org/x/net")
                .put("installedVersion", "0.7.0")
                .put("fixedVersion", "0.17.0")
                .put("score", 7.5)
                .put("count", 3) // an Integer, as Details keeps it
                .put("ratio", 0.5f)
                .put("big", new BigDecimal("12.25"))
                .put("exploited", true)
                .put("links", List.of("https://avd.aquasec.com/nvd/cve-2023-44487", 7))
                .build(),
            java.time.Instant.parse("2024-05-01T10:00:00Z"),
            List.of("x"));
    Map<String, Boolean> cases = new java.util.LinkedHashMap<>();
    cases.put("source == 'trivy'", true);
    cases.put("category == 'security'", true);
    cases.put("severity == 'high'", true);
    cases.put("severityRank == 3", true);
    cases.put("severityRank >= 4", false);
    cases.put("eventType == 'vulnerability'", true);
    cases.put("title.startsWith('CVE-2023-44487')", true);
    cases.put("resource.apiVersion == 'apps/v1' && resource.kind == 'Deployment'", true);
    cases.put("resource.name == 'cart' && resource['namespace'] == 'shop'", true);
    cases.put("details.vulnerabilityID == 'CVE-2023-44487'", true);
    cases.put("details.score > 7", true); // double against int literal
    cases.put("details.score >= 9.0", false);
    cases.put("details.count == 3 && details.count > 2", true); // Integer seen as CEL int
    cases.put("details.ratio == 0.5", true);
    cases.put("details.big > 12.0", true);
    cases.put("details.exploited", true);
    cases.put("details.links.exists(l, l.contains('aquasec'))", true);
    cases.put("size(details.links) == 2", true);
    cases.put("has(details.fixedVersion) && details.fixedVersion != ''", true);
    cases.put("has(details.cvss)", false);
    cases.put("'fixedVersion' in details", true);
    cases.put("title.lowerAscii().contains('golang')", true); // strings extension
    cases.put("resource.name.matches('^c[a-z]+$')", true);
    for (Map.Entry<String, Boolean> c : cases.entrySet()) {
      Decision d = Filter.parse("global:\n  expression: \"" + c.getKey() + "\"\n").apply(trivy);
      assertThat(d.expressionError()).as(c.getKey() + " -> " + d.errorMessage()).isFalse();
      assertThat(d.kept()).as(c.getKey()).isEqualTo(c.getValue());
    }
  }

  @Test
  void resourceKeysArePresentAndEmptyWhenUnknown() throws Exception {
    Filter f =
        filter(
            "global:\n  expression: \"resource.kind == '' && resource.name == '' && resource.apiVersion == ''"
                + " && resource.namespace == ''\"\n");
    assertKept(f.apply(falco(Severity.HIGH, null, "r")));
    assertDropped(f.apply(falco(Severity.HIGH, "a", "r")), DropReason.EXPRESSION, "global");
  }

  @Test
  void globalAndSourceExpressionsBothApply() throws Exception {
    Filter f =
        filter(
            """
        global:
          expression: "resource.namespace != 'kube-system'"
        sources:
          falco:
            expression: "!details.rule.startsWith('Contact K8S API')"
        """);
    assertKept(f.apply(falco(Severity.HIGH, "a", "Terminal shell in container")));
    assertDropped(
        f.apply(falco(Severity.HIGH, "kube-system", "Terminal shell in container")),
        DropReason.EXPRESSION,
        "global");
    assertDropped(
        f.apply(falco(Severity.HIGH, "a", "Contact K8S API Server From Container")),
        DropReason.EXPRESSION,
        "sources.falco");
  }

  @Test
  void evaluationErrorKeepsTheFindingAndSaysSo() throws Exception {
    Filter f = filter("sources:\n  falco:\n    expression: \"details.missing == 'x'\"\n");
    Decision d = f.apply(falco(Severity.HIGH, "a", "r"));
    assertThat(d.kept()).isTrue();
    assertThat(d.expressionError()).isTrue();
    assertThat(d.scope()).isEqualTo("sources.falco");
    assertThat(d.errorMessage()).startsWith("sources.falco.expression: ").contains("missing");
  }

  @Test
  void evaluationErrorInGlobalDoesNotHideADropBySource() throws Exception {
    Filter f =
        filter(
            """
        global:
          expression: "details.missing == 'x'"
        sources:
          falco:
            expression: "severity == 'critical'"
        """);
    assertDropped(f.apply(falco(Severity.HIGH, "a", "r")), DropReason.EXPRESSION, "sources.falco");
    Decision kept = f.apply(falco(Severity.CRITICAL, "a", "r"));
    assertThat(kept.kept()).isTrue();
    assertThat(kept.expressionError()).isTrue();
    assertThat(kept.scope()).isEqualTo("global");
  }

  @Test
  void dynResultThatIsNotABoolKeepsTheFindingWithAnError() throws Exception {
    Filter f = filter("global:\n  expression: details.rule\n");
    Decision d = f.apply(falco(Severity.HIGH, "a", "r"));
    assertThat(d.kept()).isTrue();
    assertThat(d.expressionError()).isTrue();
    assertThat(d.errorMessage()).contains("not a bool");
  }

  @Test
  void compileErrorsNameThePlace() {
    assertThatThrownBy(() -> filter("sources:\n  falco:\n    expression: \"severity ==\"\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageStartingWith("sources.falco.expression: ")
        .hasMessageContaining("<input>:1:");
    assertThatThrownBy(() -> filter("global:\n  expression: \"sevrity == 'high'\"\n"))
        .hasMessageStartingWith("global.expression: ")
        .hasMessageContaining("undeclared reference to 'sevrity'");
  }

  @Test
  void typeErrorsNameThePlace() {
    assertThatThrownBy(() -> filter("global:\n  expression: severityRank\n"))
        .isInstanceOf(FilterConfigException.class)
        .hasMessageStartingWith("global.expression: ")
        .hasMessageContaining("expected type 'bool' but found 'int'");
    assertThatThrownBy(
            () -> filter("sources:\n  trivy:\n    expression: \"severityRank == 'high'\"\n"))
        .hasMessageStartingWith("sources.trivy.expression: ")
        .hasMessageContaining("found no matching overload");
    assertThatThrownBy(() -> filter("global:\n  expression: \"title + 'x'\"\n"))
        .hasMessageStartingWith("global.expression: ")
        .hasMessageContaining("'bool'");
  }

  @Test
  void comprehensionsAreBounded() throws Exception {
    Filter f =
        filter("global:\n  expression: \"[1,2,3].all(i, [1,2,3].all(j, [1,2,3].all(k, true)))\"\n");
    assertKept(f.apply(falco(Severity.HIGH, "a", "r")));
    // 2000 iterations of an inner loop exceed the bound: an evaluation error, the finding is kept
    String big = "[" + "0,".repeat(1999) + "0]";
    Decision d =
        filter("global:\n  expression: \"" + big + ".all(i, i == 0)\"\n")
            .apply(falco(Severity.HIGH, "a", "r"));
    assertThat(d.kept()).isTrue();
    assertThat(d.expressionError()).isTrue();
  }

  @Test
  void concurrentUseGivesTheSameAnswers() throws Exception {
    Filter f =
        filter(
            """
        global:
          excludeNamespaces: [kube-system]
        sources:
          falco:
            expression: "severityRank >= 3 && details.tags.exists(t, t == 'shell')"
        """);
    List<Finding> findings =
        List.of(
            falco(Severity.CRITICAL, "a", "r"),
            falco(Severity.LOW, "a", "r"),
            falco(Severity.HIGH, "kube-system", "r"));
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<List<Boolean>>> futures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        futures.add(
            pool.submit(
                () -> {
                  List<Boolean> out = new ArrayList<>();
                  for (int i = 0; i < 3000; i++) {
                    out.add(f.apply(findings.get(i % 3)).kept());
                  }
                  return out;
                }));
      }
      for (Future<List<Boolean>> fu : futures) {
        List<Boolean> out = fu.get();
        for (int i = 0; i < out.size(); i++) {
          assertThat(out.get(i)).isEqualTo(i % 3 == 0);
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * A rough timing, not a benchmark: asserts apply() stays in the low microseconds so a regression
   * (e.g. per-call compilation) shows up. The figure is printed for the report.
   */
  @Test
  void applyIsFast() throws Exception {
    Filter f =
        filter(
            """
        global:
          minSeverity: low
          excludeNamespaces: [kube-system]
          expression: "severity in ['critical','high'] && resource.namespace != 'kube-system'"
        sources:
          falco:
            excludeRules: ["Contact K8S API Server From Container"]
            expression: "!details.tags.exists(t, t == 'benign')"
        """);
    Filter fieldsOnly =
        filter(
            "global:\n  minSeverity: low\n  excludeNamespaces: [kube-system]\n"
                + "sources:\n  falco:\n    excludeRules: [x]\n");
    Finding finding = falco(Severity.HIGH, "payments", "Terminal shell in container");
    // Thread CPU time, not wall time: the build machine is shared, and CPU time is what the filter
    // costs.
    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    int n = 100_000;
    long sink = 0;
    for (int i = 0; i < n; i++) { // warm up
      sink += f.apply(finding).kept() ? 1 : 0;
      sink += fieldsOnly.apply(finding).kept() ? 1 : 0;
    }
    long t0 = cpu.getCurrentThreadCpuTime();
    for (int i = 0; i < n; i++) {
      sink += f.apply(finding).kept() ? 1 : 0;
    }
    long t1 = cpu.getCurrentThreadCpuTime();
    for (int i = 0; i < n; i++) {
      sink += fieldsOnly.apply(finding).kept() ? 1 : 0;
    }
    long t2 = cpu.getCurrentThreadCpuTime();
    double withCel = (t1 - t0) / 1000.0 / n;
    double fields = (t2 - t1) / 1000.0 / n;
    System.out.printf(
        "filter apply (thread CPU time): %.3f us/finding with two CEL expressions, %.3f us with"
            + " field rules only%n",
        withCel, fields);
    assertThat(sink).isEqualTo(4L * n);
    assertThat(withCel).as("microseconds per apply with CEL").isLessThan(20.0);
  }
}
