package pop3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

const (
	testUser = "alice@example.com"
	testPass = "s3cret-Passw0rd"
)

// tls12NoRoots trusts nothing but the system roots, which never include
// the test CA.
var tls12NoRoots = tls.Config{MinVersion: tls.VersionTLS12}

func startServer(t testing.TB, opts testmail.POP3Options, msgs ...[]byte) *testmail.POP3Server {
	t.Helper()
	if opts.Username == "" {
		opts.Username, opts.Password = testUser, testPass
	}
	srv, err := testmail.StartPOP3(opts, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t testing.TB, srv *testmail.POP3Server, opts Options) *Client {
	t.Helper()
	if opts.Security == "" {
		opts.Security = "none"
	}
	c, err := Dial(testCtx(t), srv.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func login(t testing.TB, srv *testmail.POP3Server, opts Options) *Client {
	t.Helper()
	c := dial(t, srv, opts)
	if err := c.Login(testCtx(t), testUser, testPass); err != nil {
		t.Fatal(err)
	}
	return c
}

// reader returns a function that reads a Retr or Top body to the end:
// reader(t)(c.Retr(ctx, 1)).
func reader(t testing.TB) func(io.ReadCloser, error) []byte {
	return func(rc io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func eightBit() []byte {
	b := []byte("Subject: bytes\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for i := range 256 {
		b = append(b, byte(i))
	}
	return append(b, "\r\n\xc3\xa9t\xc3\xa9 \xff\xfe\x00\r\n"...)
}

func TestRetrByteExact(t *testing.T) {
	longLine := "Subject: long\r\n\r\n" + strings.Repeat("0123456789abcdef", 100<<10/16) + "\r\n"
	msgs := map[string]string{
		"leading dots":         "Subject: dots\r\n\r\n.hidden\r\n.\r\nafter a lone dot\r\n. space\r\n",
		"double dots":          "Subject: dots\r\n\r\n..two\r\n...three\r\n..\r\n",
		"100 KiB line":         longLine,
		"8-bit":                string(eightBit()),
		"bare LF":              "Subject: lf\n\nline\n.\n..\nend\r\n",
		"no final CRLF":        "Subject: x\r\n\r\nlast line",
		"final CR":             "Subject: x\r\n\r\nlast line\r",
		"empty body":           "Subject: empty\r\n\r\n",
		"empty message":        "",
		"terminator lookalike": "a\r\n.\r\n\r\n.\r\nb\r\n",
	}
	var names []string
	var raws [][]byte
	for name, m := range msgs {
		names = append(names, name)
		raws = append(raws, []byte(m))
	}
	srv := startServer(t, testmail.POP3Options{}, raws...)
	c := login(t, srv, Options{})
	ctx := testCtx(t)
	for i, name := range names {
		got := reader(t)(c.Retr(ctx, i+1))
		want := delivered(raws[i])
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Errorf("%s: RETR gave %d bytes %.60q…, want %d bytes %.60q…", name, len(got), got, len(want), want)
		}
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("connection out of step after the bodies: %v", err)
	}
}

func TestTop(t *testing.T) {
	msg := "From: a\r\nSubject: top\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n"
	srv := startServer(t, testmail.POP3Options{}, []byte(msg))
	c := login(t, srv, Options{})
	ctx := testCtx(t)
	if got := reader(t)(c.Top(ctx, 1, 0)); string(got) != "From: a\r\nSubject: top\r\n\r\n" {
		t.Errorf("TOP 1 0 = %q", got)
	}
	if got := reader(t)(c.Top(ctx, 1, 2)); string(got) != "From: a\r\nSubject: top\r\n\r\nline 1\r\n.line 2\r\n" {
		t.Errorf("TOP 1 2 = %q", got)
	}
	if srv.Retrieved() != 0 {
		t.Errorf("TOP counted as %d RETR", srv.Retrieved())
	}
}

// TestBodyMustBeFinished checks that an unread body blocks the next
// command, and that Close drains it so the session goes on.
func TestBodyMustBeFinished(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{}, []byte("a\r\n"), bytes.Repeat([]byte("body line\r\n"), 10000))
	c := login(t, srv, Options{})
	ctx := testCtx(t)
	rc, err := c.Retr(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retr(ctx, 1); err == nil || !strings.Contains(err.Error(), "RETR 2") {
		t.Fatalf("RETR during an unfinished RETR 2: got %v, want an error naming RETR 2", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if got := reader(t)(c.Retr(ctx, 1)); string(got) != "a\r\n" {
		t.Fatalf("after Close, RETR 1 = %q", got)
	}
}

func TestListings(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{}, []byte("one\r\n"), []byte("three\r\n"))
	c := login(t, srv, Options{})
	ctx := testCtx(t)
	srv.Add([]byte("added after login\r\n"))

	count, size, err := c.Stat(ctx)
	if err != nil || count != 2 || size != 12 {
		t.Fatalf("STAT = %d, %d, %v; want 2, 12 (the login snapshot)", count, size, err)
	}
	sizes, err := c.ListAll(ctx, count)
	if err != nil || len(sizes) != 3 || sizes[0] != -1 || sizes[1] != 5 || sizes[2] != 7 {
		t.Fatalf("LIST = %v, %v", sizes, err)
	}
	ids, err := c.UIDLAll(ctx, count)
	if err != nil || len(ids) != 2 || ids[0].Num != 1 || ids[1].Num != 2 || ids[0].ID == ids[1].ID {
		t.Fatalf("UIDL = %v, %v", ids, err)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := caps["UIDL"]; !ok || strings.Join(caps["SASL"], " ") != "PLAIN" {
		t.Errorf("CAPA = %v", caps)
	}
}

func TestManyUIDLs(t *testing.T) {
	const n = 10000
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "Subject: %d\r\n\r\nx\r\n", i)
	}
	srv := startServer(t, testmail.POP3Options{}, msgs...)
	c := login(t, srv, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ids, err := c.UIDLAll(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, u := range ids {
		if u.Num != i+1 || seen[u.ID] {
			t.Fatalf("entry %d = %+v (duplicate %v)", i, u, seen[u.ID])
		}
		seen[u.ID] = true
	}
	if len(ids) != n {
		t.Fatalf("got %d UIDLs, want %d", len(ids), n)
	}
}

func TestNoUIDL(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{NoUIDL: true}, []byte("a\r\n"))
	c := login(t, srv, Options{})
	_, err := c.UIDLAll(testCtx(t), 1)
	if !errors.Is(err, ErrNoUIDL) {
		t.Fatalf("got %v, want ErrNoUIDL", err)
	}
	if err := c.Noop(testCtx(t)); err != nil {
		t.Fatalf("a -ERR must leave the session usable: %v", err)
	}
}

func TestLoginRefused(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{})
	c := dial(t, srv, Options{})
	err := c.Login(testCtx(t), testUser, "wrong-"+testPass)
	var se *ServerError
	if !errors.As(err, &se) || se.Command != "PASS" || !strings.Contains(se.Text, "Logon failure") {
		t.Fatalf("got %v, want a ServerError for PASS", err)
	}
	if strings.Contains(err.Error(), testPass) || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("error %q must name the server and not the password", err)
	}
}

func TestAuthPlain(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{})
	c := dial(t, srv, Options{})
	if err := c.Authenticate(testCtx(t), sasl.NewPlainClient("", testUser, testPass)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Stat(testCtx(t)); err != nil {
		t.Fatalf("not logged in after AUTH PLAIN: %v", err)
	}

	c = dial(t, srv, Options{})
	err := c.Authenticate(testCtx(t), sasl.NewPlainClient("", testUser, "nope"))
	var se *ServerError
	if !errors.As(err, &se) || se.Command != "AUTH PLAIN" {
		t.Fatalf("got %v, want a ServerError for AUTH PLAIN", err)
	}
}

// xoauth2 is the XOAUTH2 client, as the auth package has it; failNext
// selects whether it treats a challenge as an error or answers it empty,
// both of which real clients do.
type xoauth2 struct {
	user, token string
	failNext    bool
}

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x xoauth2) Next(challenge []byte) ([]byte, error) {
	if x.failNext {
		return nil, fmt.Errorf("XOAUTH2 refused: %s", challenge)
	}
	return nil, nil
}

func TestAuthXOAUTH2(t *testing.T) {
	const token = "eyJ0eXAiOiJKV1QiLCJ.valid.token"
	srv := startServer(t, testmail.POP3Options{
		XOAUTH2: func(user, tok string) bool { return user == testUser && tok == token },
	}, []byte("a\r\n"))

	c := dial(t, srv, Options{})
	if err := c.Authenticate(testCtx(t), xoauth2{user: testUser, token: token}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Stat(testCtx(t)); err != nil || n != 1 {
		t.Fatalf("STAT after XOAUTH2 = %d, %v", n, err)
	}
	if err := c.Quit(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	for _, failNext := range []bool{false, true} {
		c := dial(t, srv, Options{})
		err := c.Authenticate(testCtx(t), xoauth2{user: testUser, token: "expired.token.value", failNext: failNext})
		var se *ServerError
		if !errors.As(err, &se) || se.Command != "AUTH XOAUTH2" {
			t.Fatalf("failNext %v: got %v, want a ServerError for AUTH XOAUTH2", failNext, err)
		}
		for _, want := range []string{`"status":"401"`, "Authentication failure", srv.Addr()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("failNext %v: error %q lacks %q", failNext, err, want)
			}
		}
		if strings.Contains(err.Error(), "expired.token") {
			t.Errorf("error %q shows the token", err)
		}
		if err := c.Noop(testCtx(t)); err == nil || !errors.As(err, new(*ServerError)) {
			t.Errorf("failNext %v: after a refused AUTH the conversation must be in step (a -ERR for NOOP), got %v", failNext, err)
		}
	}
}

func TestSTLS(t *testing.T) {
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, testmail.POP3Options{TLS: ca.ServerTLS, StartTLS: true}, []byte("a\r\n"))
	// The server refuses to log in before STLS, so a login proves the upgrade.
	c := login(t, srv, Options{Security: "starttls", TLS: ca.ClientTLS()})
	if got := reader(t)(c.Retr(testCtx(t), 1)); string(got) != "a\r\n" {
		t.Fatalf("RETR over STLS = %q", got)
	}

	_, err = Dial(testCtx(t), srv.Addr(), Options{Security: "starttls", TLS: &tls12NoRoots})
	if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("STLS with an untrusted certificate: got %v", err)
	}

	plain := startServer(t, testmail.POP3Options{})
	_, err = Dial(testCtx(t), plain.Addr(), Options{Security: "starttls", TLS: ca.ClientTLS()})
	if err == nil || !strings.Contains(err.Error(), "does not offer STLS") {
		t.Fatalf("starttls against a server without STLS: got %v", err)
	}
}

func TestImplicitTLS(t *testing.T) {
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, testmail.POP3Options{TLS: ca.ServerTLS}, []byte("a\r\n"))
	c := login(t, srv, Options{Security: "implicit", TLS: ca.ClientTLS()})
	if got := reader(t)(c.Retr(testCtx(t), 1)); string(got) != "a\r\n" {
		t.Fatalf("RETR over TLS = %q", got)
	}
	if _, err := Dial(testCtx(t), srv.Addr(), Options{Security: "implicit", TLS: &tls12NoRoots}); err == nil {
		t.Fatal("implicit TLS trusted a certificate from an unknown CA")
	}
	// The timeout bounds both the wait for a greeting and the handshake
	// that tells a TLS port; a loaded machine has taken over 300ms for it.
	_, err = Dial(testCtx(t), srv.Addr(), Options{Security: "none", Timeout: 2 * time.Second})
	if err == nil || !errors.Is(err, mailbox.ErrTLSPort) {
		t.Fatalf("plain POP3 against a TLS port: got %v, want it recognised as a TLS port", err)
	}
}

// TestServerErrors makes each step in turn answer -ERR.
func TestServerErrors(t *testing.T) {
	steps := []struct {
		fault   string // the command line the server refuses
		command string // as the error must name it
		run     func(ctx context.Context, c *Client) error
	}{
		{"USER " + testUser, "USER " + testUser, func(ctx context.Context, c *Client) error { return c.Login(ctx, testUser, testPass) }},
		{"PASS " + testPass, "PASS", func(ctx context.Context, c *Client) error { return c.Login(ctx, testUser, testPass) }},
		{"STAT", "STAT", func(ctx context.Context, c *Client) error { _, _, err := c.Stat(ctx); return err }},
		{"LIST", "LIST", func(ctx context.Context, c *Client) error { _, err := c.ListAll(ctx, 1); return err }},
		{"UIDL", "UIDL", func(ctx context.Context, c *Client) error { _, err := c.UIDLAll(ctx, 1); return err }},
		{"RETR 1", "RETR 1", func(ctx context.Context, c *Client) error { _, err := c.Retr(ctx, 1); return err }},
		{"TOP 1 0", "TOP 1 0", func(ctx context.Context, c *Client) error { _, err := c.Top(ctx, 1, 0); return err }},
		{"DELE 1", "DELE 1", func(ctx context.Context, c *Client) error { return c.Dele(ctx, 1) }},
		{"RSET", "RSET", func(ctx context.Context, c *Client) error { return c.Rset(ctx) }},
		{"NOOP", "NOOP", func(ctx context.Context, c *Client) error { return c.Noop(ctx) }},
		{"QUIT", "QUIT", func(ctx context.Context, c *Client) error { return c.Quit(ctx) }},
	}
	for _, st := range steps {
		t.Run(st.command, func(t *testing.T) {
			srv := startServer(t, testmail.POP3Options{Fault: func(cmd string) string {
				if cmd == st.fault {
					return "-ERR [SYS/TEMP] step failed"
				}
				return ""
			}}, []byte("a\r\n"))
			ctx := testCtx(t)
			c := dial(t, srv, Options{})
			err := c.Login(ctx, testUser, testPass)
			if !strings.HasPrefix(st.fault, "USER") && !strings.HasPrefix(st.fault, "PASS") {
				if err != nil {
					t.Fatal(err)
				}
				err = st.run(ctx, c)
			}
			var se *ServerError
			if !errors.As(err, &se) || se.Command != st.command || se.Text != "[SYS/TEMP] step failed" {
				t.Fatalf("got %v, want ServerError{%q, %q}", err, st.command, "[SYS/TEMP] step failed")
			}
			if strings.Contains(err.Error(), testPass) {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}

	t.Run("greeting", func(t *testing.T) {
		srv := startServer(t, testmail.POP3Options{Fault: func(cmd string) string {
			if cmd == "" {
				return "-ERR too many connections"
			}
			return ""
		}})
		_, err := Dial(testCtx(t), srv.Addr(), Options{Security: "none"})
		var se *ServerError
		if !errors.As(err, &se) || se.Text != "too many connections" {
			t.Fatalf("got %v, want the greeting's -ERR", err)
		}
	})
}

func TestGarbage(t *testing.T) {
	faults := map[string]string{
		"":       "HTTP/1.1 400 Bad Request",
		"STAT":   "* OK IMAP4rev1 ready",
		"RETR 1": "+OKAY not quite",
		"UIDL":   "+OK\r\n1 has space in id\r\n.",
		"LIST":   "+OK\r\none 5\r\n.",
	}
	for fault, reply := range faults {
		t.Run(fault, func(t *testing.T) {
			srv := startServer(t, testmail.POP3Options{Fault: func(cmd string) string {
				if cmd == fault {
					return reply
				}
				return ""
			}}, []byte("a\r\n"))
			ctx := testCtx(t)
			c, err := Dial(ctx, srv.Addr(), Options{Security: "none"})
			if err == nil {
				defer c.Close()
				if err = c.Login(ctx, testUser, testPass); err != nil {
					t.Fatal(err)
				}
				switch fault {
				case "STAT":
					_, _, err = c.Stat(ctx)
				case "RETR 1":
					_, err = c.Retr(ctx, 1)
				case "UIDL":
					_, err = c.UIDLAll(ctx, 1)
				case "LIST":
					_, err = c.ListAll(ctx, 1)
				}
			}
			if err == nil || errors.As(err, new(*ServerError)) {
				t.Fatalf("got %v, want a protocol error", err)
			}
			if !strings.Contains(err.Error(), srv.Addr()) {
				t.Errorf("error %q does not name the server", err)
			}
			if c != nil {
				if err := c.Noop(ctx); err == nil || !strings.Contains(err.Error(), "unusable") {
					t.Errorf("after garbage, NOOP = %v, want an unusable-connection error", err)
				}
			}
		})
	}
}

func TestStallTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for fault, reply := range map[string]string{
		"STAT":   "STALL",
		"RETR 1": "+OK 100 octets\r\nSubject: partial\r\n\r\nhalf a bo", // stalls mid-body
	} {
		t.Run(fault, func(t *testing.T) {
			srv := startServer(t, testmail.POP3Options{Fault: func(cmd string) string {
				if cmd == fault {
					return reply
				}
				return ""
			}}, []byte("a\r\n"))
			c := login(t, srv, Options{Timeout: timeout})
			start := time.Now()
			var err error
			if fault == "STAT" {
				_, _, err = c.Stat(testCtx(t))
			} else {
				var rc io.ReadCloser
				if rc, err = c.Retr(testCtx(t), 1); err == nil {
					_, err = io.ReadAll(rc)
				}
			}
			elapsed := time.Since(start)
			if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), fault) {
				t.Fatalf("got %v, want a timeout naming %s", err, fault)
			}
			if elapsed < timeout || elapsed > 10*timeout {
				t.Fatalf("gave up after %v, want about %v", elapsed, timeout)
			}
		})
	}
}

// TestSlowBodyDoesNotTimeOut feeds a body for longer than the timeout,
// never pausing as long: the timeout is for inactivity, not the whole body.
// The timeout is long enough that a loaded machine, which can leave a
// goroutine unscheduled for half a second, does not make a pause of it.
func TestSlowBodyDoesNotTimeOut(t *testing.T) {
	const timeout = 2 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(conn, "+OK ready\r\n")
		buf := make([]byte, 100)
		_, _ = conn.Read(buf) // RETR 1
		_, _ = io.WriteString(conn, "+OK\r\n")
		tick := time.NewTicker(timeout / 10)
		defer tick.Stop()
		for range 15 { // one and a half timeouts long
			<-tick.C
			if _, err := io.WriteString(conn, "line\r\n"); err != nil {
				served <- err
				return
			}
		}
		_, err = io.WriteString(conn, ".\r\n")
		served <- err
	}()
	c, err := Dial(testCtx(t), ln.Addr().String(), Options{Security: "none", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := reader(t)(c.Retr(testCtx(t), 1))
	if string(got) != strings.Repeat("line\r\n", 15) {
		t.Fatalf("got %q", got)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := startServer(t, testmail.POP3Options{Fault: func(cmd string) string {
		if cmd == "STAT" {
			cancel() // the client is now waiting for the answer
			return "STALL"
		}
		return ""
	}})
	c := login(t, srv, Options{Timeout: time.Minute})
	if _, _, err := c.Stat(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled STAT: got %v", err)
	}

	c = login(t, startServer(t, testmail.POP3Options{Fault: func(cmd string) string {
		if cmd == "NOOP" {
			return "STALL"
		}
		return ""
	}}), Options{Timeout: time.Minute})
	dctx, dcancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer dcancel()
	if err := c.Noop(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("NOOP past the context deadline: got %v", err)
	}
}

func TestDeleteTakesEffectOnQuit(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{}, []byte("one\r\n"), []byte("two\r\n"))

	c := login(t, srv, Options{})
	if err := c.Dele(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("DELE without QUIT removed a message: %d left", n)
	}
	// The server notices the dropped session and frees the mailbox.
	c = login(t, srv, Options{})
	if n, _, err := c.Stat(testCtx(t)); err != nil || n != 2 {
		t.Fatalf("STAT after a dropped session = %d, %v; want 2", n, err)
	}

	if err := c.Dele(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Rset(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Dele(testCtx(t), 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages(); len(got) != 1 || string(got[0]) != "one\r\n" {
		t.Fatalf("after DELE 1, RSET, DELE 2, QUIT: %q left, want only one", got)
	}
}

func TestMailboxLocked(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{}, []byte("a\r\n"))
	login(t, srv, Options{})
	c := dial(t, srv, Options{})
	err := c.Login(testCtx(t), testUser, testPass)
	var se *ServerError
	if !errors.As(err, &se) || !strings.Contains(se.Text, "[IN-USE]") {
		t.Fatalf("second session: got %v, want -ERR [IN-USE]", err)
	}
}

func TestBadArguments(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{})
	c := dial(t, srv, Options{})
	if _, err := c.Retr(testCtx(t), 0); err == nil {
		t.Error("RETR 0 accepted")
	}
	if _, err := c.Top(testCtx(t), 1, -1); err == nil {
		t.Error("TOP with negative lines accepted")
	}
	if _, err := Dial(testCtx(t), srv.Addr(), Options{Security: "ssl"}); err == nil || !strings.Contains(err.Error(), `"ssl"`) {
		t.Errorf("unknown security: got %v", err)
	}
}

// Plain text after the +OK to STLS would be read as the server's first
// words over TLS; the connection is refused instead (or, should it arrive
// after the reply was read, the handshake refuses it).
func TestSTLSRefusesInjectedData(t *testing.T) {
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, testmail.POP3Options{TLS: ca.ServerTLS, StartTLS: true, Fault: func(cmd string) string {
		if cmd == "STLS" {
			return "+OK Begin TLS\r\n+OK injected\r\n"
		}
		return ""
	}})
	_, err = Dial(testCtx(t), srv.Addr(), Options{Security: "starttls", TLS: ca.ClientTLS()})
	if err == nil || !strings.Contains(err.Error(), "injection") && !strings.Contains(err.Error(), "TLS handshake") {
		t.Fatalf("Dial: %v, want the injected data refused", err)
	}
}
