package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mailtask/internal/state"
)

// Commit makes a batch permanent, as the file store's ledger append and
// state save do, in one transaction: the fingerprints of the messages
// taken, the UIDL changes st has had since the last commit, and the rest
// of st (UIDVALIDITY, UIDs done, after-actions now due, quarantined
// messages, last run). It is fenced: the transaction first checks, and
// locks, that this node still holds the lease under its epoch and that
// the lease has not run out by the database's clock; otherwise it writes
// nothing and returns an error wrapping ErrFenced, and the run must stop
// without acting on the mailbox. The files the batch wrote must be
// durable before Commit is called.
//
// Holding the lease row locked until the commit ends keeps any other node
// from claiming the task in between: a claim that comes after sees the
// commit.
func (l *Lease) Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	return l.commit(ctx, st, func(batch *pgx.Batch) { queueLedger(batch, l.Task, fps) }, func(ledger *Ledger) { ledger.add(fps) })
}

// commit writes st, fenced, with the ledger's change that queueLedger
// queues, and then makes the same change to the lease's copy of the
// ledger (change), if it has one.
func (l *Lease) commit(ctx context.Context, st *state.State, queueLedger func(*pgx.Batch), change func(*Ledger)) error {
	if st.Task != l.Task {
		return fmt.Errorf("commit the state of task %q under the lease of task %q", st.Task, l.Task)
	}
	changes := st.UIDLs.Changes()
	// Every statement of the batch may run twice (the ledger's change is
	// an upsert or a delete, the UIDLs are upserts, the state is written
	// whole), so a commit that met a connection the database had ended
	// is sent again, fence first, on another: after a restart or
	// pg_terminate_backend each dead connection of the pool fails one
	// query.
	for attempt := 1; ; attempt++ {
		batch := &pgx.Batch{}
		l.queueFence(batch)
		queueLedger(batch)
		queueUIDLs(batch, l.Task, changes)
		if err := queueState(batch, st); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		err := l.send(ctx, batch)
		if err == nil {
			break
		}
		if attempt == commitAttempts || errors.Is(err, ErrFenced) || !ConnectionEnded(err) || !Pause(ctx, attempt) {
			return l.commitError(err)
		}
	}
	st.UIDLs.ChangesSaved()
	l.mu.Lock()
	ledger := l.ledger
	l.mu.Unlock()
	if ledger != nil {
		change(ledger)
	}
	return nil
}

// commitAttempts bounds how often Commit sends a batch that meets
// connections the database ended: a database that is down fails the
// commit within seconds, as before, rather than after its context.
const commitAttempts = 6

// RetryWait is how long to wait before trying again, after attempt, a
// statement that met a connection the database ended (ConnectionEnded):
// 50 ms, doubling, at most a second.
func RetryWait(attempt int) time.Duration {
	return min(50*time.Millisecond<<(attempt-1), time.Second)
}

// Pause waits RetryWait(attempt); false if ctx ended first.
func Pause(ctx context.Context, attempt int) bool {
	timer := time.NewTimer(RetryWait(attempt))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// queueFence queues, first in a commit's batch, the fence: it takes the
// lease row, which the transaction keeps until it ends, then checks that
// this node still holds the lease under its epoch and that it has not run
// out by the database's clock, and fails the batch otherwise, so that
// nothing queued after it is written (mailtask_fence, with the code
// fencedCode; migrations/0005_fence.sql says why the lease is judged
// after the row is taken).
func (l *Lease) queueFence(batch *pgx.Batch) {
	batch.Queue(fenceStatement, l.Task, l.Epoch, l.store.node)
}

// fenceStatement is the fence, as pg_stat_activity shows it while it
// waits for the lease row (the chaos test finds a commit waiting at the
// fence by it).
const fenceStatement = "SELECT mailtask_fence($1, $2, $3)"

// fencedCode is the SQLSTATE with which mailtask_fence refuses a commit
// (migrations/0005_fence.sql).
const fencedCode = "MTF01"

// send sends a batch that begins with the fence (queueFence) as one round
// trip: the statements of a batch before its one Sync run in one implicit
// transaction, which the first to fail rolls back whole, leaving the
// connection fit for reuse. The fence's refusal comes back as ErrFenced.
func (l *Lease) send(ctx context.Context, batch *pgx.Batch) error {
	err := l.store.pool.SendBatch(ctx, batch).Close()
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == fencedCode {
		return ErrFenced
	}
	return err
}

// commitError is err, a commit's failure, said for the lease.
func (l *Lease) commitError(err error) error {
	if errors.Is(err, ErrFenced) {
		return fmt.Errorf("epoch %d: %w", l.Epoch, ErrFenced)
	}
	return fmt.Errorf("commit: %w", err)
}

func queueLedger(batch *pgx.Batch, task string, fps []state.Fingerprint) {
	if len(fps) == 0 {
		return
	}
	values := make([]int64, len(fps))
	for i, f := range fps {
		values[i] = fpValue(f)
	}
	batch.Queue("INSERT INTO ledger (task, fp) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING", task, values)
}

// queueUIDLs applies the changes: the last change of each UIDL is what
// counts.
func queueUIDLs(batch *pgx.Batch, task string, changes []state.UIDLChange) {
	if len(changes) == 0 {
		return
	}
	last := make(map[uint64]state.UIDLChange, len(changes))
	for _, c := range changes {
		last[c.Hash] = c
	}
	var (
		setHash, forget []int64
		setDay          []int32
	)
	for h, c := range last {
		if c.Forget {
			forget = append(forget, int64(h))
		} else {
			setHash, setDay = append(setHash, int64(h)), append(setDay, int32(c.MissingDay))
		}
	}
	if len(forget) > 0 {
		batch.Queue("DELETE FROM uidls WHERE task = $1 AND hash = ANY($2::bigint[])", task, forget)
	}
	if len(setHash) > 0 {
		batch.Queue(`INSERT INTO uidls (task, hash, missing_day)
			SELECT $1, unnest($2::bigint[]), unnest($3::integer[])
			ON CONFLICT (task, hash) DO UPDATE SET missing_day = excluded.missing_day`, task, setHash, setDay)
	}
}

func queueState(batch *pgx.Batch, st *state.State) error {
	failed, err := json.Marshal(nonNil(st.Failed))
	if err != nil {
		return err
	}
	undelivered := st.Undelivered
	if undelivered == nil {
		undelivered = map[string]int{} // {} rather than null, as the column's default
	}
	undeliveredJSON, err := json.Marshal(undelivered)
	if err != nil {
		return err
	}
	lastRun, err := jsonOrNull(st.LastRun)
	if err != nil {
		return err
	}
	lastSuccess, err := jsonOrNull(st.LastSuccess)
	if err != nil {
		return err
	}
	lastNotice, err := jsonOrNull(st.LastNotice)
	if err != nil {
		return err
	}
	var settling []byte
	if len(st.Settling) > 0 {
		if settling, err = json.Marshal(st.Settling); err != nil {
			return err
		}
	}
	batch.Queue(`
		INSERT INTO task_state (task, uid_validity, done_uids, pending_uids, pending_uidls,
			pending_failed_uids, pending_failed_uidls, pending_removal_uids, action_refused,
			failed, undelivered, last_run, last_success, last_notice, settling_uids, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now())
		ON CONFLICT (task) DO UPDATE SET
			uid_validity = excluded.uid_validity, done_uids = excluded.done_uids,
			pending_uids = excluded.pending_uids, pending_uidls = excluded.pending_uidls,
			pending_failed_uids = excluded.pending_failed_uids, pending_failed_uidls = excluded.pending_failed_uidls,
			pending_removal_uids = excluded.pending_removal_uids, action_refused = excluded.action_refused,
			failed = excluded.failed, undelivered = excluded.undelivered, last_run = excluded.last_run, last_success = excluded.last_success,
			last_notice = excluded.last_notice, settling_uids = excluded.settling_uids, updated_at = now()`,
		st.Task, int64(st.UIDValidity), st.Done.String(), st.PendingUIDs.String(), nonNil(st.PendingUIDLs),
		st.PendingFailedUIDs.String(), nonNil(st.PendingFailedUIDLs), st.PendingRemovalUIDs.String(), st.ActionRefused,
		failed, undeliveredJSON, lastRun, lastSuccess, lastNotice, settling)
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func jsonOrNull[T any](v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}
