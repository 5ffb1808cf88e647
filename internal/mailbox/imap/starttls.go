package imap

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"

	"mailtask/internal/mailbox"
)

// startTLS reads the server's greeting on conn, asks for STARTTLS and
// returns the TLS connection, handshake done. mailtask does this itself
// rather than through go-imap so that the TLS stream can be read through
// the same filters as an implicit-TLS one (codeFilter: Exchange's
// `OK [Error=...]` completions; saslConn): go-imap would own the upgraded
// connection. imapclient.New then reads the greeting afterStartTLS gives,
// which stands in for the one the server sent before TLS.
func startTLS(ctx context.Context, conn net.Conn, config *tls.Config) (net.Conn, error) {
	r := newLineReader(conn)
	line, err := readLine(r)
	if err != nil {
		return nil, fmt.Errorf("no IMAP greeting: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("* OK")) {
		return nil, fmt.Errorf("the server greeted with %q, not OK, so STARTTLS cannot follow", bytes.TrimSpace(line))
	}
	if _, err := io.WriteString(conn, "S0 STARTTLS\r\n"); err != nil {
		return nil, err
	}
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
		if bytes.HasPrefix(line, []byte("* ")) {
			continue // untagged data before the reply
		}
		if !bytes.HasPrefix(line, []byte("S0 OK")) {
			return nil, fmt.Errorf("the server refused STARTTLS: %q", bytes.TrimSpace(line))
		}
		break
	}
	// Anything the server sent after its OK and before the handshake came
	// in plain text, and would be read as if it had come over TLS
	// (CVE-2011-0411 and its kin): refuse it.
	if r.Buffered() > 0 {
		return nil, errors.New("the server sent data after its STARTTLS reply, before TLS began; refusing it as a possible injection")
	}
	tc := tls.Client(conn, config)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return afterStartTLS(tc)
}

// afterStartTLS asks the capabilities over the upgraded connection, as
// RFC 3501 has a client do after STARTTLS, and returns the connection
// with a greeting for go-imap to read that carries them. Given a greeting
// without them, go-imap v2.0.0-beta.8 asks them itself from a goroutine of
// its own, whose result it hands over with a data race (the race detector
// caught it about once in a hundred runs of this package's tests).
func afterStartTLS(tc *tls.Conn) (net.Conn, error) {
	if _, err := io.WriteString(tc, "S1 CAPABILITY\r\n"); err != nil {
		return nil, err
	}
	r := newLineReader(tc)
	caps := ""
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, fmt.Errorf("CAPABILITY after TLS began: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if rest, ok := bytes.CutPrefix(line, []byte("* CAPABILITY ")); ok {
			caps = string(rest)
			continue
		}
		if bytes.HasPrefix(line, []byte("* ")) {
			continue // other untagged data
		}
		if !bytes.HasPrefix(line, []byte("S1 OK")) || caps == "" {
			return nil, fmt.Errorf("the server answered CAPABILITY after TLS began with %q", line)
		}
		break
	}
	greeting := "* OK [CAPABILITY " + caps + "] TLS started\r\n"
	rest, _ := r.Peek(r.Buffered()) // nothing, unless the server sent unasked
	return mailbox.WithPrefix(tc, append([]byte(greeting), rest...)), nil
}
