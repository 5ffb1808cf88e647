package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"mailtask/internal/pgstore"
)

// Hold keeps l renewed, every third of the node's lease, until stop is
// called, and returns the context to run the task in: it is cancelled the
// moment the lease is lost (a renewal refused, or none got through before
// the lease would have run out), with a cause wrapping
// pgstore.ErrLeaseLost. stop ends the renewals and returns that loss, if
// there was one; it may be called more than once.
func (n *Node) Hold(ctx context.Context, l *pgstore.Lease) (held context.Context, stop func() (lost error)) {
	held, cancel := context.WithCancelCause(ctx)
	keep, stopKeeping := context.WithCancel(held)
	done := make(chan error, 1)
	go func() {
		err := l.Keep(keep, n.lease, n.lease/3)
		if err != nil {
			cancel(err)
		}
		done <- err
	}()
	return held, sync.OnceValue(func() error {
		stopKeeping()
		err := <-done
		cancel(nil)
		return err
	})
}

// LeaseLost returns the error of a run whose context Hold cancelled
// because the lease was lost: err, from the run, says what the
// cancellation broke; the loss says why. Other errors are returned as
// they are.
func LeaseLost(held context.Context, err error) error {
	cause := context.Cause(held)
	if err == nil || !errors.Is(cause, pgstore.ErrLeaseLost) || errors.Is(err, pgstore.ErrLeaseLost) {
		return err
	}
	return fmt.Errorf("%w; the run was stopped (%v)", cause, err)
}
