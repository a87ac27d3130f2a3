package io.kubezen.watcher.source.generic;

import io.kubezen.watcher.source.SourceDescriptor;

/**
 * Any other valid source name: a tool that POSTs zen-watcher's own generic shape (event-like;
 * JSON). Not in the list of built-in sources: every name not taken by one of them is a generic
 * source.
 */
public final class GenericSource {
  public static final String DOCS_PAGE = "docs/sources/generic.md";

  private GenericSource() {}

  /**
   * The descriptor of the generic source {@code name}.
   *
   * @throws IllegalArgumentException when {@code name} is not a valid source name
   */
  public static SourceDescriptor forName(String name) {
    return SourceDescriptor.of(new GenericNormalizer(name)).docsPage(DOCS_PAGE);
  }
}
