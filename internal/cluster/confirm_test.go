package cluster_test

import (
	"errors"
	"testing"

	"mailtask/internal/pgstore"
)

// The database ends the node's connections (pg_terminate_backend, as an
// administrator or a failover does): the next query on each fails once.
// The renewal a run makes before it changes the mailbox goes on to a live
// connection rather than failing the run, and still refuses once the
// lease is lost.
func TestConfirmOutlivesConnectionsTheDatabaseEnded(t *testing.T) {
	url := migratedDB(t)
	cfg := clusterConfig(t, url, `lease = "30s"`, heldTask)
	node := openNode(t, cfg, "node-a")
	ctx := testContext(t)
	lease, err := node.Store().ClaimTask(ctx, "t", node.Lease())
	if err != nil {
		t.Fatal(err)
	}
	held := node.Held(lease, nil)
	if err := held.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	ended := 0
	query(t, url, func(v []byte) { ended++ }, `SELECT pg_terminate_backend(pid, 10000)::text FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'mailtask node-a'`)
	if ended == 0 {
		t.Fatal("the node had no connection to end")
	}
	if err := held.Confirm(ctx); err != nil {
		t.Fatalf("renewal after the database ended %d connections: %v", ended, err)
	}

	query(t, url, func([]byte) {}, "UPDATE tasks SET lease_until = now() - interval '1 second' WHERE task = 't' RETURNING task")
	if err := held.Confirm(ctx); !errors.Is(err, pgstore.ErrLeaseLost) {
		t.Fatalf("renewal of a lease that ran out: %v, want pgstore.ErrLeaseLost", err)
	}
}
