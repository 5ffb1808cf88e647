package objsink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// DefaultStallTimeout is how long a connection to the object store may go
// without moving a byte, either way, before its request fails. net/http
// has no such bound: a store that stops answering (a frozen VM, a
// blackholed route, a process stopped mid-request) would hold a run, and
// its task's lease, until the task's timeout, without a line in the log.
// The SDK retries a stalled request twice, so a put gives up after about
// three times this.
const DefaultStallTimeout = time.Minute

// sendChunk is how much of a request's body one sendfile(2) may send
// under one deadline: a transfer moving at least sendChunk per stall
// timeout (4 KiB/s at a minute) never stalls.
const sendChunk = 256 << 10

// stallingDialer wraps dial so that its connections fail a read or a
// write that waits longer than timeout for progress.
func stallingDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, timeout: timeout}, nil
	}
}

// stallConn is a connection on which something must move, one way or
// the other, every timeout. Moving either way keeps both directions
// alive: a put's response is read while its body is still being sent,
// for as long as that takes. A connection idle in the client's pool is
// read too, waiting for the server to close it: it is closed after
// timeout, and the next request dials afresh.
type stallConn struct {
	net.Conn
	timeout time.Duration
	// stall is set once a deadline passes. The client then closes the
	// connection, and whatever it was doing on it the other way fails
	// with a closed connection, which is the same stall.
	stall atomic.Pointer[StallError]
}

// moved gives both directions timeout from now.
func (c *stallConn) moved() error { return c.Conn.SetDeadline(time.Now().Add(c.timeout)) }

func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.moved(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	return n, c.stalled(err)
}

func (c *stallConn) Write(p []byte) (int, error) {
	if err := c.moved(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	return n, c.stalled(err)
}

// ReadFrom keeps the connection's own ReadFrom, which net/http reaches
// for a request's body and which sends a spool file with sendfile(2)
// (putobject.go), a chunk at a time, each chunk counting as a move.
func (c *stallConn) ReadFrom(r io.Reader) (int64, error) {
	to, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{c}, r)
	}
	// The kernel's sendfile looks through one *io.LimitedReader to the
	// file: net/http's, which bounds the body to its length, is replaced
	// by one per chunk rather than wrapped.
	src, left := r, int64(-1)
	outer, limited := r.(*io.LimitedReader)
	if limited {
		src, left = outer.R, outer.N
	}
	var sent int64
	for left != 0 {
		chunk := int64(sendChunk)
		if left > 0 {
			chunk = min(chunk, left)
		}
		if err := c.moved(); err != nil {
			return sent, err
		}
		n, err := to.ReadFrom(&io.LimitedReader{R: src, N: chunk})
		sent += n
		if left > 0 {
			left -= n
		}
		if limited {
			outer.N = left
		}
		if err != nil {
			return sent, c.stalled(err)
		}
		if n < chunk {
			break // the body ended
		}
	}
	return sent, nil
}

// stalled turns a deadline that passed, and a failure on the connection
// after one passed, into the stall.
func (c *stallConn) stalled(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.stall.CompareAndSwap(nil, &StallError{After: c.timeout})
	}
	if s := c.stall.Load(); s != nil {
		return s
	}
	return err
}

// StallError is a connection to the object store on which nothing moved
// for After. It is a timeout to the SDK, which retries the request.
type StallError struct{ After time.Duration }

func (e *StallError) Error() string {
	return fmt.Sprintf("nothing moved to or from the object store for %s", e.After)
}

// Timeout makes the SDK's retryer take it for a timeout.
func (e *StallError) Timeout() bool { return true }

func (e *StallError) Unwrap() error { return os.ErrDeadlineExceeded }
