package pop3

import (
	"context"
	"net"
	"sync"
	"time"
)

// deadlineConn bounds every Read and Write on the connection by the
// inactivity timeout and by the deadline of the context of the operation
// in progress, and aborts a blocked call when that context is cancelled.
// Deadlines are renewed on each call, so a long RETR body that keeps
// flowing never times out while a stalled one fails within the timeout.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu        sync.Mutex
	gen       uint64    // counts bind calls, so a stale cancellation is ignored
	limit     time.Time // the bound context's deadline; zero if none
	cancelled bool
}

// bind makes ctx govern the connection until release is called.
func (d *deadlineConn) bind(ctx context.Context) (release func()) {
	d.mu.Lock()
	d.gen++
	gen := d.gen
	d.limit, _ = ctx.Deadline()
	d.cancelled = false
	d.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			d.cancelled = true
			// A deadline in the past wakes a Read or Write already blocked.
			_ = d.Conn.SetDeadline(time.Unix(1, 0))
		}
	})
	return func() {
		stop()
		d.mu.Lock()
		if d.gen == gen {
			d.gen++
			d.limit = time.Time{}
		}
		d.mu.Unlock()
	}
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	d.mu.Lock()
	ok := d.arm(d.Conn.SetReadDeadline)
	d.mu.Unlock()
	if !ok {
		return 0, context.Canceled
	}
	return d.Conn.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	d.mu.Lock()
	ok := d.arm(d.Conn.SetWriteDeadline)
	d.mu.Unlock()
	if !ok {
		return 0, context.Canceled
	}
	return d.Conn.Write(p)
}

// arm sets the next deadline with set, under d.mu so that a concurrent
// cancellation cannot be overwritten; it reports false once cancelled.
func (d *deadlineConn) arm(set func(time.Time) error) bool {
	if d.cancelled {
		return false
	}
	t := time.Now().Add(d.timeout)
	if !d.limit.IsZero() && d.limit.Before(t) {
		t = d.limit
	}
	_ = set(t)
	return true
}
