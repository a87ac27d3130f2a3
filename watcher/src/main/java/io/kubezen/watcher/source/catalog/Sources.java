package io.kubezen.watcher.source.catalog;

import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.checkov.CheckovNormalizer;
import io.kubezen.watcher.source.falco.FalcoNormalizer;
import io.kubezen.watcher.source.generic.GenericNormalizer;
import io.kubezen.watcher.source.k8saudit.AuditNormalizer;
import io.kubezen.watcher.source.k8sevents.KubernetesEventNormalizer;
import io.kubezen.watcher.source.kubebench.KubeBenchNormalizer;
import io.kubezen.watcher.source.kyverno.KyvernoNormalizer;
import io.kubezen.watcher.source.trivy.TrivyNormalizer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Every source zen-watcher knows by name: the built-in ones, and generic ones for any other valid name. */
public final class Sources {
  /** Distinct generic source names whose normalizers are kept; past this, new ones are built per call. */
  private static final int MAX_CACHED_GENERIC = 1024;

  private final Map<String, Normalizer> builtIn;
  private final Map<String, Normalizer> generic = new ConcurrentHashMap<>();

  public Sources(List<Normalizer> builtIn) {
    Map<String, Normalizer> m = new LinkedHashMap<>();
    for (Normalizer n : builtIn) {
      m.put(n.source(), n);
    }
    this.builtIn = Map.copyOf(m);
  }

  public static Sources standard() {
    return new Sources(List.of(new FalcoNormalizer(), new AuditNormalizer(), new TrivyNormalizer(),
        new KyvernoNormalizer(), new KubeBenchNormalizer(), new CheckovNormalizer(),
        new KubernetesEventNormalizer()));
  }

  public Set<String> builtInNames() {
    return builtIn.keySet();
  }

  /** The normalizer for {@code name}: a built-in one, else a generic one; empty when the name is not a valid source name. */
  public Optional<Normalizer> forName(String name) {
    Normalizer n = builtIn.get(name);
    if (n != null) {
      return Optional.of(n);
    }
    if (name == null || !Finding.SOURCE_NAME.matcher(name).matches()) {
      return Optional.empty();
    }
    n = generic.get(name);
    if (n != null) {
      return Optional.of(n);
    }
    GenericNormalizer fresh = new GenericNormalizer(name);
    if (generic.size() < MAX_CACHED_GENERIC) {
      generic.putIfAbsent(name, fresh);
    }
    return Optional.of(fresh);
  }
}
