package pgstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A commit that waits for the task's row (another session holds it
// locked, without changing it) while its lease runs out is refused when
// it gets the row: the fence judges the lease when it holds the row, not
// when it began to wait. Otherwise a node paused inside a commit, as the
// chaos test pauses one, would commit past its lease, and hold the row
// locked while paused, so that no other node could claim the task.
func TestACommitThatWaitedPastItsLeaseIsFenced(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "waiting")
	l := claim(t, s, "t", 2*time.Second)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = waitedPastLease(t, url, "tasks WHERE task = 't'", func() error { return l.Commit(ctx, st, nil) })
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("a commit that got the row after its lease ran out: %v, want ErrFenced", err)
	}
}

// A renewal that waits for the task's row while the lease runs out finds
// the lease lost, and leaves it run out: an UPDATE that waited for a row
// whose locker let go without changing it goes ahead on what its WHERE
// found before the wait (migrations/0005_fence.sql), so a renewal judged
// there revived the lease, and a commit queued behind it then passed the
// fence: a node paused past its lease committed (the chaos test caught
// it when the keeper's renewal reached the row before the commit).
func TestARenewalThatWaitedPastItsLeaseFindsItLost(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "waiting")
	const lease = 2 * time.Second
	l := claim(t, s, "t", lease)
	err := waitedPastLease(t, url, "tasks WHERE task = 't'", func() error { return l.Renew(ctx, lease) })
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a renewal that got the row after the lease ran out: %v, want ErrLeaseLost", err)
	}
	var live bool
	if err := s.pool.QueryRow(ctx, "SELECT lease_until > clock_timestamp() FROM tasks WHERE task = 't'").Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live {
		t.Fatal("the renewal that found the lease lost revived it")
	}
}

// A connection slot's renewal is judged the same way.
func TestASlotRenewalThatWaitedPastItsLeaseFindsItLost(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "waiting")
	const lease = 2 * time.Second
	sl, err := s.TryAcquireSlot(ctx, "acct", 1, lease, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = waitedPastLease(t, url, "conn_slots WHERE account = 'acct'", func() error { return sl.Renew(ctx, lease) })
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a slot renewal that got the row after the lease ran out: %v, want ErrLeaseLost", err)
	}
}

// waitedPastLease holds the row of `from` ("table WHERE ...") locked on a
// connection of its own while do, in a goroutine, waits for it, until the
// row's lease_until has passed by the database's clock; then it lets the
// row go unchanged and returns what do returned.
func waitedPastLease(t *testing.T, url, from string, do func() error) error {
	t.Helper()
	ctx := testContext(t)
	locker, err := adminConnect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT 1 FROM "+from+" FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- do() }()
	for waiting := 0; waiting == 0; {
		if _, err := tx.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("it ended (%v) without waiting for the row", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for expired := false; !expired; {
		if err := tx.QueryRow(ctx, "SELECT lease_until <= clock_timestamp() FROM "+from).Scan(&expired); err != nil {
			t.Fatal(err)
		}
		if !expired {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	return <-done
}

// A load that fails, on a damaged row or a statement the server refuses,
// must leave the connection fit for the next load (the store here has
// one).
func TestAFailedLoadLeavesTheConnectionUsable(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s, err := Open(ctx, Options{URL: url, Node: "one-conn", MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := claim(t, s, "t", time.Hour)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.UIDValidity = 7
	if err := l.Commit(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	sql(t, url, "UPDATE task_state SET done_uids = 'not a set' WHERE task = 't'")
	if _, _, err := l.Load(ctx); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("load of a damaged row: %v, want it named damaged", err)
	}
	sql(t, url, "UPDATE task_state SET done_uids = '' WHERE task = 't'")
	sql(t, url, "ALTER TABLE uidls RENAME TO uidls_away")
	if _, _, err := l.Load(ctx); err == nil {
		t.Fatal("a load whose statement the server refused succeeded")
	}
	sql(t, url, "ALTER TABLE uidls_away RENAME TO uidls")
	got, _, err := l.Load(ctx)
	if err != nil || got.UIDValidity != 7 {
		t.Fatalf("load after failed ones: %+v, %v; want the state committed", got, err)
	}
}
