package io.kubezen.watcher.ingester.webhook;

import io.kubezen.api.v1alpha1.IngesterSpec;
import io.kubezen.watcher.ingester.spec.IngesterDefinition;
import io.kubezen.watcher.ingester.spec.IngesterFiles;
import io.kubezen.watcher.ingester.spec.IngesterPipelines;
import io.kubezen.watcher.ingester.spec.InvalidIngesterException;
import io.kubezen.watcher.ingester.status.IngesterStats;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code INGESTERS_DIR} (standalone mode): Ingester YAML files ({@code *.yaml}, {@code *.yml},
 * {@code *.json}; one or more documents each) declaring webhook sources. Loaded at {@link #start},
 * re-read every poll interval; a changed Ingester replaces its route, a removed one loses it. An
 * invalid document is logged with its problems (once per change) and skipped; the others are kept.
 * Informer Ingesters and auth from Secrets need a cluster: they are invalid here.
 */
public final class IngestersDirectory implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IngestersDirectory.class);

  /** Files larger than this are skipped. */
  public static final long MAX_FILE_BYTES = 1024 * 1024;

  private final Path dir;
  private final Duration poll;
  private final Set<String> builtInSources;
  private final IngesterRegistry registry;
  private final IngesterPipelines pipelines;
  private final Object lock = new Object();

  /** The definitions with a route now, by key. */
  private final Map<String, IngesterSpec> active = new HashMap<>();

  private final Map<String, IngesterStats> stats = new HashMap<>();
  private Map<String, List<String>> problems = Map.of();
  private ScheduledExecutorService poller;

  public IngestersDirectory(
      Path dir,
      Duration poll,
      Set<String> builtInSources,
      IngesterRegistry registry,
      IngesterPipelines pipelines) {
    this.dir = Objects.requireNonNull(dir, "dir");
    this.poll = Objects.requireNonNull(poll, "poll");
    this.builtInSources = Set.copyOf(builtInSources);
    this.registry = registry;
    this.pipelines = pipelines;
  }

  /**
   * Loads the directory and starts polling it. A missing directory is an error (a typo must show).
   */
  public void start() {
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException("INGESTERS_DIR " + dir + ": not a directory");
    }
    synchronized (lock) {
      if (poller != null) {
        return;
      }
      reload();
      poller =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "ingesters-dir");
                t.setDaemon(true);
                return t;
              });
      long ms = Math.max(10, poll.toMillis());
      poller.scheduleWithFixedDelay(this::pollSafely, ms, ms, TimeUnit.MILLISECONDS);
    }
  }

  private void pollSafely() {
    try {
      reload();
    } catch (RuntimeException | Error e) {
      LOG.error("INGESTERS_DIR {}: unexpected error while reloading", dir, e);
    }
  }

  /** The problems of the documents skipped at the last load, by key ({@code file#index}). */
  public Map<String, List<String>> problems() {
    synchronized (lock) {
      return problems;
    }
  }

  /** The Ingesters served now, by key. */
  public Set<String> active() {
    synchronized (lock) {
      return Set.copyOf(active.keySet());
    }
  }

  /** Stats of an active Ingester, or null. */
  public IngesterStats stats(String key) {
    synchronized (lock) {
      return stats.get(key);
    }
  }

  /** Reads the directory now and applies what changed. Public for tests. */
  public void reload() {
    synchronized (lock) {
      Map<String, IngesterDefinition> wanted = new LinkedHashMap<>();
      Map<String, IngesterSpec> specs = new LinkedHashMap<>();
      Map<String, List<String>> bad = new LinkedHashMap<>();
      for (Path file : files()) {
        String rel = dir.relativize(file).toString();
        List<IngesterFiles.Document> docs;
        try {
          if (Files.size(file) > MAX_FILE_BYTES) {
            bad.put(rel, List.of("file larger than " + MAX_FILE_BYTES + " bytes"));
            continue;
          }
          docs = IngesterFiles.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
          bad.put(rel, List.of("cannot read: " + e.getMessage()));
          continue;
        }
        for (IngesterFiles.Document d : docs) {
          String key = rel + "#" + d.index() + (d.name() != null ? " (" + d.name() + ")" : "");
          List<String> p = new ArrayList<>(d.problems());
          IngesterDefinition def = null;
          if (p.isEmpty()) {
            try {
              def = IngesterDefinition.compile(key, d.spec(), builtInSources);
            } catch (InvalidIngesterException e) {
              p.addAll(e.problems());
            }
          }
          if (def != null && !def.isWebhook()) {
            p.add(
                "type: only webhook Ingesters can be declared in INGESTERS_DIR (informers need a cluster)");
          }
          if (def != null && def.authType() != IngesterSpec.AuthType.NONE) {
            p.add(
                "webhook.auth: "
                    + def.authType().wire()
                    + " needs a Secret, which only a cluster has; use auth"
                    + " none here (the global WEBHOOK auth token still applies)");
          }
          if (p.isEmpty()) {
            wanted.put(key, def);
            specs.put(key, d.spec());
          } else {
            bad.put(key, List.copyOf(p));
          }
        }
      }
      apply(wanted, specs, bad);
    }
  }

  private void apply(
      Map<String, IngesterDefinition> wanted,
      Map<String, IngesterSpec> specs,
      Map<String, List<String>> bad) {
    for (String key : List.copyOf(active.keySet())) {
      if (!wanted.containsKey(key)) {
        registry.remove(key);
        active.remove(key);
        stats.remove(key);
        LOG.info("INGESTERS_DIR {}: Ingester {} removed", dir, key);
      }
    }
    for (Map.Entry<String, IngesterDefinition> e : wanted.entrySet()) {
      String key = e.getKey();
      IngesterSpec spec = specs.get(key);
      if (spec.equals(active.get(key))) {
        continue;
      }
      IngesterStats s = stats.computeIfAbsent(key, k -> new IngesterStats());
      try {
        registry.put(IngesterRegistry.Route.of(e.getValue(), pipelines, WebhookAuth.NONE, s));
        LOG.info(
            "INGESTERS_DIR {}: Ingester {} {} at /ingest/{} (source {})",
            dir,
            key,
            active.containsKey(key) ? "updated" : "serving",
            e.getValue().path(),
            spec.source());
        active.put(key, spec);
      } catch (IngesterRegistry.PathTakenException ex) {
        if (active.remove(key) != null) {
          registry.remove(key);
        }
        stats.remove(key);
        bad.put(key, List.of(ex.getMessage()));
      }
    }
    for (Map.Entry<String, List<String>> e : bad.entrySet()) {
      if (!e.getValue().equals(problems.get(e.getKey()))) {
        LOG.warn(
            "INGESTERS_DIR {}: Ingester {} skipped: {}",
            dir,
            e.getKey(),
            String.join("; ", e.getValue()));
      }
    }
    problems = Map.copyOf(bad);
  }

  private List<Path> files() {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(Files::isRegularFile)
          .filter(
              f -> {
                String n = f.getFileName().toString();
                return !n.startsWith(".")
                    && (n.endsWith(".yaml") || n.endsWith(".yml") || n.endsWith(".json"));
              })
          .sorted()
          .toList();
    } catch (IOException e) {
      LOG.warn("INGESTERS_DIR {}: cannot list: {}", dir, e.toString());
      return List.of();
    }
  }

  @Override
  public void close() {
    ScheduledExecutorService p;
    synchronized (lock) {
      p = poller;
      poller = null;
      for (String key : active.keySet()) {
        registry.remove(key);
      }
      active.clear();
      stats.clear();
    }
    if (p != null) {
      p.shutdownNow();
    }
  }
}
