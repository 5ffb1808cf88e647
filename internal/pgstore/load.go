package pgstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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

// load reads everything in one statement, whose one snapshot makes the
// state, its UIDLs and the ledger (if asked for) of one commit: the
// UIDLs and fingerprints come as arrays beside the state row, which is
// one round trip and one statement for the database, where a
// repeatable-read transaction of a statement per table took five.
func (s *Store) load(ctx context.Context, task string, withLedger bool) (*state.State, *Ledger, error) {
	st := &state.State{Version: state.Version, Task: task}
	ledger := &Ledger{set: map[state.Fingerprint]struct{}{}}
	var (
		row         stateRow
		hashes, fps []int64
		days        []int32
	)
	err := s.pool.QueryRow(ctx, `
		SELECT s.task IS NOT NULL, s.uid_validity, s.done_uids, s.pending_uids, s.pending_uidls,
			s.pending_failed_uids, s.pending_failed_uidls, s.pending_removal_uids, s.action_refused,
			s.failed, s.undelivered, s.last_run, s.last_success,
			ARRAY(SELECT hash FROM uidls WHERE task = $1 ORDER BY hash),
			ARRAY(SELECT missing_day FROM uidls WHERE task = $1 ORDER BY hash),
			ARRAY(SELECT fp FROM ledger WHERE task = $1 AND $2)
		FROM (SELECT) AS one LEFT JOIN task_state s ON s.task = $1`, task, withLedger).
		Scan(&row.found, &row.uidValidity, &row.done, &row.pending, &row.pendingUIDLs, &row.pendingFail, &row.pendingFailUIDLs,
			&row.removal, &row.actionRefused, &row.failed, &row.undelivered, &row.lastRun, &row.lastSuccess, &hashes, &days, &fps)
	if err == nil && row.found {
		err = row.fill(st)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load the state of task %q: %w", task, err)
	}
	if len(hashes) != len(days) {
		return nil, nil, fmt.Errorf("load the state of task %q: %d UIDLs with %d days", task, len(hashes), len(days))
	}
	for i, h := range hashes {
		st.UIDLs.Restore(uint64(h), uint32(days[i]))
	}
	for _, fp := range fps {
		ledger.set[fpOf(fp)] = struct{}{}
	}
	return st, ledger, nil
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
	lastRun, lastSuccess                []byte
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
