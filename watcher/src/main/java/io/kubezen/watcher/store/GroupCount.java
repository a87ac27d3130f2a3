package io.kubezen.watcher.store;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * How many findings have these values of the grouped fields ({@code key.get(i)} is the value of the
 * i-th field asked for; an element is null where the finding has no value).
 */
public record GroupCount(List<String> key, long count) {
  public GroupCount {
    key = Collections.unmodifiableList(new ArrayList<>(key)); // List.copyOf refuses nulls
  }

  public String key(int i) {
    return key.get(i);
  }
}
