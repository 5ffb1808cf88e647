//go:build unix

package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A node whose run slots are all taken claims nothing, but is seen all
// the same (busy is not gone); a reload that changes its tasks is in its
// row of the nodes table once Reload returns.
func TestABusyNodeIsSeenAndItsReloadsRecorded(t *testing.T) {
	top := clusterDB(t) + "max_concurrent_tasks = 1\nlease = \"3s\"\n"
	dir := t.TempDir()
	ta := newTally()
	defer ta.stop()
	n := startNode(t, parse(t, dir, top+task("t", "a", "@every 1h")), "node-a", newLogs(), ta.run)
	ta.waitStarted(t, 1)

	adminExec(t, "UPDATE nodes SET last_seen = now() - interval '1 hour'")
	for deadline := time.Now().Add(within); nodeRow(t, "SELECT (last_seen > now() - interval '1 minute')::int FROM nodes WHERE node = 'node-a'") != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("a node whose run slots are all taken was not seen within %s", within)
		}
		// It asks every quarter of its lease: nothing to wait on but time.
		time.Sleep(50 * time.Millisecond)
	}

	if err := n.Reload(parse(t, dir, top+task("t", "a", "@every 1h")+task("added", "b", "@every 1h"))); err != nil {
		t.Fatal(err)
	}
	if got := nodeRow(t, "SELECT tasks FROM nodes WHERE node = 'node-a'"); got != 2 {
		t.Fatalf("the node's row says %d tasks after a reload to 2", got)
	}
}

// nodeRow returns the integer query reads of the nodes table of the
// database clusterDB made.
func nodeRow(t *testing.T, query string) int {
	t.Helper()
	var n int
	asAdmin(t, func(ctx context.Context, conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
			return fmt.Errorf("%s: %w", query, err)
		}
		return nil
	})
	return n
}
