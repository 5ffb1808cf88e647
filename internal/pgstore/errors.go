package pgstore

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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

// ConnectionEnded reports whether err is the database ending or refusing
// the connection rather than refusing the statements: an administrator
// or a shutdown ending the session (SQLSTATE class 57, as after
// pg_terminate_backend or a restart, which each dead connection of a pool
// meets once), the connection failing (class 08, or the network), or
// none to be had. A batch whose every statement can be sent twice may be
// sent again on another connection.
func ConnectionEnded(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return strings.HasPrefix(pgErr.Code, "57") || strings.HasPrefix(pgErr.Code, "08")
	}
	_, connect := errors.AsType[*pgconn.ConnectError](err)
	_, network := errors.AsType[*net.OpError](err)
	return connect || network || pgconn.SafeToRetry(err) || errors.Is(err, io.ErrUnexpectedEOF)
}
