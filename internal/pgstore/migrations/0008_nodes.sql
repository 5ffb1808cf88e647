-- The nodes of the cluster as each last said (pgstore's nodes.go), for
-- `mailtask status`: which are up, at which mailtask and schema, with
-- which configuration, and when each was last seen. A rolling upgrade
-- (`mailtask db migrate`, then the nodes replaced one by one) is done when
-- every node seen is of the new version; until then a node older than the
-- schema takes no task, and this table is where that shows.
--
-- Nodes older than a later schema still write here: their claims set
-- last_seen, and they record themselves when a newer schema refuses them
-- at start. So a later migration keeps this table and these columns as
-- they are (it may add columns with defaults).
--
-- last_seen is the database's clock. config is a digest of the tasks and
-- accounts the node runs (no secret goes into it), tasks their number.
-- A row is written by `mailtask run` only: run-task, status and the other
-- commands are not nodes.
CREATE TABLE nodes (
	node         text PRIMARY KEY,
	version      text NOT NULL,
	schema_known integer NOT NULL,
	config       text NOT NULL,
	tasks        integer NOT NULL,
	started_at   timestamptz NOT NULL DEFAULT now(),
	last_seen    timestamptz NOT NULL DEFAULT now()
);
