package mailbox

import (
	"context"
	"net"
	"sync"
	"time"
)

// IdleConn is a connection whose deadlines are owned by mailtask, not by
// the protocol library on top of it. While armed, every Read and Write may
// wait at most the timeout for progress, so a stalled server fails within
// the timeout while a 150 MB message streaming steadily never does.
// Disarmed, the connection waits forever, which is right between commands,
// when no answer is expected.
//
// The protocol library's own deadline calls are ignored: go-imap, for one,
// hard-codes 30 seconds per response and 5 minutes per literal, and would
// also drop a connection left quiet for 30 seconds while a batch is written
// to disk.
type IdleConn struct {
	net.Conn
	mu      sync.Mutex
	timeout time.Duration // 0 while disarmed
}

// NewIdleConn wraps c, disarmed.
func NewIdleConn(c net.Conn) *IdleConn { return &IdleConn{Conn: c} }

// Arm starts bounding every wait by timeout, including a Read already
// blocked.
func (c *IdleConn) Arm(timeout time.Duration) {
	c.mu.Lock()
	c.timeout = timeout
	c.mu.Unlock()
	_ = c.Conn.SetDeadline(time.Now().Add(timeout))
}

// Guard bounds one operation: it arms c with timeout and closes it should
// ctx end first (a cancelled run must not wait on a stalled server), until
// release is called, which disarms it.
func (c *IdleConn) Guard(ctx context.Context, timeout time.Duration) (release func()) {
	c.Arm(timeout)
	stop := context.AfterFunc(ctx, func() { c.Conn.Close() })
	return func() {
		stop()
		c.Disarm()
	}
}

// Disarm lets the connection wait for the server indefinitely.
func (c *IdleConn) Disarm() {
	c.mu.Lock()
	c.timeout = 0
	c.mu.Unlock()
	_ = c.Conn.SetDeadline(time.Time{})
}

func (c *IdleConn) current() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeout
}

func (c *IdleConn) Read(p []byte) (int, error) {
	if t := c.current(); t > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(t))
	}
	return c.Conn.Read(p)
}

func (c *IdleConn) Write(p []byte) (int, error) {
	if t := c.current(); t > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(t))
	}
	return c.Conn.Write(p)
}

// SetDeadline, SetReadDeadline and SetWriteDeadline are no-ops: see IdleConn.
func (c *IdleConn) SetDeadline(time.Time) error      { return nil }
func (c *IdleConn) SetReadDeadline(time.Time) error  { return nil }
func (c *IdleConn) SetWriteDeadline(time.Time) error { return nil }
