package io.kubezen.watcher.source.k8saudit;

import io.kubezen.watcher.source.BodyFormat;
import io.kubezen.watcher.source.SourceDescriptor;

/**
 * Kubernetes audit events from the API server's webhook backend or a log shipper (event-like): JSON
 * (an {@code EventList}, one event, or events one after the other) or NDJSON (a log file), with a
 * higher default body limit: batches of 400 events with request objects are large.
 */
public final class AuditSource {
  /** The default body limit ({@code WEBHOOK_MAX_BODY_BYTES_K8S_AUDIT}): 8 MiB. */
  public static final long DEFAULT_MAX_BODY_BYTES = 8L * 1024 * 1024;

  public static final SourceDescriptor DESCRIPTOR =
      SourceDescriptor.of(new AuditNormalizer())
          .bodyFormats(BodyFormat.JSON, BodyFormat.NDJSON)
          .defaultMaxBodyBytes(DEFAULT_MAX_BODY_BYTES)
          .jsonSequence(true);

  private AuditSource() {}
}
