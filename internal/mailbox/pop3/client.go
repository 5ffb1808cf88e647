package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"mailtask/internal/mailbox"
)

// Options configure a connection.
type Options struct {
	TLS *tls.Config // for implicit TLS and STLS; nil means system roots, verifying the host
	// Security is "implicit" (TLS from the first byte, port 995),
	// "starttls" (STLS after the greeting, port 110) or "none"; "" means
	// "implicit".
	Security string
	// Timeout bounds each wait for the server: every command, and every
	// read while a message streams (default 60s).
	Timeout     time.Duration
	DialTimeout time.Duration // default 30s
}

// Client is one POP3 connection. It is not safe for concurrent use.
type Client struct {
	addr    string
	dc      *mailbox.IdleConn
	conn    net.Conn // dc, or TLS over it
	src     *unread  // conn, as br reads it
	br      *bufio.Reader
	bw      *bufio.Writer
	timeout time.Duration
	// broken is the error that left the conversation out of step (a
	// timeout, a dropped connection, a reply that is not POP3); every
	// later command fails with it.
	broken error
	body   *bodyReader // an unfinished RETR or TOP
	closed bool
	// pipelining is set when the server's CAPA lists PIPELINING (RFC
	// 2449); ahead holds the commands then sent before their turn, whose
	// replies are still to come (pipeline.go).
	pipelining bool
	ahead      []string
	// tls is set once the connection is encrypted.
	tls bool
}

// Dial connects to addr (host:port), reads the greeting and, with
// Security "starttls", upgrades the connection with STLS.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: bad server address %q: %w", addr, err)
	}
	security := opts.Security
	if security == "" {
		security = "implicit"
	}
	if security != "implicit" && security != "starttls" && security != "none" {
		return nil, fmt.Errorf("pop3 %s: unknown security %q (want implicit, starttls or none)", addr, opts.Security)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 30 * time.Second
	}
	tlsConfig := opts.TLS
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tlsConfig.ServerName == "" {
		tlsConfig = tlsConfig.Clone()
		tlsConfig.ServerName = host
	}

	d := net.Dialer{Timeout: opts.DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: connect to %s: %w", addr, err)
	}
	if security != "implicit" {
		// A TLS port would leave a plain-text client waiting its whole
		// timeout for a greeting.
		plain, err := mailbox.PlainGreeting(ctx, raw, addr, min(mailbox.GreetingQuiet, opts.Timeout))
		if err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("pop3 %s: greeting: %w", addr, err)
		}
		raw = plain
	}
	c := &Client{addr: addr, timeout: opts.Timeout}
	c.dc = mailbox.NewIdleConn(raw)
	c.setConn(c.dc)
	if err := c.open(ctx, security, tlsConfig); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	c.src = &unread{r: conn}
	c.br = bufio.NewReaderSize(c.src, 64<<10)
	c.bw = bufio.NewWriterSize(conn, 4<<10)
}

func (c *Client) open(ctx context.Context, security string, tlsConfig *tls.Config) error {
	if security == "implicit" {
		if err := c.handshake(ctx, tlsConfig); err != nil {
			return err
		}
	}
	release := c.dc.Guard(ctx, c.timeout)
	_, err := c.readStatus("greeting")
	release()
	if err != nil {
		err = c.fail(ctx, "greeting", err)
		if security != "implicit" && errors.Is(err, os.ErrDeadlineExceeded) {
			// The usual cause: a TLS port, silently awaiting a handshake.
			err = fmt.Errorf("%w (if this is a TLS port such as 995, use security \"implicit\")", err)
		}
		return err
	}
	if security != "starttls" {
		return nil
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		return err
	}
	if _, ok := caps["STLS"]; !ok {
		return fmt.Errorf("pop3 %s: server does not offer STLS, so the connection cannot be encrypted with security \"starttls\"; use \"implicit\" (usually port 995)", c.addr)
	}
	if _, err := c.cmd(ctx, "STLS"); err != nil {
		return err
	}
	// Anything already received after the +OK came in plain text, yet
	// would be taken as the server's first words over TLS: refuse it.
	if c.br.Buffered() > 0 {
		return c.fail(ctx, "STLS", &protocolError{"the server sent data after its STLS reply, before TLS began; refusing it as a possible injection"})
	}
	return c.handshake(ctx, tlsConfig)
}

func (c *Client) handshake(ctx context.Context, cfg *tls.Config) error {
	release := c.dc.Guard(ctx, c.timeout)
	defer release()
	tc := tls.Client(c.dc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return c.fail(ctx, "TLS handshake", err)
	}
	c.setConn(tc)
	c.tls = true
	return nil
}

// begin checks that a command may be sent and binds ctx to the connection.
func (c *Client) begin(ctx context.Context, cmd string) (release func(), err error) {
	switch {
	case c.closed:
		return nil, fmt.Errorf("pop3 %s: %s: connection already closed", c.addr, cmd)
	case c.broken != nil:
		return nil, fmt.Errorf("pop3 %s: %s: connection unusable after an earlier error: %w", c.addr, cmd, c.broken)
	case c.body != nil:
		return nil, fmt.Errorf("pop3 %s: %s: the body of %s must be read to the end or closed first", c.addr, cmd, c.body.cmd)
	}
	return c.dc.Guard(ctx, c.timeout), nil
}

// cmd sends line and reads a single-line reply, returning its text.
func (c *Client) cmd(ctx context.Context, line string) (string, error) {
	return c.cmdShown(ctx, line, line)
}

// cmdShown is cmd for a line holding a secret: errors show shown instead.
func (c *Client) cmdShown(ctx context.Context, line, shown string) (string, error) {
	release, err := c.begin(ctx, shown)
	if err != nil {
		return "", err
	}
	defer release()
	err = c.turn(line)
	var text string
	if err == nil {
		text, err = c.readStatus(shown)
	}
	if err != nil {
		return "", c.fail(ctx, shown, err)
	}
	return text, nil
}

// send writes the command lines in one write.
func (c *Client) send(lines ...string) error {
	for _, line := range lines {
		c.bw.WriteString(line)
		c.bw.WriteString("\r\n")
	}
	return c.bw.Flush()
}

// maxLine bounds a reply line; RFC 2449 allows 512 octets, and a longer
// line means something that is not a POP3 server.
const maxLine = 8 << 10

// readLine returns the next reply line without its line ending.
func (c *Client) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return nil, &protocolError{fmt.Sprintf("reply line longer than %d bytes", maxLine)}
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")), nil
}

// readStatus reads a +OK or -ERR line, returning the text after it.
func (c *Client) readStatus(cmd string) (string, error) {
	line, err := c.readLine()
	if err != nil {
		return "", err
	}
	if text, ok := status(line, "+OK"); ok {
		return text, nil
	}
	if text, ok := status(line, "-ERR"); ok {
		return "", &ServerError{Command: cmd, Text: text}
	}
	return "", unexpected(line)
}

func status(line []byte, word string) (string, bool) {
	if !bytes.HasPrefix(line, []byte(word)) {
		return "", false
	}
	rest := line[len(word):]
	if len(rest) > 0 && rest[0] != ' ' {
		return "", false
	}
	return strings.TrimSpace(string(rest)), true
}

// readMultiline reads the lines of a multi-line reply up to ".".
func (c *Client) readMultiline(each func(line []byte) error) error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return nil
			}
			line = line[1:]
		}
		if err := each(line); err != nil {
			return err
		}
	}
}

// protocolError is a reply that breaks the protocol.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

func unexpected(line []byte) error {
	const show = 80
	if len(line) > show {
		line = line[:show]
	}
	return &protocolError{fmt.Sprintf("unexpected reply %q: not a POP3 server, or something in between (wrong port or security setting?)", line)}
}

// fail turns err from cmd into the error returned to the caller. Anything
// but a -ERR leaves the conversation out of step, so the client is marked
// broken.
func (c *Client) fail(ctx context.Context, cmd string, err error) error {
	var se *ServerError
	if errors.As(err, &se) {
		return fmt.Errorf("pop3 %s: %w", c.addr, err)
	}
	dl, hasDL := ctx.Deadline()
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("pop3 %s: %s: %w", c.addr, cmd, context.Cause(ctx))
	case hasDL && !time.Now().Before(dl):
		err = fmt.Errorf("pop3 %s: %s: %w", c.addr, cmd, context.DeadlineExceeded)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("pop3 %s: %s: server did not answer within %s: %w", c.addr, cmd, c.timeout, err)
	default:
		err = fmt.Errorf("pop3 %s: %s: %w", c.addr, cmd, err)
	}
	c.broken = err
	return err
}

// Quit ends the session with QUIT, which makes the server apply the
// deletions (RFC 1939's UPDATE state), and closes the connection. A -ERR
// means some deletions may not have been applied.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.cmd(ctx, "QUIT")
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close drops the connection without QUIT: the server applies no
// deletions.
func (c *Client) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return c.dc.Close()
}
