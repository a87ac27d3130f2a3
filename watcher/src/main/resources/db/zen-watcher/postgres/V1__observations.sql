-- zen-watcher's PostgreSQL store, version 1: one row per Observation, keyed by (cluster, namespace, name).
-- Applied by Flyway at start (history in zen_watcher_schema_history); never edit a released migration,
-- add V2__... instead.
CREATE TABLE observations (
  cluster             text COLLATE "C" NOT NULL,   -- CLUSTER_NAME of the watcher that wrote it
  namespace           text COLLATE "C" NOT NULL,
  name                text COLLATE "C" NOT NULL,
  -- the spec's searchable fields
  source              text COLLATE "C",
  category            text COLLATE "C",
  severity            text COLLATE "C",
  event_type          text COLLATE "C",
  fingerprint         text,
  resource_kind       text,
  resource_namespace  text,
  resource_name       text,
  ttl_seconds         bigint,
  -- bookkeeping: epoch milliseconds
  created_ms          bigint NOT NULL,             -- metadata.creationTimestamp
  expires_ms          bigint,                      -- created_ms + TTL (NULL: never)
  resolved_expires_ms bigint,                      -- resolvedAt + TTL while resolved
  -- status; seen times in epoch microseconds (a Kubernetes MicroTime's precision)
  first_seen_us       bigint NOT NULL,
  last_seen_us        bigint NOT NULL,
  count               bigint NOT NULL,
  resolved            boolean,
  resolved_at         text,
  origin_uid          text,                        -- label origin-uid: the watched object it came from
  metadata            jsonb NOT NULL,              -- name, namespace, labels, annotations
  spec                jsonb NOT NULL,              -- the whole spec, details included
  PRIMARY KEY (cluster, namespace, name)
);

-- The list order is newest first, then name, namespace, cluster: (-created_ms, name, namespace, cluster)
-- ascending, so that a continue token is one row comparison and every page is an index range scan.
CREATE INDEX observations_order ON observations ((-created_ms), name, namespace, cluster);
-- One index per read-API filter that also serves the order.
CREATE INDEX observations_by_cluster ON observations (cluster, (-created_ms), name, namespace);
CREATE INDEX observations_by_source ON observations (source, (-created_ms), name, namespace, cluster);
CREATE INDEX observations_by_severity ON observations (severity, (-created_ms), name, namespace, cluster);
CREATE INDEX observations_by_category ON observations (category, (-created_ms), name, namespace, cluster);
CREATE INDEX observations_by_event_type ON observations (event_type, (-created_ms), name, namespace, cluster);
CREATE INDEX observations_by_namespace ON observations (namespace, (-created_ms), name, cluster);
-- Aggregates (counts by cluster, severity, source, resolved) read this index only.
CREATE INDEX observations_aggregates ON observations (cluster, severity, source, resolved);
-- Reconciling a watched report: its Observations by origin.
CREATE INDEX observations_by_origin ON observations (cluster, origin_uid) WHERE origin_uid IS NOT NULL;
-- TTL garbage collection: chunked deletes by expiry.
CREATE INDEX observations_expires ON observations (cluster, expires_ms) WHERE expires_ms IS NOT NULL;
CREATE INDEX observations_resolved_expires ON observations (cluster, resolved_expires_ms)
  WHERE resolved_expires_ms IS NOT NULL;
