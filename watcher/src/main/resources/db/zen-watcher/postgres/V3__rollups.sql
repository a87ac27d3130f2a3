-- zen-watcher's PostgreSQL store, version 3: the console overview's counts in small tables kept by
-- statement-level triggers (the same tables as the SQLite store's schema v5; read by
-- io.kubezen.watcher.store.jdbc.RollupSql), so that an overview computed afresh reads a few hundred
-- rows instead of every open finding. Key columns are never null: '' stands for null and '=' || v
-- for a value v. Each trigger applies the statement's rows as +1 (new) and -1 (old) per key, in key
-- order (concurrent statements lock the roll-up rows in the same order).

CREATE TABLE rollup_counts (
  resolved  smallint NOT NULL,             -- 1 when status.resolved is true
  source    text COLLATE "C" NOT NULL,
  severity  text COLLATE "C" NOT NULL,
  category  text COLLATE "C" NOT NULL,
  cluster   text COLLATE "C" NOT NULL,     -- spec.clusterName
  namespace text COLLATE "C" NOT NULL,     -- spec.resource.namespace
  n         bigint NOT NULL,
  PRIMARY KEY (resolved, source, severity, category, cluster, namespace)
);
-- Open critical and high findings per named resource (its total is counted on the index
-- findings_resource for the few resources a ranking shows).
CREATE TABLE rollup_resources (
  namespace text COLLATE "C" NOT NULL,
  kind      text COLLATE "C" NOT NULL,
  name      text COLLATE "C" NOT NULL,
  critical  bigint NOT NULL,
  high      bigint NOT NULL,
  PRIMARY KEY (namespace, kind, name)
);
CREATE INDEX rollup_resources_rank ON rollup_resources (critical DESC, high DESC, namespace, kind, name);
-- Per hour since the epoch: findings first seen in it, resolved findings whose resolvedAt is in it.
CREATE TABLE rollup_hours (
  hour     bigint PRIMARY KEY,
  opened   bigint NOT NULL,
  resolved bigint NOT NULL
);

-- The rows present.
WITH d AS (SELECT resolved IS TRUE AS r, source, severity, category, cluster_name, resource_namespace, resource_kind, resource_name, first_seen_us, resolved_us, 1 AS s FROM observations),
  c AS (
    INSERT INTO rollup_counts AS t
    SELECT r::int::smallint, coalesce('=' || source, ''), coalesce('=' || severity, ''), coalesce('=' || category, ''), coalesce('=' || cluster_name, ''),
      coalesce('=' || resource_namespace, ''), sum(s)
    FROM d GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (resolved, source, severity, category, cluster, namespace) DO UPDATE SET n = t.n + EXCLUDED.n),
  rr AS (
    INSERT INTO rollup_resources AS t
    SELECT coalesce('=' || resource_namespace, ''), coalesce('=' || resource_kind, ''), coalesce('=' || resource_name, ''),
      sum(CASE WHEN severity = 'critical' THEN s ELSE 0 END), sum(CASE WHEN severity = 'high' THEN s ELSE 0 END)
    FROM d WHERE NOT r AND resource_name IS NOT NULL AND severity IN ('critical', 'high')
    GROUP BY 1, 2, 3 HAVING sum(s) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (namespace, kind, name) DO UPDATE SET critical = t.critical + EXCLUDED.critical,
      high = t.high + EXCLUDED.high)
  INSERT INTO rollup_hours AS t
  SELECT h, sum(o), sum(x) FROM (
    SELECT ((first_seen_us - ((first_seen_us % 3600000000) + 3600000000) % 3600000000) / 3600000000) AS h, s AS o, 0 AS x FROM d
    UNION ALL
    SELECT ((resolved_us - ((resolved_us % 3600000000) + 3600000000) % 3600000000) / 3600000000), 0, s FROM d WHERE r AND resolved_us IS NOT NULL) u
  GROUP BY h HAVING sum(o) <> 0 OR sum(x) <> 0 ORDER BY h
  ON CONFLICT (hour) DO UPDATE SET opened = t.opened + EXCLUDED.opened, resolved = t.resolved + EXCLUDED.resolved;

CREATE FUNCTION rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH d AS (SELECT resolved IS TRUE AS r, source, severity, category, cluster_name, resource_namespace, resource_kind, resource_name, first_seen_us, resolved_us, 1 AS s FROM new_rows),
  c AS (
    INSERT INTO rollup_counts AS t
    SELECT r::int::smallint, coalesce('=' || source, ''), coalesce('=' || severity, ''), coalesce('=' || category, ''), coalesce('=' || cluster_name, ''),
      coalesce('=' || resource_namespace, ''), sum(s)
    FROM d GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (resolved, source, severity, category, cluster, namespace) DO UPDATE SET n = t.n + EXCLUDED.n),
  rr AS (
    INSERT INTO rollup_resources AS t
    SELECT coalesce('=' || resource_namespace, ''), coalesce('=' || resource_kind, ''), coalesce('=' || resource_name, ''),
      sum(CASE WHEN severity = 'critical' THEN s ELSE 0 END), sum(CASE WHEN severity = 'high' THEN s ELSE 0 END)
    FROM d WHERE NOT r AND resource_name IS NOT NULL AND severity IN ('critical', 'high')
    GROUP BY 1, 2, 3 HAVING sum(s) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (namespace, kind, name) DO UPDATE SET critical = t.critical + EXCLUDED.critical,
      high = t.high + EXCLUDED.high)
  INSERT INTO rollup_hours AS t
  SELECT h, sum(o), sum(x) FROM (
    SELECT ((first_seen_us - ((first_seen_us % 3600000000) + 3600000000) % 3600000000) / 3600000000) AS h, s AS o, 0 AS x FROM d
    UNION ALL
    SELECT ((resolved_us - ((resolved_us % 3600000000) + 3600000000) % 3600000000) / 3600000000), 0, s FROM d WHERE r AND resolved_us IS NOT NULL) u
  GROUP BY h HAVING sum(o) <> 0 OR sum(x) <> 0 ORDER BY h
  ON CONFLICT (hour) DO UPDATE SET opened = t.opened + EXCLUDED.opened, resolved = t.resolved + EXCLUDED.resolved;
  RETURN NULL;
END
$$;

CREATE FUNCTION rollup_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH d AS (SELECT resolved IS TRUE AS r, source, severity, category, cluster_name, resource_namespace, resource_kind, resource_name, first_seen_us, resolved_us, 1 AS s FROM new_rows UNION ALL SELECT resolved IS TRUE AS r, source, severity, category, cluster_name, resource_namespace, resource_kind, resource_name, first_seen_us, resolved_us, -1 FROM old_rows),
  c AS (
    INSERT INTO rollup_counts AS t
    SELECT r::int::smallint, coalesce('=' || source, ''), coalesce('=' || severity, ''), coalesce('=' || category, ''), coalesce('=' || cluster_name, ''),
      coalesce('=' || resource_namespace, ''), sum(s)
    FROM d GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (resolved, source, severity, category, cluster, namespace) DO UPDATE SET n = t.n + EXCLUDED.n),
  rr AS (
    INSERT INTO rollup_resources AS t
    SELECT coalesce('=' || resource_namespace, ''), coalesce('=' || resource_kind, ''), coalesce('=' || resource_name, ''),
      sum(CASE WHEN severity = 'critical' THEN s ELSE 0 END), sum(CASE WHEN severity = 'high' THEN s ELSE 0 END)
    FROM d WHERE NOT r AND resource_name IS NOT NULL AND severity IN ('critical', 'high')
    GROUP BY 1, 2, 3 HAVING sum(s) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (namespace, kind, name) DO UPDATE SET critical = t.critical + EXCLUDED.critical,
      high = t.high + EXCLUDED.high)
  INSERT INTO rollup_hours AS t
  SELECT h, sum(o), sum(x) FROM (
    SELECT ((first_seen_us - ((first_seen_us % 3600000000) + 3600000000) % 3600000000) / 3600000000) AS h, s AS o, 0 AS x FROM d
    UNION ALL
    SELECT ((resolved_us - ((resolved_us % 3600000000) + 3600000000) % 3600000000) / 3600000000), 0, s FROM d WHERE r AND resolved_us IS NOT NULL) u
  GROUP BY h HAVING sum(o) <> 0 OR sum(x) <> 0 ORDER BY h
  ON CONFLICT (hour) DO UPDATE SET opened = t.opened + EXCLUDED.opened, resolved = t.resolved + EXCLUDED.resolved;
  RETURN NULL;
END
$$;

CREATE FUNCTION rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH d AS (SELECT resolved IS TRUE AS r, source, severity, category, cluster_name, resource_namespace, resource_kind, resource_name, first_seen_us, resolved_us, -1 AS s FROM old_rows),
  c AS (
    INSERT INTO rollup_counts AS t
    SELECT r::int::smallint, coalesce('=' || source, ''), coalesce('=' || severity, ''), coalesce('=' || category, ''), coalesce('=' || cluster_name, ''),
      coalesce('=' || resource_namespace, ''), sum(s)
    FROM d GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(s) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (resolved, source, severity, category, cluster, namespace) DO UPDATE SET n = t.n + EXCLUDED.n),
  rr AS (
    INSERT INTO rollup_resources AS t
    SELECT coalesce('=' || resource_namespace, ''), coalesce('=' || resource_kind, ''), coalesce('=' || resource_name, ''),
      sum(CASE WHEN severity = 'critical' THEN s ELSE 0 END), sum(CASE WHEN severity = 'high' THEN s ELSE 0 END)
    FROM d WHERE NOT r AND resource_name IS NOT NULL AND severity IN ('critical', 'high')
    GROUP BY 1, 2, 3 HAVING sum(s) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (namespace, kind, name) DO UPDATE SET critical = t.critical + EXCLUDED.critical,
      high = t.high + EXCLUDED.high)
  INSERT INTO rollup_hours AS t
  SELECT h, sum(o), sum(x) FROM (
    SELECT ((first_seen_us - ((first_seen_us % 3600000000) + 3600000000) % 3600000000) / 3600000000) AS h, s AS o, 0 AS x FROM d
    UNION ALL
    SELECT ((resolved_us - ((resolved_us % 3600000000) + 3600000000) % 3600000000) / 3600000000), 0, s FROM d WHERE r AND resolved_us IS NOT NULL) u
  GROUP BY h HAVING sum(o) <> 0 OR sum(x) <> 0 ORDER BY h
  ON CONFLICT (hour) DO UPDATE SET opened = t.opened + EXCLUDED.opened, resolved = t.resolved + EXCLUDED.resolved;
  RETURN NULL;
END
$$;

CREATE TRIGGER rollup_insert AFTER INSERT ON observations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_insert();
CREATE TRIGGER rollup_update AFTER UPDATE ON observations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_update();
CREATE TRIGGER rollup_delete AFTER DELETE ON observations
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_delete();

-- The console's namespace filter (spec.resource.namespace), in the first page's order: an index range
-- instead of a walk of findings_last_seen that skips the other namespaces' rows.
CREATE INDEX findings_namespace_last_seen ON observations (resource_namespace, (-last_seen_us), namespace, name, cluster);

-- MAX_OBSERVATIONS at write time: a cluster's lowest severity, oldest first (the Observations a new
-- one of a higher severity evicts at the cap, and the GC sweep's excess).
CREATE INDEX observations_shed_order ON observations (cluster, severity_rank, created_ms, name, namespace);
