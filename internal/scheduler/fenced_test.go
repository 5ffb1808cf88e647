package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

// A commit the fence refuses is counted whatever error the run ends
// with: a run's stages stop together when its lease is lost, and the
// first error among them, which the run returns, is as often another
// stage's "context canceled" as the writer's refusal. The run's end,
// committed after, is refused too, and the run is counted once.
func TestAFencedCommitIsCountedWhateverTheRunReturns(t *testing.T) {
	testFencedRunCounted(t, func(ctx context.Context, held popimap.Held, st *state.State) error {
		st.UIDValidity = 7 // a batch that changes the state
		err := held.Commit(ctx, st, nil)
		held.Record(ctx, st, false)
		return err
	})
}

// A run with nothing to commit before its end (a mailbox with nothing
// new) meets the fence at the commit of its end: that refusal is counted.
func TestAFencedRunEndIsCounted(t *testing.T) {
	testFencedRunCounted(t, func(ctx context.Context, held popimap.Held, st *state.State) error {
		if err := held.Commit(ctx, st, nil); err != nil {
			return fmt.Errorf("a commit that changes nothing: %w, want nothing sent", err)
		}
		st.LastRun = &state.Run{Started: time.Now(), Outcome: "failed"}
		return held.Record(ctx, st, false)
	})
}

// testFencedRunCounted runs commit in a run whose lease another node has
// taken, and checks that it is refused and counted once.
func testFencedRunCounted(t *testing.T, commit func(context.Context, popimap.Held, *state.State) error) {
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
		// node claims the task (and runs it: it is not due again).
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return sum, err
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "UPDATE tasks SET lease_until = clock_timestamp() - interval '1 second', epoch = epoch + 1, holder = 'other', next_due = now() + interval '1 hour' WHERE task = 't'"); err != nil {
			return sum, err
		}
		refused <- commit(ctx, opts.Held, st)
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
	families, err := n.metrics.Gatherer().Gather()
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
