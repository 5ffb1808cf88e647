package pgstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/state"
)

// Ledger is a task's ledger as loaded: the fingerprints of the messages it
// has taken. Has answers from memory; Lease.Commit adds what it commits.
// It is safe for concurrent use.
type Ledger struct {
	mu  sync.Mutex
	set map[state.Fingerprint]struct{}
}

// Has reports whether f was committed.
func (l *Ledger) Has(f state.Fingerprint) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.set[f]
	return ok
}

// Len returns the number of fingerprints committed.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.set)
}

func (l *Ledger) add(fps []state.Fingerprint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range fps {
		l.set[f] = struct{}{}
	}
}

// fpValue is a fingerprint as the ledger table holds it.
func fpValue(f state.Fingerprint) int64 { return int64(binary.BigEndian.Uint64(f[:])) }

func fpOf(v int64) state.Fingerprint {
	var f state.Fingerprint
	binary.BigEndian.PutUint64(f[:], uint64(v))
	return f
}

// Load reads the task's state and ledger, as the lease's run starts from.
// The State has no directory, so its Save refuses: it is committed by
// Commit. A task never run yields a fresh State and an empty ledger.
func (l *Lease) Load(ctx context.Context) (*state.State, *Ledger, error) {
	st, ledger, err := l.store.load(ctx, l.Task, true)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	l.ledger = ledger
	l.mu.Unlock()
	return st, ledger, nil
}

// LoadState reads a task's state without holding its lease and without
// its ledger, for `mailtask status`, `state show` and `check`.
func (s *Store) LoadState(ctx context.Context, task string) (*state.State, error) {
	st, _, err := s.load(ctx, task, false)
	return st, err
}

// load reads everything in one repeatable-read transaction, so that the
// state, its UIDLs and the ledger (if asked for) are of one commit; the
// transaction and its statements go as one batch, one round trip.
func (s *Store) load(ctx context.Context, task string, withLedger bool) (*state.State, *Ledger, error) {
	st := &state.State{Version: state.Version, Task: task}
	ledger := &Ledger{set: map[state.Fingerprint]struct{}{}}
	batch := &pgx.Batch{}
	batch.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	batch.Queue(`SELECT uid_validity, done_uids, pending_uids, pending_uidls,
			pending_failed_uids, pending_failed_uidls, pending_removal_uids, action_refused,
			failed, undelivered, last_run, last_success
		FROM task_state WHERE task = $1`, task).QueryRow(func(row pgx.Row) error { return loadState(row, st) })
	batch.Queue("SELECT hash, missing_day FROM uidls WHERE task = $1", task).Query(func(rows pgx.Rows) error { return loadUIDLs(rows, st) })
	if withLedger {
		batch.Queue("SELECT fp FROM ledger WHERE task = $1", task).Query(func(rows pgx.Rows) error { return loadLedger(rows, ledger) })
	}
	batch.Queue("COMMIT")
	// A batch that fails leaves its connection in the transaction; the
	// pool closes such a connection rather than reuse it.
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, nil, fmt.Errorf("load the state of task %q: %w", task, err)
	}
	return st, ledger, nil
}

// loadState reads the task_state row into st; no row leaves st fresh.
func loadState(row pgx.Row, st *state.State) error {
	var (
		uidValidity                         int64
		done, pending, pendingFail, removal string
		failed, undelivered                 []byte
		lastRun, lastSucess                 []byte
	)
	err := row.Scan(&uidValidity, &done, &pending, &st.PendingUIDLs, &pendingFail, &st.PendingFailedUIDLs, &removal, &st.ActionRefused,
		&failed, &undelivered, &lastRun, &lastSucess)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	st.UIDValidity = uint32(uidValidity)
	var errs []error
	for _, f := range []struct {
		text string
		set  *state.UIDSet
	}{{done, &st.Done}, {pending, &st.PendingUIDs}, {pendingFail, &st.PendingFailedUIDs}, {removal, &st.PendingRemovalUIDs}} {
		var err error
		*f.set, err = state.ParseUIDSet(f.text)
		errs = append(errs, err)
	}
	errs = append(errs, json.Unmarshal(failed, &st.Failed), json.Unmarshal(undelivered, &st.Undelivered))
	if lastRun != nil {
		errs = append(errs, json.Unmarshal(lastRun, &st.LastRun))
	}
	if lastSucess != nil {
		errs = append(errs, json.Unmarshal(lastSucess, &st.LastSuccess))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the task_state row is damaged: %w", err)
	}
	if len(st.PendingUIDLs) == 0 {
		st.PendingUIDLs = nil
	}
	if len(st.PendingFailedUIDLs) == 0 {
		st.PendingFailedUIDLs = nil
	}
	if len(st.Undelivered) == 0 {
		st.Undelivered = nil
	}
	return nil
}

func loadUIDLs(rows pgx.Rows, st *state.State) error {
	var (
		hash int64
		day  int32
	)
	_, err := pgx.ForEachRow(rows, []any{&hash, &day}, func() error {
		st.UIDLs.Restore(uint64(hash), uint32(day))
		return nil
	})
	return err
}

func loadLedger(rows pgx.Rows, ledger *Ledger) error {
	var fp int64
	_, err := pgx.ForEachRow(rows, []any{&fp}, func() error {
		ledger.set[fpOf(fp)] = struct{}{}
		return nil
	})
	return err
}
