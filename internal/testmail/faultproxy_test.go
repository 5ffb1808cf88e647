package testmail

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// proxyClient is a raw IMAP client behind a FaultProxy, reading what the
// proxy really sends.
type proxyClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

const proxyTestTimeout = 10 * time.Second

// startProxied starts an in-process IMAP server holding msgs and a TLS
// proxy in front of it with faults, and connects a raw client that has
// logged in.
func startProxied(t *testing.T, faults []Fault, msgs ...[]byte) (*FaultProxy, *proxyClient) {
	t.Helper()
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := startIMAP(t, IMAPOptions{Username: "u", Password: "p"})
	for _, m := range msgs {
		if _, err := srv.Append("INBOX", m); err != nil {
			t.Fatal(err)
		}
	}
	p, err := StartFaultProxy(FaultProxyOptions{Target: srv.Addr, TLS: ca.ServerTLS, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, connectProxied(t, p, ca.ClientTLS())
}

// connectProxied connects a raw client to p, over TLS with conf unless it
// is nil, and reads the greeting.
func connectProxied(t *testing.T, p *FaultProxy, conf *tls.Config) *proxyClient {
	t.Helper()
	var conn net.Conn
	var err error
	if conf != nil {
		conn, err = tls.Dial("tcp", p.Addr(), conf)
	} else {
		conn, err = net.Dial("tcp", p.Addr())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(proxyTestTimeout)); err != nil {
		t.Fatal(err)
	}
	c := &proxyClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.line() // greeting
	return c
}

func (c *proxyClient) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *proxyClient) line() string {
	c.t.Helper()
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, s)
	}
	return s
}

// until reads lines, and the literals they announce, up to the tagged
// completion of tag, and returns everything read.
func (c *proxyClient) until(tag string) string {
	c.t.Helper()
	var all strings.Builder
	for {
		s := c.line()
		all.WriteString(s)
		if n, ok := literalSize([]byte(s)); ok {
			buf := make([]byte, n)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				c.t.Fatal(err)
			}
			all.Write(buf)
			continue
		}
		if strings.HasPrefix(s, tag+" ") {
			return all.String()
		}
	}
}

func (c *proxyClient) login() {
	c.t.Helper()
	c.send("a1 LOGIN u p")
	if got := c.until("a1"); !strings.Contains(got, "a1 OK") {
		c.t.Fatalf("LOGIN: %q", got)
	}
	c.send("a2 SELECT INBOX")
	c.until("a2")
}

func msg(subject string, size int) []byte {
	return NewMessage(subject, Attachment{Name: "x.bin", Content: []byte(strings.Repeat("x", size))})
}

func TestFaultProxyPassesCleanConnections(t *testing.T) {
	m := msg("clean", 5000)
	p, c := startProxied(t, nil, m)
	c.login()
	c.send("a3 UID FETCH 1:* (UID BODY.PEEK[])")
	got := c.until("a3")
	if !strings.Contains(got, string(m)) || !strings.Contains(got, "a3 OK") {
		t.Errorf("FETCH through a clean proxy: %d bytes, message missing", len(got))
	}
	if p.Connections() != 1 || p.Struck() != 0 {
		t.Errorf("connections %d, struck %d; want 1, 0", p.Connections(), p.Struck())
	}
}

func TestFaultProxyUIDAfterLiteral(t *testing.T) {
	m := msg("late uid", 3000)
	p, c := startProxied(t, []Fault{{Kind: FaultUIDAfterLiteral, On: "UID FETCH"}}, m)
	c.login()
	c.send("a3 UID FETCH 1 (UID BODY.PEEK[])")
	got := c.until("a3")
	head, rest, ok := strings.Cut(got, "\r\n")
	if !ok || strings.Contains(head, "UID") || !strings.HasSuffix(head, "{"+strconv.Itoa(len(m))+"}") {
		t.Fatalf("first FETCH line %q still carries UID or lost the literal", head)
	}
	if !strings.HasPrefix(rest, string(m)+" UID 1)\r\n") {
		t.Errorf("after the literal: %q, want \" UID 1)\"", strings.TrimPrefix(rest, string(m)))
	}
	if p.Struck() != 1 {
		t.Errorf("struck %d, want 1", p.Struck())
	}
}

func TestFaultProxyAnswer(t *testing.T) {
	p, c := startProxied(t, []Fault{{Kind: FaultAnswer, On: "UID FETCH", Nth: 2, Reply: "{tag} NO [UNAVAILABLE] try later"}}, msg("a", 10))
	c.login()
	c.send("a3 UID FETCH 1 (UID)")
	if got := c.until("a3"); !strings.Contains(got, "a3 OK") {
		t.Errorf("first UID FETCH answered %q, want the server's OK", got)
	}
	c.send("a4 UID FETCH 1 (UID)")
	if got := c.until("a4"); got != "a4 NO [UNAVAILABLE] try later\r\n" {
		t.Errorf("second UID FETCH answered %q", got)
	}
	// The session goes on: the server never saw the answered command.
	c.send("a5 NOOP")
	if got := c.until("a5"); !strings.Contains(got, "a5 OK") {
		t.Errorf("NOOP after the fault: %q", got)
	}
	if p.Struck() != 1 {
		t.Errorf("struck %d, want 1", p.Struck())
	}
}

// A client that pipelines gets the answer where the server's reply would
// have been: after the whole reply to the command before it, not inside
// its literal.
func TestFaultProxyAnswersInPipelineOrder(t *testing.T) {
	big := msg("big", 2_000_000)
	p, c := startProxied(t, []Fault{{Kind: FaultAnswer, On: "UID FETCH", Nth: 2, Reply: "{tag} NO [UNAVAILABLE] try later"}}, big)
	c.login()
	c.send("a3 UID FETCH 1 (BODY.PEEK[])\r\na4 UID FETCH 1 (BODY.PEEK[])\r\na5 UID FETCH 1 (BODY.PEEK[])")
	if got := c.until("a3"); !strings.Contains(got, string(big)) || !strings.Contains(got, "\r\na3 OK") {
		t.Fatalf("first FETCH: %d bytes, not the whole message then its OK (ends %q)", len(got), got[max(0, len(got)-80):])
	}
	if got := c.until("a4"); got != "a4 NO [UNAVAILABLE] try later\r\n" {
		t.Fatalf("second FETCH answered %q", got[:min(len(got), 200)])
	}
	if got := c.until("a5"); !strings.Contains(got, string(big)) {
		t.Errorf("third FETCH did not carry the message")
	}
	if p.Struck() != 1 {
		t.Errorf("struck %d, want 1", p.Struck())
	}
}

// The same for POP3, whose replies carry no tag: the answer to RETR 2
// comes after the whole of RETR 1's message and before RETR 3's.
func TestFaultProxyAnswersPOP3InPipelineOrder(t *testing.T) {
	body := strings.Repeat("x", 1_000_000)
	mail := "Subject: big\r\n\r\n" + body + "\r\n"
	srv := startPOP3(t, POP3Options{}, mail, mail, mail)
	p, err := StartFaultProxy(FaultProxyOptions{Target: srv.Addr(), Faults: []Fault{{Kind: FaultAnswer, On: "RETR", Nth: 2, Reply: "-ERR [SYS/TEMP] try later"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := connectProxied(t, p, nil)
	c.send("USER bob\r\nPASS pw\r\nRETR 1\r\nRETR 2\r\nRETR 3")
	for _, want := range []string{"+OK", "+OK"} {
		if got := c.line(); !strings.HasPrefix(got, want) {
			t.Fatalf("login: %q", got)
		}
	}
	readMessage := func(n int) {
		t.Helper()
		if got := c.line(); !strings.HasPrefix(got, "+OK") {
			t.Fatalf("RETR %d: %q", n, got)
		}
		if got := c.line(); got != "Subject: big\r\n" {
			t.Fatalf("RETR %d: first line %q", n, got)
		}
		for c.line() != ".\r\n" {
		}
	}
	readMessage(1)
	if got := c.line(); got != "-ERR [SYS/TEMP] try later\r\n" {
		t.Fatalf("RETR 2 answered %q", got)
	}
	readMessage(3)
	if p.Struck() != 1 {
		t.Errorf("struck %d, want 1", p.Struck())
	}
}

func TestFaultProxyRewrite(t *testing.T) {
	reply := `{tag} OK [Error="Microsoft.Exchange.Data.Storage.WrongServerException" Proxy=X:1993:SSL] LOGIN completed.`
	_, c := startProxied(t, []Fault{{Kind: FaultRewrite, On: "LOGIN", Reply: reply}})
	c.send("a1 LOGIN u p")
	if got, want := c.until("a1"), strings.ReplaceAll(reply, "{tag}", "a1")+"\r\n"; got != want {
		t.Errorf("LOGIN completion %q, want %q", got, want)
	}
}

func TestFaultProxyDropMidLiteral(t *testing.T) {
	m := msg("dropped", 200_000)
	const after = 50_000
	p, c := startProxied(t, []Fault{{Kind: FaultDrop, On: "UID FETCH", After: after}}, m)
	c.login()
	c.send("a3 UID FETCH 1 (UID BODY.PEEK[])")
	n, err := io.Copy(io.Discard, c.r)
	if err == nil {
		// A clean EOF is possible when the reset races the last read;
		// either way the message must be cut short.
		t.Logf("connection ended with EOF after %d bytes", n)
	}
	if n > after || n == 0 {
		t.Errorf("read %d bytes after arming, want some and at most %d", n, after)
	}
	if p.Struck() != 1 {
		t.Errorf("struck %d, want 1", p.Struck())
	}
}

func TestFaultProxyStall(t *testing.T) {
	p, c := startProxied(t, []Fault{{Kind: FaultStall, On: "UID FETCH", After: 10_000}}, msg("stalled", 100_000))
	c.login()
	c.send("a3 UID FETCH 1 (UID BODY.PEEK[])")
	// The client's own deadline is what ends a stall.
	if err := c.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c.r)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("stalled read ended with %v after %d bytes, want a deadline", err, n)
	}
	if n == 0 || n > 10_000 {
		t.Errorf("%d bytes before the stall, want 1..10000", n)
	}
	if p.Struck() != 1 {
		t.Errorf("struck %d, want 1", p.Struck())
	}
}

func TestFaultProxyLaterConnectionsPass(t *testing.T) {
	p, c := startProxied(t, []Fault{{Kind: FaultAnswer, On: "LOGIN", Reply: "{tag} NO [UNAVAILABLE] down"}})
	c.send("a1 LOGIN u p")
	if got := c.until("a1"); !strings.Contains(got, "UNAVAILABLE") {
		t.Fatalf("first connection: %q", got)
	}
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	conf := ca.ClientTLS()
	conf.InsecureSkipVerify = true // the proxy's certificate is from startProxied's CA
	c2 := connectProxied(t, p, conf)
	c2.send("b1 LOGIN u p")
	if got := c2.until("b1"); !strings.Contains(got, "b1 OK") {
		t.Errorf("second connection: %q", got)
	}
}

func TestLiteralSize(t *testing.T) {
	for line, want := range map[string]int64{
		"* 1 FETCH (BODY[] {123}\r\n": 123,
		"a LOGIN u {5+}\r\n":          5,
		"* OK done\r\n":               -1,
		"{x}\r\n":                     -1,
		"{-1}\r\n":                    -1,
	} {
		n, ok := literalSize([]byte(line))
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("literalSize(%q) = %d, want %d", line, n, want)
		}
	}
}

// Refuse answers every matching command of every connection until it is
// lifted.
func TestFaultProxyRefuse(t *testing.T) {
	p, c := startProxied(t, nil, msg("a", 10))
	c.login()
	p.Refuse("UID STORE", "{tag} NO [OVERQUOTA] Quota exceeded")
	for _, tag := range []string{"a3", "a4"} {
		c.send(tag + " UID STORE 1 +FLAGS.SILENT (\\Seen)")
		if got := c.until(tag); got != tag+" NO [OVERQUOTA] Quota exceeded\r\n" {
			t.Errorf("UID STORE answered %q while refused", got)
		}
	}
	p.Refuse("", "")
	c.send("a5 UID STORE 1 +FLAGS.SILENT (\\Seen)")
	if got := c.until("a5"); !strings.Contains(got, "a5 OK") {
		t.Errorf("UID STORE after the refusal was lifted: %q", got)
	}
	if p.Struck() != 2 {
		t.Errorf("struck %d, want 2", p.Struck())
	}
}
