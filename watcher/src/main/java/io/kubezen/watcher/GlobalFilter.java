package io.kubezen.watcher;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kubezen.watcher.config.Settings;
import io.kubezen.watcher.metrics.Metrics;
import io.kubezen.watcher.pipeline.filter.ConfigMapFilter;
import io.kubezen.watcher.pipeline.filter.Filter;
import io.kubezen.watcher.pipeline.filter.FilterConfigException;
import io.kubezen.watcher.pipeline.filter.FilterReloader;
import java.util.function.Supplier;

/**
 * The global filter, from the file {@code FILTER_CONFIG}, the ConfigMap {@code FILTER_CONFIGMAP},
 * or none; hot-reloaded, each reload counted ({@code zen_watcher_filter_reloads_total}).
 */
final class GlobalFilter implements Supplier<Filter>, AutoCloseable {
  private final FilterReloader file;
  private final ConfigMapFilter configMap;

  private GlobalFilter(FilterReloader file, ConfigMapFilter configMap) {
    this.file = file;
    this.configMap = configMap;
  }

  /**
   * Loads and starts watching the filter the settings name.
   *
   * @throws IllegalStateException naming the setting when the filter is invalid at start, or when
   *     FILTER_CONFIGMAP is set without a Kubernetes client
   */
  static GlobalFilter start(Settings settings, KubernetesClient client, Metrics metrics) {
    FilterReloader.Listener events =
        new FilterReloader.Listener() {
          @Override
          public void onLoaded(Filter f, String contentHash) {
            metrics.filterReload(true);
          }

          @Override
          public void onInvalid(String message) {
            metrics.filterReload(false);
          }
        };
    try {
      if (settings.ingesters().filterConfigMap().isPresent()) {
        if (client == null) {
          throw new IllegalStateException(
              "FILTER_CONFIGMAP needs the Kubernetes store (OBSERVATION_STORE=kubernetes)");
        }
        ConfigMapFilter cm =
            ConfigMapFilter.of(
                client,
                settings.ingesters().filterConfigMap().get(),
                settings.podNamespace(),
                events);
        cm.start();
        return new GlobalFilter(null, cm);
      }
      FilterReloader reloader =
          settings
              .filterConfig()
              .map(path -> new FilterReloader(path, settings.filterReloadInterval(), events))
              .orElseGet(FilterReloader::none);
      try {
        reloader.start();
      } catch (FilterConfigException | RuntimeException e) {
        reloader.close();
        throw e;
      }
      return new GlobalFilter(reloader, null);
    } catch (FilterConfigException e) {
      throw new IllegalStateException(
          settings.filterConfig().isPresent()
              ? "FILTER_CONFIG: " + e.getMessage()
              : "FILTER_CONFIGMAP: " + e.getMessage(),
          e);
    }
  }

  /** The filter in force now. */
  @Override
  public Filter get() {
    return configMap != null ? configMap.current() : file.current();
  }

  @Override
  public void close() {
    if (file != null) {
      file.close();
    }
    if (configMap != null) {
      configMap.close();
    }
  }
}
