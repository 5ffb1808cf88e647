package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/state"
)

// RunsKept is how many runs of each task the history keeps.
const RunsKept = 100

// RecordRun adds the run to the task's history, keeping the newest
// RunsKept. It is not fenced: a run that lost its lease is history too,
// and says so. The task's last run as its state shows it is committed
// with the state (CommitRun).
func (l *Lease) RecordRun(ctx context.Context, run state.Run) error {
	batch := &pgx.Batch{}
	l.queueRun(batch, run)
	// One round trip, in one (implicit) transaction.
	if err := l.store.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("record the run: %w", err)
	}
	return nil
}

// CommitRun commits st, which holds how the run ended, as Commit commits
// a batch without messages (fenced), and adds run to the history, in one
// transaction, one round trip. With end, the same transaction gives back
// what the run held: the lease, with the task's next due time, and
// connection slots, as Release and Slot.Release would, which saves a
// node two round trips at the end of every run; the caller has stopped
// renewing them. If that fails, the fence's refusal included, nothing is
// given back, the run still goes into the history, and the error says
// why the state was not committed (wrapping ErrFenced for the fence).
func (l *Lease) CommitRun(ctx context.Context, st *state.State, run state.Run, end *Ending) error {
	if st.Task != l.Task {
		return fmt.Errorf("commit the state of task %q under the lease of task %q", st.Task, l.Task)
	}
	changes := st.UIDLs.Changes()
	batch := &pgx.Batch{}
	l.queueFence(batch)
	queueUIDLs(batch, l.Task, changes)
	err := queueState(batch, st)
	if err == nil {
		l.queueRun(batch, run)
		if end != nil {
			l.queueRelease(batch, end.NextDue)
			queueSlotsRelease(batch, end.Slots)
		}
		err = l.send(ctx, batch)
	}
	if err == nil {
		st.UIDLs.ChangesSaved()
		return nil
	}
	return errors.Join(l.commitError(err), l.RecordRun(ctx, run))
}

// Ending is what a run's last commit gives back (CommitRun).
type Ending struct {
	NextDue time.Time // the task's; zero leaves it as it was
	Slots   []*Slot   // connection slots the run held
}

// queueRun adds to batch the statements that add run to the history and
// drop what is beyond the newest RunsKept.
func (l *Lease) queueRun(batch *pgx.Batch, run state.Run) {
	batch.Queue(`
		INSERT INTO runs (task, node, epoch, started, duration_ms, outcome, error, hint,
			seen, matched, saved, failed, files, bytes, known, unmatched, held, quarantine_notices)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		l.Task, l.store.node, l.Epoch, run.Started, run.Duration.Milliseconds(), run.Outcome, run.Error, run.Hint,
		run.Seen, run.Seen-run.Unmatched, run.Saved, run.Failed, run.Files, int64(run.Bytes), run.Known, run.Unmatched, run.Held,
		run.QuarantineNotices)
	batch.Queue(`
		DELETE FROM runs WHERE task = $1 AND id < (
			SELECT id FROM runs WHERE task = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
		l.Task, RunsKept-1)
}

// LeaseInfo is a task's lease row as `mailtask status` shows it.
type LeaseInfo struct {
	Task       string
	Holder     string    // "" when free
	Epoch      int64     // claims so far
	LeaseUntil time.Time // zero when free
	ClaimedAt  time.Time // of the last claim; zero if never claimed
	NextDue    time.Time
	Now        time.Time // the database's clock, to tell lease ages by
	LastNode   string    // the node of the task's last run; "" if none
}

// Leases returns every task's lease row, by task name, in one statement
// whatever the number of tasks.
func (s *Store) Leases(ctx context.Context) ([]LeaseInfo, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.task, coalesce(t.holder, ''), t.epoch, t.lease_until, t.claimed_at, t.next_due, now(), coalesce(r.node, '')
		FROM tasks t LEFT JOIN LATERAL (SELECT node FROM runs WHERE runs.task = t.task ORDER BY id DESC LIMIT 1) r ON true
		ORDER BY t.task`)
	if err != nil {
		return nil, fmt.Errorf("read the leases: %w", err)
	}
	leases, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LeaseInfo, error) {
		var (
			li           LeaseInfo
			until, since *time.Time
		)
		err := r.Scan(&li.Task, &li.Holder, &li.Epoch, &until, &since, &li.NextDue, &li.Now, &li.LastNode)
		if until != nil {
			li.LeaseUntil = *until
		}
		if since != nil {
			li.ClaimedAt = *since
		}
		return li, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the leases: %w", err)
	}
	return leases, nil
}
