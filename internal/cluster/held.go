package cluster

import (
	"context"
	"time"

	"mailtask/internal/pgstore"
	"mailtask/internal/state"
)

// storeTimeout bounds a commit and the recording of a run's end, which go
// on after the run's own context has ended (its lease lost, its deadline
// passed).
const storeTimeout = 30 * time.Second

// detached is ctx without its cancellation, bounded by storeTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
}

// Held is a task's state as a run holds it under the node's lease: a
// popimap.Held whose commits are fenced. A commit of a node that no
// longer holds the lease (it ran out while the node was paused, another
// node claimed the task) writes nothing and fails with an error wrapping
// pgstore.ErrFenced; Confirm renews the lease, failing with
// pgstore.ErrLeaseLost once it is gone.
type Held struct {
	lease    *pgstore.Lease
	leaseFor time.Duration
}

// Held is the state of l's task as a run holds it.
func (n *Node) Held(l *pgstore.Lease) Held { return Held{lease: l, leaseFor: n.lease} }

func (h Held) Load(ctx context.Context) (*state.State, interface{ Has(state.Fingerprint) bool }, error) {
	st, ledger, err := h.lease.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	return st, ledger, nil
}

// Commit is fenced, so it goes on when the run's context ends: a node that
// finds its lease lost while it commits (it was paused) hears the
// database's answer, the refusal pgstore.ErrFenced that is counted, and
// not a context error in its place.
func (h Held) Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	return h.lease.Commit(ctx, st, fps)
}

func (h Held) Confirm(ctx context.Context) error { return h.lease.Renew(ctx, h.leaseFor) }

// Record commits the state with the run's end (fenced) and adds the run
// to the history (not fenced: a run that lost its lease is history too),
// in one transaction when the fence lets it, whether or not the run's
// context has ended.
func (h Held) Record(ctx context.Context, st *state.State) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	if st.LastRun == nil {
		return h.lease.Commit(ctx, st, nil)
	}
	return h.lease.CommitRun(ctx, st, *st.LastRun)
}
