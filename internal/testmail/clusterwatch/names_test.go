//go:build unix

package clusterwatch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/metrics"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
)

// The names this package expects of cluster mode hold for pgstore as it
// is: a node's default name and its connections' application_name, and
// the fence's statement as pg_stat_activity shows it while it waits.
// The chaos test catches a node inside a commit that way: it locks the
// task's lease row, finds the commit waiting at the fence, pauses the
// node and lets the lease run out; the commit is then refused.
func TestNamesMatchPgstore(t *testing.T) {
	url := loggedDB(t)
	ctx := testContext(t)
	s, lease, st := claimed(t, url, "t")
	if got, want := s.Node(), NodeName(os.Getpid()); got != want {
		t.Fatalf("pgstore names this process %q, NodeName says %q", got, want)
	}

	tx := lockRow(t, url, "t")
	locker := tx.Conn()
	// A look before the commit starts, in the same transaction: what
	// pg_stat_activity showed then must not hide the commit waiting later.
	if app, err := WaitingAtFence(ctx, locker); err != nil || app != "" {
		t.Fatalf("before the commit, WaitingAtFence = %q, %v", app, err)
	}
	committed := make(chan error, 1)
	go func() { committed <- lease.Commit(ctx, st, nil) }()

	var (
		app string
		err error
	)
	deadline := time.Now().Add(30 * time.Second)
	for app == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no commit waits at the fence as FenceStatement (%s) matches it", FenceStatement)
		}
		if app, err = WaitingAtFence(ctx, locker); err != nil {
			t.Fatal(err)
		}
		if app == "" {
			select {
			case err := <-committed:
				t.Fatalf("the commit ended (%v) without waiting at the fence as FenceStatement matches it", err)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	if want := NodeApp(os.Getpid()); app != want {
		t.Errorf("the waiting commit's application_name is %q, NodeApp says %q", app, want)
	}
	if _, err := tx.Exec(ctx, "UPDATE tasks SET lease_until = clock_timestamp() WHERE task = 't'"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-committed; !errors.Is(err, pgstore.ErrFenced) {
		t.Fatalf("the commit that waited past the lease: %v, want ErrFenced", err)
	}
}

// WaitingAtFence sees only a commit that waits for the lock its caller
// holds, not one that waits on another task's row: under load a commit
// can wait a while for a row some other session holds (its own node's
// renewal, say), and the chaos test, taking that one for the commit it
// caught, paused the wrong node and waited in vain for it to count a
// refusal.
func TestWaitingAtFenceSeesOnlyCommitsWaitingForItsLock(t *testing.T) {
	url := loggedDB(t)
	ctx := testContext(t)
	s, lease, st := claimed(t, url, "other")
	if err := s.AddTasks(ctx, []string{"mine"}); err != nil {
		t.Fatal(err)
	}
	bystander, locker := lockRow(t, url, "other"), lockRow(t, url, "mine")
	committed := make(chan error, 1)
	go func() { committed <- lease.Commit(ctx, st, nil) }()
	var (
		app string
		err error
	)
	deadline := time.Now().Add(30 * time.Second)
	for app == "" {
		if time.Now().After(deadline) {
			t.Fatal("the commit of \"other\" never waited at the fence for the bystander's lock")
		}
		if app, err = WaitingAtFence(ctx, bystander.Conn()); err != nil {
			t.Fatal(err)
		}
		if app == "" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if app, err := WaitingAtFence(ctx, locker.Conn()); err != nil || app != "" {
		t.Errorf("WaitingAtFence of the session locking \"mine\" = %q, %v; the only commit waiting waits for another's lock", app, err)
	}
	if err := bystander.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
}

// claimed opens the store at url as this process, claims task and loads
// its state, as a run would before it commits.
func claimed(t *testing.T, url, task string) (*pgstore.Store, *pgstore.Lease, *state.State) {
	t.Helper()
	ctx := testContext(t)
	s, err := pgstore.Open(ctx, pgstore.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	lease, err := s.ClaimTask(ctx, task, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := lease.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s, lease, st
}

// lockRow holds task's lease row locked, in a transaction of a connection
// of its own, until t ends.
func lockRow(t *testing.T, url, task string) pgx.Tx {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, "SELECT 1 FROM tasks WHERE task = $1 FOR UPDATE", task); err != nil {
		t.Fatal(err)
	}
	return tx
}

// The metric names are those a node of cluster mode serves on /metrics.
func TestMetricNamesMatchANodes(t *testing.T) {
	m := metrics.New()
	m.TrackCluster()
	m.Fenced()
	m.LeaseLost()
	m.Claimed(time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler(func() []string { return nil }).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	page, err := ParseMetrics(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{MetricFencedCommits, MetricLeaseLosses, MetricClaimSeconds + "_count"} {
		if page.Sum(name) != 1 {
			t.Errorf("a node's /metrics has no %s of 1:\n%s", name, rec.Body)
		}
	}
}
