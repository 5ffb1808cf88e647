package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"mailtask/internal/pgstore"
)

// slotPoll is how often a wait for a connection slot asks again.
const slotPoll = 500 * time.Millisecond

// releaseTimeout bounds giving a slot back, which happens also after the
// context it was taken in has ended.
const releaseTimeout = 10 * time.Second

// Slot takes one of account's max connections, counted across the
// cluster, waiting until one is free or ctx ends, and keeps it renewed
// until it is released. Microsoft counts an account's connections
// across every client, so each connection a node opens to a mailbox
// takes one: a run's own, its further ones, an IDLE watcher's. If the
// slot is lost (the node stalled past its lease, or could not reach the
// database for that long), lost is called with why, and the connection
// should be closed: another node may have the slot by then.
func (n *Node) Slot(ctx context.Context, account string, max int, lost func(error)) (*Slot, error) {
	sl, err := n.store.AcquireSlot(ctx, account, max, n.lease, slotPoll)
	if err != nil {
		return nil, err
	}
	return n.keepSlot(sl, lost), nil
}

// TrySlot is Slot without the wait: nil when every connection of the
// account is in use across the cluster. With preload, the lease of the
// run the connection is for, the same round trip reads the run's state
// (pgstore's TryAcquireSlot).
func (n *Node) TrySlot(ctx context.Context, account string, max int, lost func(error), preload *pgstore.Lease) (*Slot, error) {
	sl, err := n.store.TryAcquireSlot(ctx, account, max, n.lease, preload)
	if errors.Is(err, pgstore.ErrNoSlot) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return n.keepSlot(sl, lost), nil
}

// Slot is a connection slot the node holds and keeps renewed.
type Slot struct {
	slot *pgstore.Slot
	stop func()
	mu   sync.Mutex
	gone bool // given back by a run's last commit (Ending)
}

// keepSlot renews sl until it is stopped.
func (n *Node) keepSlot(sl *pgstore.Slot, lost func(error)) *Slot {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sl.Keep(ctx, n.lease, n.lease/3); err != nil && lost != nil {
			lost(err)
		}
	}()
	return &Slot{slot: sl, stop: sync.OnceFunc(func() { stop(); <-done })}
}

// Release stops the renewals and gives the slot back, unless a run's
// last commit has.
func (s *Slot) Release() {
	s.stop()
	s.mu.Lock()
	gone := s.gone
	s.mu.Unlock()
	if gone {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	// A slot not given back runs out with its lease.
	s.slot.Release(ctx)
}

// handOver stops the renewals and returns the slot, for a run's last
// commit to give back (Ending); given says whether it did.
func (s *Slot) handOver() (sl *pgstore.Slot, given func()) {
	s.stop()
	return s.slot, func() {
		s.mu.Lock()
		s.gone = true
		s.mu.Unlock()
	}
}
