-- zen-watcher's PostgreSQL store, version 2: the columns and indexes of the web console's reads
-- (ObservationStore's "console reads"; the same semantics as the SQLite store's schema v4).

-- spec.clusterName: the console filters and groups by it (equal to the row's cluster for every
-- Observation a watcher writes, since a PostgreSQL watcher needs CLUSTER_NAME).
ALTER TABLE observations ADD COLUMN cluster_name text COLLATE "C"
  GENERATED ALWAYS AS (spec ->> 'clusterName') STORED;
-- Most severe first: critical 4 .. info 0.
ALTER TABLE observations ADD COLUMN severity_rank smallint
  GENERATED ALWAYS AS (CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2
    WHEN 'low' THEN 1 ELSE 0 END) STORED;
-- status.resolvedAt in epoch microseconds (the timeline's resolved buckets); written by the store.
ALTER TABLE observations ADD COLUMN resolved_us bigint;
-- SearchText.of(spec): the lower-cased title, resource name and identifying details; written by the store.
ALTER TABLE observations ADD COLUMN search text NOT NULL DEFAULT '';

-- Backfill rows written by version 1 (the store writes both columns itself from now on).
UPDATE observations SET resolved_us = (extract(epoch FROM resolved_at::timestamptz) * 1000000)::bigint
  WHERE resolved IS TRUE
    AND resolved_at ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$';
UPDATE observations SET search = lower(left(array_to_string(ARRAY(
    SELECT v FROM unnest(ARRAY[
      spec ->> 'title',
      spec -> 'resource' ->> 'name',
      CASE WHEN jsonb_typeof(spec -> 'details' -> 'rule') IN ('string', 'number') THEN spec -> 'details' ->> 'rule' END,
      CASE WHEN jsonb_typeof(spec -> 'details' -> 'policy') IN ('string', 'number') THEN spec -> 'details' ->> 'policy' END,
      CASE WHEN jsonb_typeof(spec -> 'details' -> 'vulnerabilityID') IN ('string', 'number')
        THEN spec -> 'details' ->> 'vulnerabilityID' END,
      CASE WHEN jsonb_typeof(spec -> 'details' -> 'check_id') IN ('string', 'number') THEN spec -> 'details' ->> 'check_id' END,
      CASE WHEN jsonb_typeof(spec -> 'details' -> 'check_name') IN ('string', 'number')
        THEN spec -> 'details' ->> 'check_name' END,
      CASE WHEN jsonb_typeof(spec -> 'details' -> 'test_number') IN ('string', 'number')
        THEN spec -> 'details' ->> 'test_number' END]) AS v
    WHERE v IS NOT NULL AND btrim(v) <> ''), E'\n'), 4096));

-- Findings pages: one index per sort, in the sort's order (ties: namespace, name, cluster), so that
-- a continue token is one row comparison and a page is an index range scan.
CREATE INDEX findings_last_seen ON observations ((-last_seen_us), namespace, name, cluster);
CREATE INDEX findings_severity ON observations ((-severity_rank), (-last_seen_us), namespace, name, cluster);
CREATE INDEX findings_count ON observations ((-count), (-last_seen_us), namespace, name, cluster);
-- Aggregates by the resource's namespace and resource, critical and high only (top lists).
CREATE INDEX findings_ranked ON observations (resource_namespace, resource_kind, resource_name)
  WHERE severity IN ('critical', 'high');
CREATE INDEX findings_resource ON observations (resource_namespace, resource_name, resource_kind);
-- Timeline: first seen, resolved.
CREATE INDEX findings_first_seen ON observations (first_seen_us);
CREATE INDEX findings_resolved_us ON observations (resolved_us) WHERE resolved IS TRUE;
-- Source activity: newest last seen per source.
CREATE INDEX findings_source_last_seen ON observations (source, last_seen_us);
CREATE INDEX findings_cluster_name ON observations (cluster_name, (-last_seen_us));

-- Free text: trigram index for substring search (ILIKE/LIKE '%needle%') when pg_trgm is installable
-- (it ships with PostgreSQL itself on Debian; trusted, so the database owner may create it). Without
-- it, a substring search scans the rows the other conditions leave.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
      EXECUTE 'CREATE INDEX findings_search ON observations USING gin (search gin_trgm_ops)';
    EXCEPTION WHEN insufficient_privilege OR feature_not_supported OR undefined_file THEN
      RAISE NOTICE 'pg_trgm not available (%): free-text search scans', SQLERRM;
    END;
  END IF;
END
$$;

-- The console's summary (StoreSummary), read on every page and live check: one row per cluster,
-- kept by statement-level triggers (one update per write statement, not per row). The newest
-- times only grow, except that a cluster left with no row has none (as the SQLite store's).
CREATE TABLE observation_stats (
  cluster      text COLLATE "C" PRIMARY KEY,
  total        bigint NOT NULL,
  resolved     bigint NOT NULL,
  count_sum    bigint NOT NULL,
  last_created bigint,
  last_seen    bigint
);
INSERT INTO observation_stats
  SELECT cluster, count(*), count(*) FILTER (WHERE resolved IS TRUE), sum(count), max(created_ms), max(last_seen_us)
  FROM observations GROUP BY cluster;

CREATE FUNCTION observation_stats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO observation_stats AS s
    SELECT cluster, count(*), count(*) FILTER (WHERE resolved IS TRUE), sum(count), max(created_ms),
      max(last_seen_us)
    FROM new_rows GROUP BY cluster ORDER BY cluster
  ON CONFLICT (cluster) DO UPDATE SET total = s.total + EXCLUDED.total, resolved = s.resolved + EXCLUDED.resolved,
    count_sum = s.count_sum + EXCLUDED.count_sum,
    last_created = GREATEST(s.last_created, EXCLUDED.last_created),
    last_seen = GREATEST(s.last_seen, EXCLUDED.last_seen);
  RETURN NULL;
END
$$;

CREATE FUNCTION observation_stats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE observation_stats s SET resolved = s.resolved + d.resolved, count_sum = s.count_sum + d.count_sum,
    last_seen = GREATEST(s.last_seen, d.last_seen)
  FROM (SELECT cluster, sum(r) AS resolved, sum(c) AS count_sum, max(l) AS last_seen FROM (
          SELECT cluster, CASE WHEN resolved IS TRUE THEN 1 ELSE 0 END AS r, count AS c, last_seen_us AS l
          FROM new_rows
          UNION ALL
          SELECT cluster, CASE WHEN resolved IS TRUE THEN -1 ELSE 0 END, -count, NULL FROM old_rows) u
        GROUP BY cluster) d
  WHERE s.cluster = d.cluster;
  RETURN NULL;
END
$$;

CREATE FUNCTION observation_stats_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE observation_stats s SET total = s.total - d.total, resolved = s.resolved - d.resolved,
    count_sum = s.count_sum - d.count_sum,
    last_created = CASE WHEN s.total = d.total THEN NULL ELSE s.last_created END,
    last_seen = CASE WHEN s.total = d.total THEN NULL ELSE s.last_seen END
  FROM (SELECT cluster, count(*) AS total, count(*) FILTER (WHERE resolved IS TRUE) AS resolved,
          sum(count) AS count_sum
        FROM old_rows GROUP BY cluster) d
  WHERE s.cluster = d.cluster;
  RETURN NULL;
END
$$;

CREATE TRIGGER observation_stats_insert AFTER INSERT ON observations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION observation_stats_insert();
CREATE TRIGGER observation_stats_update AFTER UPDATE ON observations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION observation_stats_update();
CREATE TRIGGER observation_stats_delete AFTER DELETE ON observations
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION observation_stats_delete();
