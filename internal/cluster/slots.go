package cluster

import (
	"context"
	"errors"
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
// until release is called. Microsoft counts an account's connections
// across every client, so each connection a node opens to a mailbox
// takes one: a run's own, its further ones, an IDLE watcher's. If the
// slot is lost (the node stalled past its lease, or could not reach the
// database for that long), lost is called with why, and the connection
// should be closed: another node may have the slot by then.
func (n *Node) Slot(ctx context.Context, account string, max int, lost func(error)) (release func(), err error) {
	sl, err := n.store.AcquireSlot(ctx, account, max, n.lease, slotPoll)
	if err != nil {
		return nil, err
	}
	return n.keepSlot(sl, lost), nil
}

// TrySlot is Slot without the wait: ok is false when every connection of
// the account is in use across the cluster.
func (n *Node) TrySlot(ctx context.Context, account string, max int, lost func(error)) (release func(), ok bool, err error) {
	sl, err := n.store.TryAcquireSlot(ctx, account, max, n.lease)
	if errors.Is(err, pgstore.ErrNoSlot) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return n.keepSlot(sl, lost), true, nil
}

// keepSlot renews sl until the returned release gives it back.
func (n *Node) keepSlot(sl *pgstore.Slot, lost func(error)) (release func()) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sl.Keep(ctx, n.lease, n.lease/3); err != nil && lost != nil {
			lost(err)
		}
	}()
	return func() {
		stop()
		<-done
		rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		// A slot not given back runs out with its lease.
		sl.Release(rctx)
	}
}
