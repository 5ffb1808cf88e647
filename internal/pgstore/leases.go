package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease is a node's hold on one task, under the epoch its claim set. The
// task's state may be committed only while it is held (Commit).
type Lease struct {
	Task  string
	Epoch int64

	store *Store
	mu    sync.Mutex
	until time.Time // by the database's clock
	// ledger is the one Load returned, which Commit keeps current.
	ledger *Ledger
}

// Until is when the lease runs out, by the database's clock, as the last
// claim or renewal set it.
func (l *Lease) Until() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

// interval is a duration as the SQL below takes it: milliseconds.
func interval(d time.Duration) int64 { return d.Milliseconds() }

// AddTasks makes sure the tasks have lease rows, due at once if new. Rows
// of tasks the configuration no longer has are left alone (their state
// stays for `state export`); Claim only hands out the names it is given.
func (s *Store) AddTasks(ctx context.Context, names []string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO tasks (task) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", names)
	if err != nil {
		return fmt.Errorf("register tasks: %w", err)
	}
	return nil
}

// Claim leases up to limit of the named tasks that are due (next_due has
// passed) and that nobody holds (no lease, or one that has run out), the
// longest overdue first, each for leaseFor from now by the database's
// clock, under an epoch one above the last. Rows other nodes are claiming
// at the same moment are skipped, not waited for (FOR UPDATE SKIP
// LOCKED), so that no task is handed to two nodes and no node waits on
// another.
func (s *Store) Claim(ctx context.Context, names []string, limit int, leaseFor time.Duration) ([]*Lease, error) {
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT task FROM tasks
			WHERE task = ANY($1::text[]) AND next_due <= now()
			  AND (lease_until IS NULL OR lease_until <= now())
			ORDER BY next_due
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE tasks t
		SET holder = $3, epoch = t.epoch + 1, claimed_at = now(),
		    lease_until = now() + $4 * interval '1 millisecond'
		FROM due WHERE t.task = due.task
		RETURNING t.task, t.epoch, t.lease_until`,
		names, limit, s.node, interval(leaseFor))
	if err != nil {
		return nil, fmt.Errorf("claim due tasks: %w", err)
	}
	leases, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Lease, error) {
		l := &Lease{store: s}
		return l, r.Scan(&l.Task, &l.Epoch, &l.until)
	})
	if err != nil {
		return nil, fmt.Errorf("claim due tasks: %w", err)
	}
	return leases, nil
}

// ClaimTask leases one task whether or not it is due, as `mailtask
// run-task` does; if another holder's lease is running it fails with a
// *HeldError.
func (s *Store) ClaimTask(ctx context.Context, task string, leaseFor time.Duration) (*Lease, error) {
	if err := s.AddTasks(ctx, []string{task}); err != nil {
		return nil, err
	}
	l := &Lease{Task: task, store: s}
	err := s.pool.QueryRow(ctx, `
		UPDATE tasks
		SET holder = $2, epoch = epoch + 1, claimed_at = now(),
		    lease_until = now() + $3 * interval '1 millisecond'
		WHERE task = $1 AND (lease_until IS NULL OR lease_until <= now())
		RETURNING epoch, lease_until`,
		task, s.node, interval(leaseFor)).Scan(&l.Epoch, &l.until)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("claim task %q: %w", task, err)
	}
	held := &HeldError{Task: task}
	err = s.pool.QueryRow(ctx, "SELECT coalesce(holder, ''), coalesce(lease_until, now()) FROM tasks WHERE task = $1", task).
		Scan(&held.Holder, &held.Until)
	if err != nil {
		return nil, fmt.Errorf("claim task %q: %w", task, err)
	}
	return nil, held
}

// Renew extends the lease to leaseFor from now, by the database's clock.
// It fails with ErrLeaseLost once the lease has run out or another node
// has claimed the task: a lease that ran out is not revived, even if
// nobody took it, because the node cannot know that nobody did.
func (l *Lease) Renew(ctx context.Context, leaseFor time.Duration) error {
	var until time.Time
	err := l.store.pool.QueryRow(ctx, `
		UPDATE tasks SET lease_until = clock_timestamp() + $4 * interval '1 millisecond'
		WHERE task = $1 AND epoch = $2 AND holder = $3 AND lease_until > clock_timestamp()
		RETURNING lease_until`,
		l.Task, l.Epoch, l.store.node, interval(leaseFor)).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("task %q, epoch %d: %w", l.Task, l.Epoch, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("renew the lease of task %q: %w", l.Task, err)
	}
	l.mu.Lock()
	l.until = until
	l.mu.Unlock()
	return nil
}

// Release gives the task up and sets when it is next due (the zero time
// leaves next_due as it is). It fails with ErrLeaseLost, changing
// nothing, if another node has claimed the task since.
func (l *Lease) Release(ctx context.Context, nextDue time.Time) error {
	var due *time.Time
	if !nextDue.IsZero() {
		due = &nextDue
	}
	tag, err := l.store.pool.Exec(ctx, `
		UPDATE tasks SET holder = NULL, lease_until = NULL, next_due = coalesce($3, next_due)
		WHERE task = $1 AND epoch = $2`,
		l.Task, l.Epoch, due)
	if err != nil {
		return fmt.Errorf("release the lease of task %q: %w", l.Task, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("task %q, epoch %d: %w", l.Task, l.Epoch, ErrLeaseLost)
	}
	return nil
}

// Keep renews the lease every `every` until ctx ends (returning nil), or
// until the lease is lost: then it returns an error wrapping
// ErrLeaseLost, on which the run must stop. A renewal that fails for
// another reason (the connection was cut, the database restarts) is
// retried until the lease would have run out; Keep then gives it up as
// lost, since another node may have claimed it. every must be well below
// leaseFor (a third, say), so that a renewal or two may fail in time.
func (l *Lease) Keep(ctx context.Context, leaseFor, every time.Duration) error {
	return keep(ctx, leaseFor, every, l.Renew, func() error {
		return fmt.Errorf("task %q, epoch %d: not renewed in time: %w", l.Task, l.Epoch, ErrLeaseLost)
	})
}

// keep calls renew every `every` until ctx ends (nil), renew reports the
// lease lost (its error), or no renewal has got through for leaseFor
// (expired's error).
func keep(ctx context.Context, leaseFor, every time.Duration, renew func(context.Context, time.Duration) error, expired func() error) error {
	// The node's own deadline: leaseFor after the last renewal was
	// asked for, which is no later than the database's.
	deadline := time.Now().Add(leaseFor)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		asked := time.Now()
		if asked.After(deadline) {
			return expired()
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		err := renew(rctx, leaseFor)
		cancel()
		switch {
		case err == nil:
			deadline = asked.Add(leaseFor)
		case errors.Is(err, ErrLeaseLost):
			return err
		case ctx.Err() != nil:
			return nil
		}
	}
}
