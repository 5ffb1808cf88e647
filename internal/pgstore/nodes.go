package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Announcement is what a node (`mailtask run`) says of itself in the
// nodes table, beside its name and the schema it knows (SchemaVersion).
type Announcement struct {
	// Version is the node's mailtask (package version).
	Version string
	// Config tells configurations apart: a digest of what the node runs,
	// with no secret in it; Tasks is the number of its tasks.
	Config string
	Tasks  int
}

// NodeInfo is a node's row as `mailtask status` shows it; times are the
// database's.
type NodeInfo struct {
	Node        string
	Version     string
	SchemaKnown int
	Config      string
	Tasks       int
	StartedAt   time.Time
	LastSeen    time.Time
	// Now is the database's clock when the row was read, and Schema the
	// database's schema version then.
	Now    time.Time
	Schema int
}

// TooOld reports whether the node is older than the database's schema:
// it takes no task and keeps no lease (Claim, Renew), and would refuse to
// start.
func (n NodeInfo) TooOld() bool { return n.SchemaKnown < n.Schema }

// Unseen is how long ago the node was last seen.
func (n NodeInfo) Unseen() time.Duration { return n.Now.Sub(n.LastSeen) }

// nodesKept is how long a node's row stays once the node is no longer
// seen: long enough that whoever looks the morning after a rollout still
// sees the nodes it replaced, short enough that a cluster whose nodes are
// renamed at each rollout (Kubernetes pods) lists a handful of the gone.
const nodesKept = 24 * time.Hour

// SeenEvery is how often at most a node's claims move its last_seen
// forward, for a lease of leaseFor: a claim that finds it fresher writes
// nothing, so that a poll that claims nothing stays a read. A node is seen
// at most leaseFor/4 plus a poll late, and so counts as gone once it has
// not been seen for a whole lease.
func SeenEvery(leaseFor time.Duration) time.Duration { return leaseFor / 4 }

// seenByClaim is the claim's statement part (a data-modifying WITH, which
// runs whether or not the query reads it) that moves the node's
// last_seen forward, on the parameters $2 (the node) and $5 (SeenEvery,
// in milliseconds). It does not depend on the schema being known: a node
// older than the schema is seen too.
const seenByClaim = `seen AS (
			UPDATE nodes SET last_seen = now()
			WHERE node = $2 AND last_seen < now() - $5 * interval '1 millisecond'
		)`

// announceSQL records the node: a new row, or the row of a node of that
// name updated, started now if $6 says the process has just started, else
// (a reload changed its configuration) as it was. Rows of nodes not seen
// for nodesKept go.
const announceSQL = `
	INSERT INTO nodes AS n (node, version, schema_known, config, tasks)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (node) DO UPDATE SET version = $2, schema_known = $3, config = $4, tasks = $5,
		started_at = CASE WHEN $6 THEN now() ELSE n.started_at END, last_seen = now()`

const pruneNodesSQL = `DELETE FROM nodes WHERE last_seen < now() - $1 * interval '1 millisecond'`

// announce records the node (announceSQL) and prunes the gone, in one
// round trip. started says the process has just started.
func announce(ctx context.Context, q interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, node string, a Announcement, started bool) error {
	batch := &pgx.Batch{}
	batch.Queue(announceSQL, node, a.Version, SchemaVersion, a.Config, a.Tasks, started)
	batch.Queue(pruneNodesSQL, interval(nodesKept))
	if err := q.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("record this node in the database's nodes table: %w", err)
	}
	return nil
}

// Announce records what the node says of itself now (its configuration
// was reloaded), keeping when it started.
func (s *Store) Announce(ctx context.Context, a Announcement) error {
	return announce(ctx, s.pool, s.node, a, false)
}

// Nodes reads every node's row, by name, in one statement.
func (s *Store) Nodes(ctx context.Context) ([]NodeInfo, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT node, version, schema_known, config, tasks, started_at, last_seen, now(),
			(SELECT max(version) FROM mailtask_schema)
		FROM nodes ORDER BY node`)
	if err != nil {
		return nil, fmt.Errorf("read the nodes: %w", err)
	}
	nodes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (NodeInfo, error) {
		var n NodeInfo
		err := row.Scan(&n.Node, &n.Version, &n.SchemaKnown, &n.Config, &n.Tasks, &n.StartedAt, &n.LastSeen, &n.Now, &n.Schema)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the nodes: %w", err)
	}
	return nodes, nil
}

// announceRefused records a node that the database's schema, newer than
// it knows, refuses at start, so that the node is seen among the others
// as too old rather than missing. It is what the refusal is about that
// matters: a failure here is left unsaid.
func announceRefused(ctx context.Context, pool interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, node string, a Announcement, err error) {
	var se *SchemaError
	if errors.As(err, &se) && se.Have > se.Want {
		_ = announce(ctx, pool, node, a, true)
	}
}
