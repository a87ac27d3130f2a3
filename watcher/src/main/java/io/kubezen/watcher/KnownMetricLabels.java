package io.kubezen.watcher;

import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.http.error.HttpError;
import io.kubezen.watcher.kube.BuiltInSources;
import io.kubezen.watcher.kube.WatchedSource;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.filter.DropReason;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The metric label values known at start, gathered from where each is defined (the built-in
 * sources, the filter's drop reasons, the HTTP statuses of the webhook path, the watched sources
 * that run), for {@link Metrics#preregister}. Here, in the wiring, because metrics/ must not depend
 * on the packages that use it.
 */
final class KnownMetricLabels {
  /**
   * Every status a webhook is answered with (README, "Endpoints"), 500 for an unexpected failure.
   */
  static final List<Integer> WEBHOOK_STATUSES =
      List.of(200, 400, 401, 403, 404, 405, 413, 415, 422, 429, 500, 503);

  private KnownMetricLabels() {}

  static Metrics.KnownLabels of(Settings settings, Set<String> builtInSources) {
    Map<Integer, String> statuses = new LinkedHashMap<>();
    for (int code : WEBHOOK_STATUSES) {
      statuses.put(code, code < 400 ? "" : HttpError.reasonFor(code));
    }
    List<String> filterReasons = Arrays.stream(DropReason.values()).map(DropReason::wire).toList();
    Map<String, List<String>> watched = new TreeMap<>();
    if (settings.kubernetesMode()) { // the kubernetes store, or postgres in a pod
      Set<String> enabled = settings.watch().sources();
      for (WatchedSource w : BuiltInSources.all()) {
        if (enabled.isEmpty() || enabled.contains(w.source())) {
          watched.computeIfAbsent(w.source(), s -> new ArrayList<>()).add(w.gvr());
        }
      }
    }
    return new Metrics.KnownLabels(builtInSources, filterReasons, statuses, watched);
  }
}
