package scheduler

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pgstore"
	"mailtask/tasks/popimap"
)

// A commit the fence refuses is counted whatever error the run ends
// with: a run's stages stop together when its lease is lost, and the
// first error among them, which the run returns, is as often another
// stage's "context canceled" as the writer's refusal.
func TestAFencedCommitIsCountedWhateverTheRunReturns(t *testing.T) {
	cfg := clusterConfig(t, task("t", "a", "@every 1h"))
	url := os.Getenv("MAILTASK_SCHEDULER_TEST_DB") // clusterDB set it
	refused := make(chan error, 1)
	run := func(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
		sum := popimap.Summary{Task: opts.Task.Name}
		st, _, err := opts.Held.Load(ctx)
		if err != nil {
			return sum, err
		}
		// The lease runs out while the node stands still, and another
		// node claims the task.
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return sum, err
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "UPDATE tasks SET lease_until = clock_timestamp() - interval '1 second', epoch = epoch + 1, holder = 'other' WHERE task = 't'"); err != nil {
			return sum, err
		}
		refused <- opts.Held.Commit(ctx, st, nil)
		return sum, errors.New("fetch: context canceled")
	}
	n := startNode(t, cfg, "node-a", newLogs(), run)
	select {
	case err := <-refused:
		if !errors.Is(err, pgstore.ErrFenced) {
			t.Fatalf("the commit after the lease was taken: %v, want ErrFenced", err)
		}
	case <-time.After(within):
		t.Fatal("the task never ran")
	}
	for deadline := time.Now().Add(within); n.counter(t, "mailtask_fenced_commits_total") != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("mailtask_fenced_commits_total = %v, want 1", n.counter(t, "mailtask_fenced_commits_total"))
		}
		time.Sleep(20 * time.Millisecond) // the run's end is counted after it returns
	}
}

// counter is the value of the node's counter name.
func (n *node) counter(t *testing.T, name string) float64 {
	t.Helper()
	families, err := n.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
