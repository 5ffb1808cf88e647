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

func (l *Ledger) drop(fps []state.Fingerprint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range fps {
		delete(l.set, f)
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
// Commit. A task never run yields a fresh State and an empty ledger. The
// first Load after a TryAcquireSlot that preloaded the task returns what
// that read, which nobody but this lease's holder can have changed since.
func (l *Lease) Load(ctx context.Context) (*state.State, *Ledger, error) {
	l.mu.Lock()
	r := l.preloaded
	l.preloaded = nil
	l.mu.Unlock()
	if r == nil || r.err != nil {
		batch := &pgx.Batch{}
		r = l.store.queueLoad(batch, l.Task, true)
		if err := l.store.pool.SendBatch(ctx, batch).Close(); err != nil {
			return nil, nil, fmt.Errorf("load the state: %w", err)
		}
		if r.err != nil {
			return nil, nil, r.err
		}
	}
	l.mu.Lock()
	l.ledger = r.ledger
	l.mu.Unlock()
	return r.st, r.ledger, nil
}

// LoadState reads a task's state without holding its lease and without
// its ledger, for `mailtask status`, `state show` and `check`.
func (s *Store) LoadState(ctx context.Context, task string) (*state.State, error) {
	batch := &pgx.Batch{}
	r := s.queueLoad(batch, task, false)
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("load the state: %w", err)
	}
	return r.st, r.err
}

// A TaskState is a task's state as States reads it, or why it could not.
type TaskState struct {
	State *state.State
	Err   error // the task's row is damaged
}

// States reads the state of every task that has one, in one statement,
// without the UIDLs and the ledger, which only a run needs: what `mailtask
// status` shows of thousands of tasks, where a load per task cost a round
// trip each.
func (s *Store) States(ctx context.Context) (map[string]TaskState, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.task, true, `+stateColumns+` FROM task_state s`)
	if err != nil {
		return nil, fmt.Errorf("read the states: %w", err)
	}
	states := map[string]TaskState{}
	for rows.Next() {
		var (
			task string
			sr   stateRow
		)
		err := rows.Scan(append([]any{&task}, sr.fields()...)...)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the states: %w", err)
		}
		st := &state.State{Version: state.Version, Task: task}
		err = sr.fill(st)
		states[task] = TaskState{State: st, Err: err}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the states: %w", err)
	}
	return states, nil
}

// loaded is what a load read, once its batch has run.
type loaded struct {
	st     *state.State
	ledger *Ledger
	err    error // the row could not be read
}

// queueLoad queues a load of everything in one statement, whose one
// snapshot makes the state, its UIDLs and the ledger (if asked for) of
// one commit: the UIDLs and fingerprints come as arrays beside the state
// row, one statement for the database where a repeatable-read
// transaction of a statement per table took five. A row that cannot be
// read is the result's error, not the batch's, which may have taken a
// slot that must not be lost with it (TryAcquireSlot).
func (s *Store) queueLoad(batch *pgx.Batch, task string, withLedger bool) *loaded {
	r := &loaded{}
	batch.Queue(`
		SELECT s.task IS NOT NULL, `+stateColumns+`,
			ARRAY(SELECT hash FROM uidls WHERE task = $1 ORDER BY hash),
			ARRAY(SELECT missing_day FROM uidls WHERE task = $1 ORDER BY hash),
			ARRAY(SELECT fp FROM ledger WHERE task = $1 AND $2)
		FROM (SELECT) AS one LEFT JOIN task_state s ON s.task = $1`, task, withLedger).QueryRow(func(row pgx.Row) error {
		if err := r.read(row, task); err != nil {
			r.err = fmt.Errorf("load the state: %w", err)
		}
		return nil
	})
	return r
}

func (r *loaded) read(row pgx.Row, task string) error {
	var (
		sr          stateRow
		hashes, fps []int64
		days        []int32
	)
	err := row.Scan(append(sr.fields(), &hashes, &days, &fps)...)
	if err != nil {
		return err
	}
	st := &state.State{Version: state.Version, Task: task}
	if sr.found {
		if err := sr.fill(st); err != nil {
			return err
		}
	}
	if len(hashes) != len(days) {
		return fmt.Errorf("%d UIDLs with %d days", len(hashes), len(days))
	}
	for i, h := range hashes {
		st.UIDLs.Restore(uint64(h), uint32(days[i]))
	}
	ledger := &Ledger{set: make(map[state.Fingerprint]struct{}, len(fps))}
	for _, fp := range fps {
		ledger.set[fpOf(fp)] = struct{}{}
	}
	r.st, r.ledger = st, ledger
	return nil
}

// stateRow is a task_state row as load reads it: its columns are NULL
// (found false) when the task has none.
type stateRow struct {
	found                               bool
	uidValidity                         *int64
	done, pending, pendingFail, removal *string
	pendingUIDLs, pendingFailUIDLs      []string
	actionRefused                       *string
	failed, undelivered                 []byte
	lastRun, lastSuccess, lastNotice    []byte
	settling                            []byte
}

// stateColumns are the columns of task_state (as s) that a stateRow reads,
// after whether the row was found.
const stateColumns = `s.uid_validity, s.done_uids, s.pending_uids, s.pending_uidls,
	s.pending_failed_uids, s.pending_failed_uidls, s.pending_removal_uids, s.action_refused,
	s.failed, s.undelivered, s.last_run, s.last_success, s.last_notice, s.settling_uids`

// fields are where a scan puts found and stateColumns.
func (r *stateRow) fields() []any {
	return []any{&r.found, &r.uidValidity, &r.done, &r.pending, &r.pendingUIDLs, &r.pendingFail, &r.pendingFailUIDLs,
		&r.removal, &r.actionRefused, &r.failed, &r.undelivered, &r.lastRun, &r.lastSuccess, &r.lastNotice, &r.settling}
}

// fill sets st from the row.
func (r *stateRow) fill(st *state.State) error {
	st.UIDValidity = uint32(*r.uidValidity)
	st.ActionRefused = *r.actionRefused
	var errs []error
	for _, f := range []struct {
		text *string
		set  *state.UIDSet
	}{{r.done, &st.Done}, {r.pending, &st.PendingUIDs}, {r.pendingFail, &st.PendingFailedUIDs}, {r.removal, &st.PendingRemovalUIDs}} {
		var err error
		*f.set, err = state.ParseUIDSet(*f.text)
		errs = append(errs, err)
	}
	errs = append(errs, json.Unmarshal(r.failed, &st.Failed), json.Unmarshal(r.undelivered, &st.Undelivered))
	if r.lastRun != nil {
		errs = append(errs, json.Unmarshal(r.lastRun, &st.LastRun))
	}
	if r.lastSuccess != nil {
		errs = append(errs, json.Unmarshal(r.lastSuccess, &st.LastSuccess))
	}
	if r.lastNotice != nil {
		errs = append(errs, json.Unmarshal(r.lastNotice, &st.LastNotice))
	}
	if r.settling != nil {
		errs = append(errs, json.Unmarshal(r.settling, &st.Settling))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the task_state row is damaged: %w", err)
	}
	if len(r.pendingUIDLs) > 0 {
		st.PendingUIDLs = r.pendingUIDLs
	}
	if len(r.pendingFailUIDLs) > 0 {
		st.PendingFailedUIDLs = r.pendingFailUIDLs
	}
	if len(st.Undelivered) == 0 {
		st.Undelivered = nil
	}
	return nil
}
