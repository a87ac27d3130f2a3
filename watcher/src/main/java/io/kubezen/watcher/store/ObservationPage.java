package io.kubezen.watcher.store;

import io.kubezen.api.v1alpha1.Observation;
import java.util.List;

/** One page of a list; {@code continueToken} is null on the last page. */
public record ObservationPage(List<Observation> items, String continueToken) {
  public ObservationPage {
    items = List.copyOf(items);
  }
}
