package io.kubezen.watcher.source.checkov;

import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.ObjectReader;
import io.kubezen.watcher.source.SourceDescriptor;
import io.kubezen.watcher.source.WatchedResource;

/**
 * Checkov scan results (state-like): ConfigMaps labelled {@code app=checkov} whose key {@code
 * results.json} holds Checkov's JSON output; or POSTed as JSON or YAML.
 */
public final class CheckovSource {
  public static final String LABEL_SELECTOR = "app=checkov";
  public static final String RESULTS_KEY = "results.json";

  public static final SourceDescriptor DESCRIPTOR =
      SourceDescriptor.of(new CheckovNormalizer())
          .bodyFormats(BodyFormat.JSON, BodyFormat.YAML)
          .watches(
              WatchedResource.configMaps(
                  LABEL_SELECTOR, ObjectReader.configMapKey(RESULTS_KEY, null)));

  private CheckovSource() {}
}
