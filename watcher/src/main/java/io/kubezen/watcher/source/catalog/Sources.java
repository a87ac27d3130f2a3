package io.kubezen.watcher.source.catalog;

import io.kubezen.watcher.model.Finding;
import io.kubezen.watcher.source.Normalizer;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.checkov.CheckovSource;
import io.kubezen.watcher.source.falco.FalcoSource;
import io.kubezen.watcher.source.generic.GenericSource;
import io.kubezen.watcher.source.k8saudit.AuditSource;
import io.kubezen.watcher.source.k8sevents.KubernetesEventsSource;
import io.kubezen.watcher.source.kubebench.KubeBenchSource;
import io.kubezen.watcher.source.kyverno.KyvernoSource;
import io.kubezen.watcher.source.trivy.TrivySource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every source zen-watcher knows by name: the built-in ones ({@link #BUILT_IN}, one line per
 * source), and a generic one for any other valid name.
 *
 * <p>Adding a source: a new package {@code source/<name>/} with its normalizer and its descriptor
 * ({@code <Name>Source.DESCRIPTOR}), and one line in {@link #BUILT_IN}. The webhook route, the
 * accepted Content-Types, the body limit, the informers, {@code SOURCES}, the metric labels and the
 * sources table of the docs follow from it.
 */
public final class Sources {
  /** The built-in sources, one line each. */
  public static final List<SourceDescriptor> BUILT_IN =
      List.of(
          FalcoSource.DESCRIPTOR,
          AuditSource.DESCRIPTOR,
          TrivySource.DESCRIPTOR,
          KyvernoSource.DESCRIPTOR,
          KubeBenchSource.DESCRIPTOR,
          CheckovSource.DESCRIPTOR,
          KubernetesEventsSource.DESCRIPTOR);

  /**
   * Distinct generic source names whose descriptors are kept; past this, new ones are built per
   * call.
   */
  private static final int MAX_CACHED_GENERIC = 1024;

  private final Map<String, SourceDescriptor> builtIn;
  private final Map<String, SourceDescriptor> generic = new ConcurrentHashMap<>();

  public Sources(List<SourceDescriptor> builtIn) {
    Map<String, SourceDescriptor> m = new LinkedHashMap<>();
    for (SourceDescriptor d : builtIn) {
      if (m.put(d.name(), d) != null) {
        throw new IllegalArgumentException("source " + d.name() + " is declared twice");
      }
    }
    this.builtIn = java.util.Collections.unmodifiableMap(m);
  }

  /** The built-in sources ({@link #BUILT_IN}) and generic ones. */
  public static Sources standard() {
    return new Sources(BUILT_IN);
  }

  /** The names of the built-in sources, in the order of the list. */
  public Set<String> builtInNames() {
    return builtIn.keySet();
  }

  /** The built-in sources, in the order of the list. */
  public List<SourceDescriptor> builtIn() {
    return List.copyOf(builtIn.values());
  }

  /**
   * The descriptor for {@code name}: a built-in one, else a generic one; empty when the name is not
   * a valid source name.
   */
  public Optional<SourceDescriptor> descriptor(String name) {
    SourceDescriptor d = builtIn.get(name);
    if (d != null) {
      return Optional.of(d);
    }
    if (name == null || !Finding.SOURCE_NAME.matcher(name).matches()) {
      return Optional.empty();
    }
    d = generic.get(name);
    if (d != null) {
      return Optional.of(d);
    }
    SourceDescriptor fresh = GenericSource.forName(name);
    if (generic.size() < MAX_CACHED_GENERIC) {
      generic.putIfAbsent(name, fresh);
    }
    return Optional.of(fresh);
  }

  /**
   * The normalizer for {@code name}: a built-in one, else a generic one; empty when the name is not
   * a valid source name.
   */
  public Optional<Normalizer> forName(String name) {
    return descriptor(name).map(SourceDescriptor::normalizer);
  }

  /**
   * The names of the built-in sources the watch engine reads ({@code SOURCES} chooses among them).
   */
  public static Set<String> watchedNames() {
    Set<String> out = new java.util.LinkedHashSet<>();
    BUILT_IN.stream().filter(SourceDescriptor::watched).forEach(d -> out.add(d.name()));
    return java.util.Collections.unmodifiableSet(out);
  }

  /**
   * The built-in sources' own default webhook body limits, by name (the others use the global one).
   */
  public static Map<String, Long> defaultBodyLimits() {
    Map<String, Long> out = new LinkedHashMap<>();
    BUILT_IN.stream()
        .filter(d -> d.defaultMaxBodyBytes() > 0)
        .forEach(d -> out.put(d.name(), d.defaultMaxBodyBytes()));
    return java.util.Collections.unmodifiableMap(out);
  }
}
