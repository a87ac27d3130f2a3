package io.kubezen.watcher.ingester.spec;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.watcher.ingester.mapping.MappingNormalizer;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.model.Json;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.pipeline.filter.FilterConfig;
import io.kubezen.watcher.pipeline.filter.FilterConfigException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A validated, compiled Ingester: its normalizer, its own filter, its dedup window and, for a
 * webhook, its path and auth. Pure: {@link #compile} reads nothing but the spec.
 *
 * @param key who declared it ({@code namespace/name}, or {@code file#document})
 * @param filter the Ingester's own filter ({@link Filter#ALLOW_ALL} when it has none)
 * @param dedupWindow its own dedup window; null for the global one
 * @param path the webhook path under {@code /ingest/}; null for an informer
 * @param authType the webhook's auth; NONE for an informer
 * @param secretRef where the webhook's credentials are; null for none
 */
public record IngesterDefinition(
    String key,
    IngesterSpec spec,
    MappingNormalizer normalizer,
    Filter filter,
    Duration dedupWindow,
    String path,
    IngesterSpec.AuthType authType,
    IngesterSpec.SecretRef secretRef) {

  /**
   * A webhook path: one URL segment of lower-case letters, digits, '-', '_' and '.', at most 63
   * characters.
   */
  public static final Pattern PATH = Pattern.compile("^[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$");

  /** A namespace name (DNS-1123 label). */
  static final Pattern NAMESPACE = Pattern.compile("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");

  static final Pattern RESOURCE = Pattern.compile("^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$");
  static final Pattern GROUP = Pattern.compile("^$|^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$");
  static final Pattern VERSION = Pattern.compile("^v[0-9]+((alpha|beta)[0-9]+)?$");
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h)");

  /** Longest accepted dedup window. */
  public static final Duration MAX_WINDOW = Duration.ofHours(24);

  public boolean isWebhook() {
    return spec.type() == IngesterSpec.Type.WEBHOOK;
  }

  public boolean isInformer() {
    return spec.type() == IngesterSpec.Type.INFORMER;
  }

  /**
   * Validates and compiles a spec.
   *
   * @param builtInSources source names an Ingester may take neither as its source nor as its path
   * @throws InvalidIngesterException listing every problem, each naming its field
   */
  public static IngesterDefinition compile(
      String key, IngesterSpec spec, Set<String> builtInSources) throws InvalidIngesterException {
    List<String> problems = new ArrayList<>();
    if (spec == null) {
      throw new InvalidIngesterException(List.of("spec: missing"));
    }
    String source = spec.source();
    boolean sourceOk = false;
    if (source == null || source.isBlank()) {
      problems.add("source: missing (the source name of its Observations)");
    } else if (!Finding.SOURCE_NAME.matcher(source).matches()) {
      problems.add("source: '" + source + "' is not a DNS-1123 label of at most 40 characters");
    } else if (builtInSources.contains(source)) {
      problems.add("source: '" + source + "' is a built-in source name; choose another");
    } else {
      sourceOk = true;
    }
    String path = null;
    IngesterSpec.AuthType authType = IngesterSpec.AuthType.NONE;
    IngesterSpec.SecretRef secretRef = null;
    if (spec.type() == null) {
      problems.add("type: missing (informer or webhook)");
    } else if (spec.type() == IngesterSpec.Type.INFORMER) {
      checkInformer(spec.informer(), problems);
      if (spec.webhook() != null) {
        problems.add("webhook: only for type webhook (this Ingester is type informer)");
      }
    } else {
      if (spec.informer() != null) {
        problems.add("informer: only for type informer (this Ingester is type webhook)");
      }
      IngesterSpec.Webhook w = spec.webhook();
      if (w == null || w.path() == null || w.path().isBlank()) {
        problems.add("webhook.path: missing (served at /ingest/<path>)");
      } else if (!PATH.matcher(w.path()).matches()) {
        problems.add(
            "webhook.path: '"
                + w.path()
                + "' is not one path segment of lower-case letters, digits, '-',"
                + " '_' and '.' (at most 63 characters)");
      } else if (builtInSources.contains(w.path())) {
        problems.add(
            "webhook.path: '" + w.path() + "' is the path of a built-in source; choose another");
      } else {
        path = w.path();
      }
      if (w != null && w.auth() != null) {
        authType = w.auth().type() == null ? IngesterSpec.AuthType.NONE : w.auth().type();
        secretRef = w.auth().secretRef();
        if (authType != IngesterSpec.AuthType.NONE
            && (secretRef == null || secretRef.name() == null || secretRef.name().isBlank())) {
          problems.add(
              "webhook.auth.secretRef.name: missing (auth "
                  + authType.wire()
                  + " reads its credentials from a Secret in the Ingester's namespace)");
        }
        if (authType == IngesterSpec.AuthType.NONE) {
          secretRef = null;
        }
      }
    }
    MappingNormalizer normalizer = null;
    if (spec.mapping() == null) {
      problems.add("mapping: missing");
    } else {
      try {
        normalizer =
            MappingNormalizer.of(
                sourceOk
                    ? spec
                    : new IngesterSpec("x", spec.type(), null, null, spec.mapping(), null, null));
      } catch (MappingNormalizer.MappingException e) {
        problems.addAll(e.problems());
      }
    }
    Duration window = null;
    if (spec.dedup() != null && spec.dedup().window() != null) {
      try {
        window = parseWindow(spec.dedup().window());
      } catch (IllegalArgumentException e) {
        problems.add("dedup.window: " + e.getMessage());
      }
    }
    Filter filter = Filter.ALLOW_ALL;
    if (spec.filter() != null) {
      try {
        filter = compileFilter(sourceOk ? source : "x", spec.filter());
      } catch (FilterConfigException e) {
        problems.add(e.getMessage());
      }
    }
    if (!problems.isEmpty()) {
      throw new InvalidIngesterException(problems);
    }
    return new IngesterDefinition(key, spec, normalizer, filter, window, path, authType, secretRef);
  }

  private static void checkInformer(IngesterSpec.Informer informer, List<String> problems) {
    if (informer == null || informer.gvr() == null) {
      problems.add("informer.gvr: missing (group, version and resource to watch)");
      return;
    }
    IngesterSpec.Gvr g = informer.gvr();
    if (g.group() != null && !GROUP.matcher(g.group()).matches()) {
      problems.add("informer.gvr.group: '" + g.group() + "' is not an API group name");
    }
    if (g.version() == null || !VERSION.matcher(g.version()).matches()) {
      problems.add(
          "informer.gvr.version: "
              + (g.version() == null
                  ? "missing"
                  : "'" + g.version() + "' is not an API version (v1, v1beta1, v1alpha2, ...)"));
    }
    if (g.resource() == null || !RESOURCE.matcher(g.resource()).matches()) {
      problems.add(
          "informer.gvr.resource: "
              + (g.resource() == null
                  ? "missing"
                  : "'"
                      + g.resource()
                      + "' is not a resource name (the lower-case plural, e.g. vulnerabilityreports)"));
    }
    if (informer.namespaces() != null) {
      for (int i = 0; i < informer.namespaces().size(); i++) {
        String ns = informer.namespaces().get(i);
        if (ns == null || !NAMESPACE.matcher(ns).matches()) {
          problems.add("informer.namespaces[" + i + "]: '" + ns + "' is not a namespace name");
        }
      }
    }
  }

  /**
   * Compiles an Ingester's filter: the rules of the global filter file, applied to its source only.
   */
  static Filter compileFilter(String source, IngesterSpec.Filter rules)
      throws FilterConfigException {
    ObjectNode root = Json.MAPPER.createObjectNode();
    root.putObject("sources").set(source, Json.MAPPER.valueToTree(rules));
    String prefix = "sources." + source;
    try {
      return Filter.compile(FilterConfig.fromTree(root));
    } catch (FilterConfigException e) {
      String m = e.getMessage();
      throw new FilterConfigException(
          m.startsWith(prefix) ? "filter" + m.substring(prefix.length()) : "filter: " + m);
    }
  }

  /**
   * A duration such as {@code 30s}, {@code 5m}, {@code 1h}, {@code 1h30m}, {@code 500ms}; positive,
   * at most 24h.
   */
  public static Duration parseWindow(String text) {
    String t = text == null ? "" : text.strip();
    if (t.isEmpty()) {
      throw new IllegalArgumentException("empty duration (e.g. 30s, 5m, 1h)");
    }
    Matcher m = DURATION.matcher(t);
    Duration total = Duration.ZERO;
    int at = 0;
    while (m.find()) {
      if (m.start() != at) {
        break;
      }
      long n = Long.parseLong(m.group(1));
      total =
          total.plus(
              switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                default -> Duration.ofHours(n);
              });
      at = m.end();
    }
    if (at != t.length()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a duration (e.g. 30s, 5m, 1h, 1h30m)");
    }
    if (total.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("'" + text + "' is less than 1s");
    }
    if (total.compareTo(MAX_WINDOW) > 0) {
      throw new IllegalArgumentException("'" + text + "' is more than 24h");
    }
    return total;
  }
}
