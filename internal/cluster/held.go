package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
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
	stored   *stored
	end      *End
}

// stored is the state as the database has it, as far as this run knows:
// as it loaded or last committed it, encoded.
type stored struct {
	mu    sync.Mutex
	state []byte
}

// Held is the state of l's task as a run holds it; with end, the run's
// record gives back the lease and its connection slot (End).
func (n *Node) Held(l *pgstore.Lease, end *End) Held {
	return Held{lease: l, leaseFor: n.lease, stored: &stored{}, end: end}
}

// End is how a run under a lease claimed for it alone ends: the commit
// of its record (Held.Record) also gives back the lease, the task due
// next when NextDue says, and Slot, the run's own connection slot, whose
// connection has closed by then: one round trip where giving each back
// after the run took two more.
type End struct {
	// Stop stops the lease's renewals and returns its loss, if it was
	// lost (Node.Hold's stop): then nothing is given back.
	Stop    func() error
	NextDue func() time.Time
	Slot    *Slot // nil if the run holds none
	ended   atomic.Bool
}

// Ended reports whether the run's record gave the lease back (and the
// slot, which then needs no release of its own).
func (e *End) Ended() bool { return e != nil && e.ended.Load() }

// ending returns what the record gives back, with what to call once it
// has; nil if it gives nothing back.
func (e *End) ending() (*pgstore.Ending, func()) {
	if e == nil || e.Stop() != nil {
		return nil, nil
	}
	end := &pgstore.Ending{NextDue: e.NextDue()}
	slotGiven := func() {}
	if e.Slot != nil {
		var sl *pgstore.Slot
		sl, slotGiven = e.Slot.handOver()
		end.Slots = []*pgstore.Slot{sl}
	}
	return end, func() {
		slotGiven()
		e.ended.Store(true)
	}
}

func (h Held) Load(ctx context.Context) (*state.State, interface{ Has(state.Fingerprint) bool }, error) {
	st, ledger, err := h.lease.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	h.stored.set(st)
	return st, ledger, nil
}

// Commit is fenced, so it goes on when the run's context ends: a node that
// finds its lease lost while it commits (it was paused) hears the
// database's answer, the refusal pgstore.ErrFenced that is counted, and
// not a context error in its place.
//
// A commit of no messages that would write the state as the database
// has it already (a run of a mailbox with nothing new) is not sent: it
// would change nothing, and before each change to the mailbox the run
// makes sure it still holds the task (Confirm), and its end is committed
// behind the fence (Record).
func (h Held) Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	if len(fps) == 0 && len(st.UIDLs.Changes()) == 0 && h.stored.same(st) {
		return nil
	}
	ctx, cancel := detached(ctx)
	defer cancel()
	if err := h.lease.Commit(ctx, st, fps); err != nil {
		return err
	}
	h.stored.set(st)
	return nil
}

// set remembers st as the database has it.
func (s *stored) set(st *state.State) {
	data, err := json.Marshal(st)
	if err != nil {
		data = nil // never the same: the next commit is sent
	}
	s.mu.Lock()
	s.state = data
	s.mu.Unlock()
}

// same reports whether st is the state the database has: its encoding
// holds every field the store writes but the UIDLs, whose changes are
// kept apart.
func (s *stored) same(st *state.State) bool {
	data, err := json.Marshal(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	return err == nil && s.state != nil && bytes.Equal(data, s.state)
}

// Confirm renews the lease before a change to the mailbox. A renewal that
// fails for another reason than the lease's loss (a connection the
// database ended: a restart, a failover, pg_terminate_backend; each dead
// connection of the pool fails one query) is tried again, as the lease's
// keeper does, until the lease would have run out or the run's context
// ends (the keeper ends it once the lease is lost): a run is not failed
// by one connection the database dropped.
func (h Held) Confirm(ctx context.Context) error {
	deadline := time.Now().Add(h.leaseFor)
	for attempt := 1; ; attempt++ {
		err := h.lease.Renew(ctx, h.leaseFor)
		if err == nil || errors.Is(err, pgstore.ErrLeaseLost) || ctx.Err() != nil ||
			time.Now().Add(pgstore.RetryWait(attempt)).After(deadline) || !pgstore.Pause(ctx, attempt) {
			return err
		}
	}
}

// Record commits the state with the run's end (fenced) and adds the run
// to the history (not fenced: a run that lost its lease is history too),
// in one transaction when the fence lets it, whether or not the run's
// context has ended; with an End, that transaction gives back the lease
// and the run's slot, unless the run is tried again (again), under them.
func (h Held) Record(ctx context.Context, st *state.State, again bool) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	if st.LastRun == nil {
		return h.lease.Commit(ctx, st, nil)
	}
	var (
		ending *pgstore.Ending
		given  func()
	)
	if !again {
		ending, given = h.end.ending()
	}
	if err := h.lease.CommitRun(ctx, st, *st.LastRun, ending); err != nil {
		return err
	}
	if given != nil {
		given()
	}
	return nil
}
