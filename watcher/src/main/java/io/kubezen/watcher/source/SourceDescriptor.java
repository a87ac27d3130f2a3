package io.kubezen.watcher.source;

import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything the program knows about one source, declared once in the source's own package ({@code
 * source/<name>/<Name>Source.DESCRIPTOR}) and listed in {@code source/catalog/Sources}. The HTTP
 * layer (routes, accepted Content-Types, body limits), the watch engine (informers), the settings
 * ({@code SOURCES}, {@code WEBHOOK_MAX_BODY_BYTES_<SOURCE>}) and the docs read it; no source name
 * is written anywhere else.
 *
 * @param name the source name: the webhook path {@code /ingest/<name>}, the prefix of Observation
 *     names, the {@code source} metric label; equal to {@link Normalizer#source()}
 * @param kind event-like (a dedup time bucket joins the identity) or state-like (reports: their
 *     findings resolve when they leave the report); equal to {@link Normalizer#kind()}
 * @param normalizer turns one input into findings (pure, shared by every caller)
 * @param bodyFormats the webhook body encodings accepted (Content-Types); always includes JSON
 * @param defaultMaxBodyBytes the webhook body limit when {@code WEBHOOK_MAX_BODY_BYTES_<SOURCE>} is
 *     not set; 0 for the global {@code WEBHOOK_MAX_BODY_BYTES}
 * @param jsonSequence whether a JSON body may hold several top-level values one after the other
 *     (audit log files); read as an array of them
 * @param watches the Kubernetes objects the watch engine reads for this source (empty: webhook
 *     only)
 * @param docsPage the source's page, relative to the repository root ({@code
 *     docs/sources/<name>.md})
 */
public record SourceDescriptor(
    String name,
    SourceKind kind,
    Normalizer normalizer,
    Set<BodyFormat> bodyFormats,
    long defaultMaxBodyBytes,
    boolean jsonSequence,
    List<WatchedResource> watches,
    String docsPage) {

  public SourceDescriptor {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(normalizer, "normalizer");
    if (!name.equals(normalizer.source())) {
      throw new IllegalArgumentException(
          "source " + name + ": its normalizer says " + normalizer.source());
    }
    if (kind != normalizer.kind()) {
      throw new IllegalArgumentException(
          "source " + name + ": kind " + kind + " but its normalizer says " + normalizer.kind());
    }
    bodyFormats =
        bodyFormats == null || bodyFormats.isEmpty()
            ? Set.of(BodyFormat.JSON)
            : Collections.unmodifiableSet(EnumSet.copyOf(bodyFormats));
    if (!bodyFormats.contains(BodyFormat.JSON)) {
      throw new IllegalArgumentException("source " + name + ": every source accepts JSON");
    }
    if (defaultMaxBodyBytes < 0) {
      throw new IllegalArgumentException(
          "source " + name + ": defaultMaxBodyBytes must be 0 (global) or positive");
    }
    watches = watches == null ? List.of() : List.copyOf(watches);
    docsPage = docsPage == null ? "docs/sources/" + name + ".md" : docsPage;
  }

  /**
   * A webhook source taking JSON, with the global body limit and its page at {@code
   * docs/sources/<name>.md}.
   */
  public static SourceDescriptor of(Normalizer normalizer) {
    return new SourceDescriptor(
        normalizer.source(),
        normalizer.kind(),
        normalizer,
        Set.of(BodyFormat.JSON),
        0,
        false,
        List.of(),
        null);
  }

  public SourceDescriptor bodyFormats(BodyFormat... formats) {
    return new SourceDescriptor(
        name,
        kind,
        normalizer,
        Set.of(formats),
        defaultMaxBodyBytes,
        jsonSequence,
        watches,
        docsPage);
  }

  public SourceDescriptor defaultMaxBodyBytes(long bytes) {
    return new SourceDescriptor(
        name, kind, normalizer, bodyFormats, bytes, jsonSequence, watches, docsPage);
  }

  /** A JSON body may hold several values one after the other (see {@link #jsonSequence()}). */
  public SourceDescriptor jsonSequence(boolean allowed) {
    return new SourceDescriptor(
        name, kind, normalizer, bodyFormats, defaultMaxBodyBytes, allowed, watches, docsPage);
  }

  public SourceDescriptor watches(WatchedResource... resources) {
    return new SourceDescriptor(
        name,
        kind,
        normalizer,
        bodyFormats,
        defaultMaxBodyBytes,
        jsonSequence,
        List.of(resources),
        docsPage);
  }

  public SourceDescriptor docsPage(String page) {
    return new SourceDescriptor(
        name, kind, normalizer, bodyFormats, defaultMaxBodyBytes, jsonSequence, watches, page);
  }

  /** True when the watch engine reads objects for this source. */
  public boolean watched() {
    return !watches.isEmpty();
  }
}
