package mailbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// GreetingQuiet is how long a plain-text connection may stay silent before
// PlainGreeting asks whether the port speaks TLS. Real servers greet in
// milliseconds.
const GreetingQuiet = 3 * time.Second

// ErrTLSPort is a plain-text connection (tls = "none" or "starttls") to a
// port that speaks TLS from the first byte.
var ErrTLSPort = errors.New(`this port speaks TLS: tls = "implicit" (or the plain-text port with tls = "starttls")`)

// PlainGreeting waits, for at most quiet, for the first bytes a server
// sends on conn, a plain-text connection, and returns conn with them
// still to be read. A port that speaks TLS sends nothing (it waits for
// the client's handshake), so a client expecting a greeting would wait
// its whole timeout: after quiet without a byte, a second connection
// tries a TLS handshake with addr, sending nothing else, and a TLS answer
// fails at once with ErrTLSPort. Bytes that start a TLS record fail the
// same way. Otherwise the server is only slow, and the caller goes on
// waiting for the greeting as usual.
func PlainGreeting(ctx context.Context, conn net.Conn, addr string, quiet time.Duration) (net.Conn, error) {
	first := make([]byte, 512)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(quiet))
	n, err := conn.Read(first)
	_ = conn.SetReadDeadline(time.Time{})
	stop()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	var ne net.Error
	switch {
	case n > 0:
		if n >= 2 && (first[0] == 0x15 || first[0] == 0x16) && first[1] == 0x03 {
			return nil, ErrTLSPort
		}
		return WithPrefix(conn, first[:n]), nil
	case errors.As(err, &ne) && ne.Timeout():
		if speaksTLS(ctx, addr, quiet) {
			return nil, fmt.Errorf("no greeting within %s: %w", quiet, ErrTLSPort)
		}
		return conn, nil
	default:
		return nil, err
	}
}

// speaksTLS reports whether a TLS server answers a handshake at addr
// within limit. Its certificate is not checked: nothing but the
// handshake is sent.
func speaksTLS(ctx context.Context, addr string, limit time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	err = tc.HandshakeContext(ctx)
	var alert tls.AlertError
	return err == nil || errors.As(err, &alert)
}

// WithPrefix returns conn reading prefix before what conn reads: bytes
// read ahead and handed back.
func WithPrefix(conn net.Conn, prefix []byte) net.Conn {
	return &prefixConn{Conn: conn, prefix: prefix}
}

type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
