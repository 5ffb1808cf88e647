package pgstore

import (
	"errors"
	"fmt"
	"time"
)

// ErrFenced is a commit refused because the node no longer holds the
// task's lease under the epoch it claimed: the lease ran out (by the
// database's clock) or another node has claimed the task since. Nothing
// of the commit was written; the run must stop without touching the
// mailbox.
var ErrFenced = errors.New("commit refused: this node no longer holds the task's lease (fenced)")

// ErrLeaseLost is a renewal or release refused because the lease ran out
// or another node has claimed the task since.
var ErrLeaseLost = errors.New("the task's lease was lost")

// ErrNoSlot is TryAcquireSlot's answer when an account's connections are
// all in use across the cluster.
var ErrNoSlot = errors.New("every connection slot of the account is in use across the cluster")

// HeldError is a task that another holder leases at the moment.
type HeldError struct {
	Task   string
	Holder string
	Until  time.Time // by the database's clock
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("task %q is running on %s (its lease runs until %s)", e.Task, e.Holder, e.Until.Format(time.RFC3339))
}
