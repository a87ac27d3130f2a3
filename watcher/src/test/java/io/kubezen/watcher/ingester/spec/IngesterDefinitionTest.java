package io.kubezen.watcher.ingester.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.watcher.ingester.webhook.WebhookAuth;
import io.kubezen.watcher.source.SourceKind;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class IngesterDefinitionTest {
  static final Set<String> BUILT_IN = Set.of("falco", "trivy");
  static final IngesterSpec.Mapping MAPPING =
      new IngesterSpec.Mapping(null, null, null, "object.msg", null, null, null, null, null, null);

  static List<String> problems(IngesterSpec spec) {
    try {
      IngesterDefinition.compile("k", spec, BUILT_IN);
      return List.of();
    } catch (InvalidIngesterException e) {
      return e.problems();
    }
  }

  @Test
  void informerNeedsAGvrAndValidNamespaces() {
    assertThat(
            problems(
                new IngesterSpec(
                    "acme", IngesterSpec.Type.INFORMER, null, null, MAPPING, null, null)))
        .containsExactly("informer.gvr: missing (group, version and resource to watch)");
    IngesterSpec bad =
        new IngesterSpec(
            "acme",
            IngesterSpec.Type.INFORMER,
            new IngesterSpec.Informer(
                new IngesterSpec.Gvr("Bad_Group", "1", "Reports"),
                List.of("ok", "NOT OK"),
                null,
                null),
            new IngesterSpec.Webhook("x", null),
            MAPPING,
            null,
            null);
    assertThat(problems(bad))
        .containsExactly(
            "informer.gvr.group: 'Bad_Group' is not an API group name",
            "informer.gvr.version: '1' is not an API version (v1, v1beta1, v1alpha2, ...)",
            "informer.gvr.resource: 'Reports' is not a resource name (the lower-case plural, e.g. vulnerabilityreports)",
            "informer.namespaces[1]: 'NOT OK' is not a namespace name",
            "webhook: only for type webhook (this Ingester is type informer)");
  }

  @Test
  void webhookNeedsPathAndSecretForAuthAndTypeAndMapping() {
    assertThat(problems(new IngesterSpec(null, null, null, null, null, null, null)))
        .containsExactly(
            "source: missing (the source name of its Observations)",
            "type: missing (informer or webhook)",
            "mapping: missing");
    assertThat(
            problems(
                new IngesterSpec(
                    "acme",
                    IngesterSpec.Type.WEBHOOK,
                    null,
                    new IngesterSpec.Webhook(
                        "acme", new IngesterSpec.Auth(IngesterSpec.AuthType.BEARER, null)),
                    MAPPING,
                    null,
                    null)))
        .containsExactly(
            "webhook.auth.secretRef.name: missing (auth bearer reads its credentials from a Secret in"
                + " the Ingester's namespace)");
    assertThat(
            problems(
                new IngesterSpec(
                    "trivy",
                    IngesterSpec.Type.WEBHOOK,
                    null,
                    new IngesterSpec.Webhook(null, null),
                    MAPPING,
                    null,
                    null)))
        .containsExactly(
            "source: 'trivy' is a built-in source name; choose another",
            "webhook.path: missing (served at /ingest/<path>)");
  }

  @Test
  void filterProblemsNameTheFilterField() {
    IngesterSpec.Filter f =
        new IngesterSpec.Filter(
            "severe", null, null, null, null, List.of("nope"), null, null, null, null, null, null);
    assertThat(
            problems(
                new IngesterSpec(
                    "acme",
                    IngesterSpec.Type.WEBHOOK,
                    null,
                    new IngesterSpec.Webhook("a", null),
                    MAPPING,
                    f,
                    null)))
        .singleElement()
        .asString()
        .startsWith("filter.minSeverity: unknown severity 'severe'");
    IngesterSpec.Filter expr =
        new IngesterSpec.Filter(
            null, null, null, null, null, null, null, null, null, null, null, "severity ==");
    assertThat(
            problems(
                new IngesterSpec(
                    "acme",
                    IngesterSpec.Type.WEBHOOK,
                    null,
                    new IngesterSpec.Webhook("a", null),
                    MAPPING,
                    expr,
                    null)))
        .singleElement()
        .asString()
        .startsWith("filter.expression: ");
  }

  @Test
  void aValidWebhookCompiles() throws Exception {
    IngesterDefinition d =
        IngesterDefinition.compile(
            "ns/acme",
            new IngesterSpec(
                "acme",
                IngesterSpec.Type.WEBHOOK,
                null,
                new IngesterSpec.Webhook("acme.v1_alerts", null),
                MAPPING,
                null,
                new IngesterSpec.Dedup("1h30m")),
            BUILT_IN);
    assertThat(d.path()).isEqualTo("acme.v1_alerts");
    assertThat(d.dedupWindow()).isEqualTo(Duration.ofMinutes(90));
    assertThat(d.normalizer().kind()).isEqualTo(SourceKind.EVENT);
    assertThat(d.authType()).isEqualTo(IngesterSpec.AuthType.NONE);
  }

  @Test
  void windows() {
    assertThat(IngesterDefinition.parseWindow("30s")).isEqualTo(Duration.ofSeconds(30));
    assertThat(IngesterDefinition.parseWindow("5m")).isEqualTo(Duration.ofMinutes(5));
    assertThat(IngesterDefinition.parseWindow("1500ms")).isEqualTo(Duration.ofMillis(1500));
    for (String bad : new String[] {"", "5", "m5", "500ms", "25h", "1h 5m", "-5s"}) {
      assertThatThrownBy(() -> IngesterDefinition.parseWindow(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void webhookAuthComparesCredentials() {
    WebhookAuth bearer = WebhookAuth.bearer("tok");
    assertThat(bearer.check("Bearer tok")).isNull();
    assertThat(bearer.check("bearer tok")).isNull();
    assertThat(bearer.check("Bearer tok2")).isEqualTo("invalid bearer token");
    assertThat(bearer.check(null)).contains("missing");
    WebhookAuth basic = WebhookAuth.basic("u", "p:q");
    assertThat(
            basic.check(
                "Basic " + java.util.Base64.getEncoder().encodeToString("u:p:q".getBytes())))
        .isNull();
    assertThat(basic.check("Basic " + java.util.Base64.getEncoder().encodeToString("u".getBytes())))
        .isEqualTo("invalid basic credentials");
    assertThat(WebhookAuth.NONE.check(null)).isNull();
    assertThat(WebhookAuth.unavailable(IngesterSpec.AuthType.BEARER, "gone").check("Bearer x"))
        .contains("gone");
  }
}
