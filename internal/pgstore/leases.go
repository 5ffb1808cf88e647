package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	// preloaded is what a TryAcquireSlot read for the next Load.
	preloaded *loaded
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
// stays for `state export`); a node that claims one gives it back and is
// not handed it again (Lease.Skip).
func (s *Store) AddTasks(ctx context.Context, names []string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO tasks (task) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", names)
	if err != nil {
		return fmt.Errorf("register tasks: %w", err)
	}
	return nil
}

// Skip makes names the tasks this node's claims pass over (those it
// watches with idle, which it claims with ClaimTask for as long as it
// watches), and forgets the tasks it gave back as not its own
// (Lease.Skip): its configuration has changed, and may have them now.
func (s *Store) Skip(ctx context.Context, names []string) error {
	batch := &pgx.Batch{}
	batch.Queue(`UPDATE tasks SET skipped_by = array_remove(skipped_by, $1)
		WHERE $1 = ANY(skipped_by) AND task <> ALL($2::text[])`, s.node, nonNil(names))
	batch.Queue(`UPDATE tasks SET skipped_by = `+addSkipper+`
		WHERE task = ANY($2::text[]) AND NOT $1 = ANY(skipped_by)`, s.node, nonNil(names))
	// One round trip, in one (implicit) transaction.
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("register the tasks this node does not claim: %w", err)
	}
	return nil
}

// skippersKept bounds the nodes a task's row remembers as passing it over:
// a node that restarts comes back under another name (its PID), and those
// of nodes long gone would otherwise pile up. A node dropped from the list
// while it runs is handed the task once more, and gives it back again.
const skippersKept = 32

// addSkipper is skipped_by with the node $1 added, as the newest of at
// most skippersKept: the last skippersKept of the cardinality + 1.
var addSkipper = fmt.Sprintf("(skipped_by || $1::text)[greatest(1, cardinality(skipped_by) + 2 - %d):]", skippersKept)

// Claim leases up to limit of the due tasks (next_due has passed) that
// nobody holds (no lease, or one that has run out) and that this node does
// not pass over (Skip, Lease.Skip), the longest overdue first, each for
// leaseFor from now by the database's clock, under an epoch one above the
// last. Rows other nodes are claiming at the same moment are skipped, not
// waited for (FOR UPDATE SKIP LOCKED), so that no task is handed to two
// nodes and no node waits on another. It costs the same whatever the
// number of tasks: the node does not name them.
//
// next is how long, by the database's clock, until the next of the tasks
// this node does not pass over comes due (NoneDue if none will): the same
// statement reads it off the next_due index, so that the node can look
// again when a task comes due instead of at some interval, which a task
// due just after a look waited out whole.
//
// The same statement marks the node as seen (nodes.go), at most every
// SeenEvery(leaseFor), even when the schema is newer than it knows; a
// node whose run slots are all taken claims with limit 0 to be seen.
func (s *Store) Claim(ctx context.Context, limit int, leaseFor time.Duration) (leases []*Lease, next time.Duration, err error) {
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT task FROM tasks
			WHERE next_due <= now()
			  AND (lease_until IS NULL OR lease_until <= now())
			  AND NOT $2 = ANY(skipped_by)
			  AND `+schemaKnown+`
			ORDER BY next_due
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		), claimed AS (
			UPDATE tasks t
			SET holder = $2, epoch = t.epoch + 1, claimed_at = now(),
			    lease_until = now() + $3 * interval '1 millisecond'
			FROM due WHERE t.task = due.task
			RETURNING t.task, t.epoch, t.lease_until
		), `+seenByClaim+`
		SELECT c.task, c.epoch, c.lease_until, later.ms, schema.version
		FROM (SELECT ceil(extract(epoch FROM min(next_due) - clock_timestamp()) * 1000)::bigint AS ms
			FROM tasks WHERE next_due > now() AND NOT $2 = ANY(skipped_by)) later
		CROSS JOIN (SELECT max(version) AS version FROM mailtask_schema) schema
		LEFT JOIN claimed c ON true`,
		limit, s.node, interval(leaseFor), SchemaVersion, interval(SeenEvery(leaseFor)))
	if err != nil {
		return nil, 0, fmt.Errorf("claim due tasks: %w", err)
	}
	next = NoneDue
	var (
		epoch, ms *int64
		name      *string
		until     *time.Time
		schema    int
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &epoch, &until, &ms, &schema}, func() error {
		if ms != nil {
			next = time.Duration(*ms) * time.Millisecond
		}
		if name != nil {
			leases = append(leases, &Lease{Task: *name, Epoch: *epoch, until: *until, store: s})
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("claim due tasks: %w", err)
	}
	if schema > SchemaVersion {
		return nil, 0, &SchemaError{Have: schema, Want: SchemaVersion}
	}
	return leases, next, nil
}

// NoneDue is Claim's next when no task will come due for the node.
const NoneDue time.Duration = math.MaxInt64

// schemaKnown is the condition, on the parameter $4 holding
// SchemaVersion, under which a node takes or keeps a lease: that the
// database's schema is not newer than the node knows. Open refuses such a
// database, but a node already running meets it when a newer mailtask
// migrates the database during a rolling upgrade; from then on it claims
// nothing (Claim and ClaimTask fail with a *SchemaError) and its leases
// are not renewed, so that what the new schema means is left to nodes
// that know it, while what the node had committed stays.
const schemaKnown = "(SELECT max(version) FROM mailtask_schema) <= $4"

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
		WHERE task = $1 AND (lease_until IS NULL OR lease_until <= now()) AND `+schemaKnown+`
		RETURNING epoch, lease_until`,
		task, s.node, interval(leaseFor), SchemaVersion).Scan(&l.Epoch, &l.until)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("claim the task: %w", err)
	}
	held := &HeldError{Task: task}
	var schema int
	err = s.pool.QueryRow(ctx, `SELECT coalesce(holder, ''), coalesce(lease_until, now()), (SELECT max(version) FROM mailtask_schema)
		FROM tasks WHERE task = $1`, task).Scan(&held.Holder, &held.Until, &schema)
	if err != nil {
		return nil, fmt.Errorf("claim the task: %w", err)
	}
	if schema > SchemaVersion {
		return nil, &SchemaError{Have: schema, Want: SchemaVersion}
	}
	return nil, held
}

// Renew extends the lease to leaseFor from now, by the database's clock.
// It fails with ErrLeaseLost once the lease has run out or another node
// has claimed the task: a lease that ran out is not revived, even if
// nobody took it, because the node cannot know that nobody did.
func (l *Lease) Renew(ctx context.Context, leaseFor time.Duration) error {
	var until time.Time
	renewed, err := l.store.renew(ctx, "SELECT FROM tasks WHERE task = $1 FOR UPDATE", []any{l.Task}, `
		UPDATE tasks SET lease_until = clock_timestamp() + $5 * interval '1 millisecond'
		WHERE task = $1 AND epoch = $2 AND holder = $3 AND lease_until > clock_timestamp() AND `+schemaKnown+`
		RETURNING lease_until`,
		[]any{l.Task, l.Epoch, l.store.node, SchemaVersion, interval(leaseFor)}, &until)
	if err != nil {
		return fmt.Errorf("renew the lease: %w", err)
	}
	if !renewed {
		if err := checkSchema(ctx, l.store.pool); err != nil {
			return fmt.Errorf("epoch %d: %w: %w", l.Epoch, ErrLeaseLost, err)
		}
		return fmt.Errorf("epoch %d: %w", l.Epoch, ErrLeaseLost)
	}
	l.mu.Lock()
	l.until = until
	l.mu.Unlock()
	return nil
}

// renew runs update, a renewal's UPDATE … RETURNING, after lock, a
// SELECT … FOR UPDATE of the row it extends, in one batch (one round
// trip, one implicit transaction), and reports whether update returned
// its row, scanned into dest. Taking the row first makes the UPDATE judge
// the lease by the row and the clock of a moment it holds the row: an
// UPDATE that waited for a row another session held locked, and let go
// without changing it (a commit's fence that refused, a SELECT … FOR
// UPDATE), goes ahead on what its WHERE found, and the values its SET
// computed, before the wait (migrations/0005_fence.sql). A renewal
// alone so revived a lease that ran out while it waited, and a commit
// queued behind it then passed the fence: a node paused past its lease
// committed.
func (s *Store) renew(ctx context.Context, lock string, lockArgs []any, update string, args []any, dest ...any) (bool, error) {
	renewed := false
	batch := &pgx.Batch{}
	batch.Queue(lock, lockArgs...)
	batch.Queue(update, args...).QueryRow(func(row pgx.Row) error {
		err := row.Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		renewed = err == nil
		return err
	})
	return renewed, s.pool.SendBatch(ctx, batch).Close()
}

// Release gives the task up and sets when it is next due (the zero time
// leaves next_due as it is). It fails with ErrLeaseLost, changing
// nothing, if another node has claimed the task since.
func (l *Lease) Release(ctx context.Context, nextDue time.Time) error {
	batch := &pgx.Batch{}
	released := l.queueRelease(batch, nextDue)
	if err := l.store.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("release the lease: %w", err)
	}
	if !*released {
		return fmt.Errorf("epoch %d: %w", l.Epoch, ErrLeaseLost)
	}
	return nil
}

// queueRelease queues the release of the lease (Release); the flag it
// returns says, once the batch has run, whether it took place.
func (l *Lease) queueRelease(batch *pgx.Batch, nextDue time.Time) *bool {
	var due *time.Time
	if !nextDue.IsZero() {
		due = &nextDue
	}
	released := new(bool)
	batch.Queue(`
		UPDATE tasks SET holder = NULL, lease_until = NULL, next_due = coalesce($3, next_due)
		WHERE task = $1 AND epoch = $2`,
		l.Task, l.Epoch, due).Exec(func(tag pgconn.CommandTag) error {
		*released = tag.RowsAffected() > 0
		return nil
	})
	return released
}

// Skip gives the task back, due as it was, as one this node does not
// run by its schedule (it is not in the node's configuration, or the node
// watches it with idle): the node's claims pass it over from now on,
// until Skip of the store says otherwise. It fails with ErrLeaseLost,
// changing nothing, if another node has claimed the task since.
func (l *Lease) Skip(ctx context.Context) error {
	tag, err := l.store.pool.Exec(ctx, `
		UPDATE tasks SET holder = NULL, lease_until = NULL,
			skipped_by = CASE WHEN $1 = ANY(skipped_by) THEN skipped_by ELSE `+addSkipper+` END
		WHERE task = $2 AND epoch = $3`,
		l.store.node, l.Task, l.Epoch)
	if err != nil {
		return fmt.Errorf("give back the lease: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("epoch %d: %w", l.Epoch, ErrLeaseLost)
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
		return fmt.Errorf("epoch %d: not renewed in time: %w", l.Epoch, ErrLeaseLost)
	})
}

// keep calls renew every `every` until ctx ends (nil), renew reports the
// lease lost (its error), or no renewal has got through for leaseFor
// (expired's error), which it says at that deadline, not at the next
// tick: until then the node keeps its connection or run while another
// may already hold its place.
func keep(ctx context.Context, leaseFor, every time.Duration, renew func(context.Context, time.Duration) error, expired func() error) error {
	// The node's own deadline: leaseFor after the last renewal was
	// asked for, which is no later than the database's.
	deadline := time.Now().Add(leaseFor)
	lapse := time.NewTimer(leaseFor)
	defer lapse.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-lapse.C:
			return expired()
		case <-tick.C:
		}
		asked := time.Now()
		rctx, cancel := context.WithDeadline(ctx, deadline)
		err := renew(rctx, leaseFor)
		cancel()
		switch {
		case err == nil:
			deadline = asked.Add(leaseFor)
			lapse.Reset(time.Until(deadline))
		case errors.Is(err, ErrLeaseLost):
			return err
		case ctx.Err() != nil:
			return nil
		case !time.Now().Before(deadline):
			return expired()
		}
	}
}
