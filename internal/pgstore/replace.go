package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/state"
)

// All yields every fingerprint in the ledger, in no order (for `state
// export`).
func (l *Ledger) All() iter.Seq[state.Fingerprint] {
	return func(yield func(state.Fingerprint) bool) {
		l.mu.Lock()
		fps := make([]state.Fingerprint, 0, len(l.set))
		for f := range l.set {
			fps = append(fps, f)
		}
		l.mu.Unlock()
		for _, f := range fps {
			if !yield(f) {
				return
			}
		}
	}
}

// Replace makes st, all its UIDLs and exactly the fingerprints fps the
// task's whole state, in place of whatever the database held, as `state
// import` moving a task from the file store needs; Commit writes only
// what changed. It is fenced as Commit is.
func (l *Lease) Replace(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	if st.Task != l.Task {
		return fmt.Errorf("replace the state of task %q under the lease of task %q", st.Task, l.Task)
	}
	var all []state.UIDLChange
	for h, day := range st.UIDLs.All() {
		all = append(all, state.UIDLChange{Hash: h, MissingDay: day})
	}
	batch := &pgx.Batch{}
	l.queueFence(batch)
	for _, table := range []string{"ledger", "uidls", "task_state"} {
		batch.Queue("DELETE FROM "+table+" WHERE task = $1", l.Task)
	}
	queueLedger(batch, l.Task, fps)
	queueUIDLs(batch, l.Task, all)
	err := queueState(batch, st)
	if err == nil {
		err = l.send(ctx, batch)
	}
	if errors.Is(err, ErrFenced) {
		return fmt.Errorf("epoch %d: %w", l.Epoch, ErrFenced)
	}
	if err != nil {
		return fmt.Errorf("replace the state: %w", err)
	}
	st.UIDLs.ChangesSaved()
	return nil
}

// Forget commits st as Commit does and takes fps out of the ledger, in one
// fenced transaction: `mailtask state retry` makes messages kept aside new
// again, and a run finding one's fingerprint in the ledger would count it
// as taken. Only those rows change, however long the ledger is.
func (l *Lease) Forget(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	values := make([]int64, len(fps))
	for i, f := range fps {
		values[i] = fpValue(f)
	}
	return l.commit(ctx, st, func(batch *pgx.Batch) {
		batch.Queue("DELETE FROM ledger WHERE task = $1 AND fp = ANY($2::bigint[])", l.Task, values)
	}, func(ledger *Ledger) { ledger.drop(fps) })
}
