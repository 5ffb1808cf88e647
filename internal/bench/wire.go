package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// Fetched is what a bare client received.
type Fetched struct {
	Messages int
	Bytes    int64 // message bytes, as the server sent them
}

// The bare clients below are the wire limit: the least work a client can do
// to receive every message once. They parse no more of the protocol than
// they must and throw every message away.

// WireIMAP logs in over implicit TLS, examines INBOX and fetches every
// message with one FETCH 1:* BODY.PEEK[] command.
func WireIMAP(ctx context.Context, addr string, conf *tls.Config, user, pass string) (Fetched, error) {
	c, err := dialWire(ctx, addr, conf)
	if err != nil {
		return Fetched{}, err
	}
	defer c.Close()
	var f Fetched
	steps := []struct {
		cmd   string
		fetch bool
	}{
		{"LOGIN " + quote(user) + " " + quote(pass), false},
		{"EXAMINE INBOX", false},
		{"FETCH 1:* BODY.PEEK[]", true},
		{"LOGOUT", false},
	}
	if _, err := c.r.ReadString('\n'); err != nil {
		return f, fmt.Errorf("IMAP greeting: %w", err)
	}
	for i, s := range steps {
		tag := "w" + strconv.Itoa(i)
		if _, err := fmt.Fprintf(c.w, "%s %s\r\n", tag, s.cmd); err != nil {
			return f, err
		}
		if err := c.w.Flush(); err != nil {
			return f, err
		}
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				return f, fmt.Errorf("IMAP %s: %w", strings.Fields(s.cmd)[0], err)
			}
			if n, ok := literal(line); ok {
				if _, err := c.r.Discard(int(n)); err != nil {
					return f, fmt.Errorf("IMAP FETCH: %w", err)
				}
				if s.fetch {
					f.Messages++
					f.Bytes += n
				}
				continue
			}
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					return f, fmt.Errorf("IMAP %s: %s", strings.Fields(s.cmd)[0], strings.TrimSpace(line))
				}
				break
			}
		}
	}
	return f, nil
}

// WirePOP3 logs in over implicit TLS and retrieves every message, all the
// RETRs sent at once (Dovecot allows pipelining), so that no message waits
// on a round trip: the fastest a client can go.
func WirePOP3(ctx context.Context, addr string, conf *tls.Config, user, pass string) (Fetched, error) {
	c, err := dialWire(ctx, addr, conf)
	if err != nil {
		return Fetched{}, err
	}
	defer c.Close()
	var f Fetched
	if _, err := c.status(""); err != nil {
		return f, err
	}
	if _, err := c.status("USER " + user); err != nil {
		return f, err
	}
	if _, err := c.status("PASS " + pass); err != nil {
		return f, errors.New("POP3 PASS refused")
	}
	stat, err := c.status("STAT")
	if err != nil {
		return f, err
	}
	var count int
	if _, err := fmt.Sscanf(stat, "+OK %d", &count); err != nil {
		return f, fmt.Errorf("POP3 STAT: %q", stat)
	}
	// A goroutine writes the commands, so that neither side can block the
	// other however many there are.
	sent := make(chan error, 1)
	go func() {
		for i := 1; i <= count; i++ {
			if _, err := io.WriteString(c.w, "RETR "+strconv.Itoa(i)+"\r\n"); err != nil {
				sent <- err
				return
			}
		}
		sent <- c.w.Flush()
	}()
	for i := 1; i <= count; i++ {
		if _, err := c.status(""); err != nil {
			return f, fmt.Errorf("POP3 RETR %d: %w", i, err)
		}
		for {
			line, err := c.r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				f.Bytes += int64(len(line))
				continue
			}
			if err != nil {
				return f, fmt.Errorf("POP3 RETR %d: %w", i, err)
			}
			if len(line) == 3 && line[0] == '.' {
				break
			}
			f.Bytes += int64(len(line))
			if line[0] == '.' {
				f.Bytes-- // dot-stuffing
			}
		}
		f.Messages++
	}
	if err := <-sent; err != nil {
		return f, err
	}
	_, err = c.status("QUIT")
	return f, err
}

// POP3UIDLs returns the server's UIDL listing, in message order.
func POP3UIDLs(ctx context.Context, addr string, conf *tls.Config, user, pass string) ([]string, error) {
	c, err := dialWire(ctx, addr, conf)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for _, cmd := range []string{"", "USER " + user, "PASS " + pass, "UIDL"} {
		if _, err := c.status(cmd); err != nil {
			return nil, err
		}
	}
	var uidls []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "." {
			break
		}
		_, id, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("POP3 UIDL line %q", line)
		}
		uidls = append(uidls, id)
	}
	_, err = c.status("QUIT")
	return uidls, err
}

// IMAPUIDValidity returns INBOX's UIDVALIDITY.
func IMAPUIDValidity(ctx context.Context, addr string, conf *tls.Config, user, pass string) (uint32, error) {
	c, err := dialWire(ctx, addr, conf)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	fmt.Fprintf(c.w, "v1 LOGIN %s %s\r\nv2 EXAMINE INBOX\r\nv3 LOGOUT\r\n", quote(user), quote(pass))
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	var v uint32
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if _, rest, ok := strings.Cut(line, "[UIDVALIDITY "); ok {
			num, _, _ := strings.Cut(rest, "]")
			n, _ := strconv.ParseUint(num, 10, 32)
			v = uint32(n)
		}
		if strings.HasPrefix(line, "v2 ") && !strings.HasPrefix(line, "v2 OK") {
			return 0, fmt.Errorf("IMAP EXAMINE: %s", strings.TrimSpace(line))
		}
		if strings.HasPrefix(line, "v3 ") {
			break
		}
	}
	if v == 0 {
		return 0, errors.New("IMAP EXAMINE INBOX reported no UIDVALIDITY")
	}
	return v, nil
}

// ClientTLS trusts only the CA in caFile and expects the certificate of
// localhost, as the test servers present it.
func ClientTLS(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}, nil
}

type wireConn struct {
	net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	stop func() bool
}

// Close also stops watching the context.
func (c *wireConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

func dialWire(ctx context.Context, addr string, conf *tls.Config) (*wireConn, error) {
	d := tls.Dialer{Config: conf}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// Nothing may outlive ctx, however the server behaves.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return &wireConn{Conn: conn, r: bufio.NewReaderSize(conn, 64*1024), w: bufio.NewWriter(conn), stop: stop}, nil
}

// status sends cmd (none for the greeting) and reads a POP3 status line.
func (c *wireConn) status(cmd string) (string, error) {
	if cmd != "" {
		if _, err := io.WriteString(c.w, cmd+"\r\n"); err != nil {
			return "", err
		}
		if err := c.w.Flush(); err != nil {
			return "", err
		}
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "+OK") {
		verb, _, _ := strings.Cut(cmd, " ")
		return "", fmt.Errorf("POP3 %s: %s", verb, strings.TrimSpace(line))
	}
	return line, nil
}

// literal reports the size of the literal an IMAP line announces.
func literal(line string) (int64, bool) {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(line[open+1:len(line)-1], 10, 64)
	return n, err == nil && n >= 0
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
