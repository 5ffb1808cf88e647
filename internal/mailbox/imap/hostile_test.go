package imap

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// What a hostile server sends at most in these tests, and what reading
// it may cost the client: before the bounds, the client held all of it.
const (
	hostileBytes = 24 << 20
	boundedAlloc = 16 << 20
)

// hostile starts a scripted server and returns an account pointing at it.
func hostile(t *testing.T, script testmail.Script) (*testmail.ScriptedServer, *config.Account) {
	t.Helper()
	srv, err := testmail.StartScripted(script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, account(srv.Addr(), 10*time.Second)
}

// account is an account for a plain-text server at addr.
func account(addr string, timeout time.Duration) *config.Account {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return &config.Account{Host: host, Port: n, TLS: config.TLSNone, Username: "user", Timeout: config.Duration(timeout)}
}

// selected signs in to the scripted server and opens INBOX.
func selected(t *testing.T, script testmail.IMAPScript) (*testmail.ScriptedServer, *Session) {
	t.Helper()
	srv, a := hostile(t, script.Script())
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Select(context.Background(), "INBOX", mailbox.After{Action: config.AfterNone}); err != nil {
		t.Fatal(err)
	}
	return srv, s
}

func messages(n int) [][]byte {
	var raws [][]byte
	for i := range n {
		raws = append(raws, fmt.Appendf(nil, "Subject: message %d\r\n\r\nbody %d\r\n", i+1, i+1))
	}
	return raws
}

// fetchAll fetches msgs and returns what arrived, by UID.
func fetchAll(s *Session, msgs []mailbox.Message) (map[uint32][]byte, error) {
	got := map[uint32][]byte{}
	err := s.Fetch(context.Background(), msgs, func(m mailbox.Message, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[m.UID] = b
		return err
	})
	return got, err
}

func uidsOf(msgs []mailbox.Message) []uint32 {
	var uids []uint32
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	return uids
}

// Escape sequences in a server's reply reach no terminal.
func TestServerTextIsPrintable(t *testing.T) {
	script := testmail.IMAPScript{Replies: map[string]func(io.Writer, string, string) error{
		"LOGIN": func(w io.Writer, tag, _ string) error {
			_, err := io.WriteString(w, tag+" NO \x1b]0;owned\x07\x1b[2J\x9b31m bad password\r\n")
			return err
		},
	}}
	_, a := hostile(t, script.Script())
	_, err := dialBed(t, a)
	if err == nil {
		t.Fatal("login succeeded")
	}
	text := err.Error()
	if strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 }) || !strings.Contains(text, `\x1b]0;owned`) {
		t.Errorf("error %q carries the server's control characters", text)
	}
}
