package testmail

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func startIMAPHost(t *testing.T, opts IMAPHostOptions, users ...string) *IMAPHost {
	t.Helper()
	h, err := StartIMAPHost(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	for _, u := range users {
		if err := h.AddUser(u, "pw-"+u); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func hostClient(t *testing.T, h *IMAPHost) *imapclient.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", h.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := imapclient.New(fixedDeadlineConn{conn}, nil)
	t.Cleanup(func() { c.Close() })
	return c
}

func hostLogin(t *testing.T, h *IMAPHost, user string) *imapclient.Client {
	t.Helper()
	c := hostClient(t, h)
	if err := c.Login(user, "pw-"+user).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// waitOpen waits until the host counts open connections of user: a
// client's logout reaches the server after the client has moved on.
func waitOpen(t *testing.T, h *IMAPHost, user string, open int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.Connections(user).Open != open {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d connections open, want %d", user, h.Connections(user).Open, open)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIMAPHostCountsAndCapsConnectionsPerUser(t *testing.T) {
	var owners []string
	var mu sync.Mutex
	h := startIMAPHost(t, IMAPHostOptions{
		MaxConnsPerUser: 2,
		Owner: func(client net.Addr) int {
			mu.Lock()
			owners = append(owners, client.String())
			mu.Unlock()
			return 4242
		},
	}, "a", "b")

	a1, a2 := hostLogin(t, h, "a"), hostLogin(t, h, "a")
	hostLogin(t, h, "b") // another mailbox's connections do not count
	if got := h.Connections("a"); got != (ConnCount{Open: 2, Max: 2}) {
		t.Fatalf("a: %+v, want 2 open, 2 at most", got)
	}

	// The third of a's is refused as Exchange refuses it, and recorded
	// with the two open ones and their owner.
	err := hostClient(t, h).Login("a", "pw-a").Wait()
	var imapErr *imap.Error
	if !errors.As(err, &imapErr) || imapErr.Type != imap.StatusResponseTypeNo || imapErr.Text != "User is authenticated but not connected." {
		t.Fatalf("third login: %v, want NO User is authenticated but not connected.", err)
	}
	refusals := h.Refusals()
	if len(refusals) != 1 || refusals[0].User != "a" || len(refusals[0].Open) != 2 {
		t.Fatalf("refusals: %+v", refusals)
	}
	for _, o := range refusals[0].Open {
		if o.Owner != 4242 || o.Since.IsZero() || o.Client == nil {
			t.Errorf("open connection recorded as %+v", o)
		}
	}
	if len(owners) != 2 {
		t.Errorf("Owner asked about %v, want the two open connections", owners)
	}

	// A wrong password is no refusal for the cap.
	if err := hostClient(t, h).Login("a", "wrong").Wait(); err == nil {
		t.Fatal("a wrong password signed in")
	}
	if len(h.Refusals()) != 1 {
		t.Errorf("a wrong password was recorded as a refusal: %+v", h.Refusals())
	}

	// Closing one frees its place; the most ever open stays 2.
	a1.Logout().Wait()
	a1.Close()
	waitOpen(t, h, "a", 1)
	hostLogin(t, h, "a")
	a2.Close()
	waitOpen(t, h, "a", 1)
	if got := h.Connections("a"); got.Max != 2 {
		t.Errorf("a: %+v, want 2 at most", got)
	}
	if got := h.Connections("b"); got != (ConnCount{Open: 1, Max: 1}) {
		t.Errorf("b: %+v", got)
	}
}

func TestIMAPHostMovesAndShowsWhereEachMessageIs(t *testing.T) {
	h := startIMAPHost(t, IMAPHostOptions{Folders: []string{"Processed"}}, "a", "b")
	raws := [][]byte{NewMessage("one"), NewMessage("two"), NewMessage("three")}
	for _, raw := range raws {
		if _, err := h.Append("a", "INBOX", raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Append("nobody", "INBOX", raws[0]); err == nil {
		t.Error("append to an unknown user succeeded")
	}

	// Two clients move the same message, as two nodes might: it is moved
	// once, the second MOVE finds nothing.
	c1, c2 := hostLogin(t, h, "a"), hostLogin(t, h, "a")
	for _, c := range []*imapclient.Client{c1, c2} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*imapclient.Client{c1, c2} {
		if _, err := c.Move(imap.UIDSetNum(2), "Processed").Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// New mail arrives while clients are signed in.
	if _, err := h.Append("a", "INBOX", NewMessage("four")); err != nil {
		t.Fatal(err)
	}

	inbox, err := h.Messages("a", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	processed, err := h.Messages("a", "Processed")
	if err != nil {
		t.Fatal(err)
	}
	for folder, want := range map[string]int{"INBOX": 3, "Processed": 1} {
		if n, err := h.Count("a", folder); err != nil || n != want {
			t.Errorf("Count(a, %s) = %d, %v; want %d", folder, n, err, want)
		}
	}
	if got := subjects(inbox); got != "one,three,four" {
		t.Errorf("INBOX holds %s", got)
	}
	if got := subjects(processed); got != "two" {
		t.Errorf("Processed holds %s", got)
	}
	if !bytes.Equal(processed[0].Raw, raws[1]) {
		t.Error("the moved message's bytes changed")
	}
	// The host's own look does not count as a connection.
	if got := h.Connections("a"); got.Max != 2 {
		t.Errorf("a: %+v, want the two clients only", got)
	}
	if other, err := h.Messages("b", "INBOX"); err != nil || len(other) != 0 {
		t.Errorf("b's INBOX: %d messages, %v", len(other), err)
	}
	if _, err := h.Messages("a", "Nope"); err == nil {
		t.Error("reading a folder that does not exist succeeded")
	}
}

func subjects(msgs []StoredMessage) string {
	var out []string
	for _, m := range msgs {
		for line := range strings.SplitSeq(string(m.Raw), "\r\n") {
			if s, ok := strings.CutPrefix(line, "Subject: "); ok {
				out = append(out, s)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

func TestIMAPHostCutsAConnectionInsideAMessage(t *testing.T) {
	const cutAt = 700
	var asked []string
	var mu sync.Mutex
	h := startIMAPHost(t, IMAPHostOptions{
		CutFetch: func(user string, client net.Addr) int64 {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, user)
			if len(asked) == 1 {
				return cutAt
			}
			return 0
		},
	}, "a")
	raw := NewMessage("big", Attachment{Name: "big.bin", Content: bytes.Repeat([]byte("0123456789"), 1000)})
	if _, err := h.Append("a", "INBOX", raw); err != nil {
		t.Fatal(err)
	}

	// A plain client, which reads whatever arrives until the connection
	// ends: how much of the FETCH reply came, and whether it completed.
	fetch := func() (reply string, complete bool) {
		conn, err := net.DialTimeout("tcp", h.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, "a LOGIN a pw-a\r\nb SELECT INBOX\r\nc UID FETCH 1 BODY.PEEK[]\r\nd LOGOUT\r\n"); err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(conn)
		if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
			t.Fatal(err)
		}
		text := string(all)
		start := strings.Index(text, "* 1 FETCH")
		if start < 0 {
			t.Fatalf("no FETCH reply in:\n%s", text)
		}
		return text[start:], strings.Contains(text, "\r\nc OK")
	}

	reply, complete := fetch()
	if complete || strings.Contains(reply, string(raw)) {
		t.Fatal("the cut connection delivered the whole message")
	}
	if len(reply) > cutAt {
		t.Errorf("read %d bytes of the FETCH reply through a cut after %d", len(reply), cutAt)
	}
	if h.Cuts() != 1 {
		t.Errorf("cuts = %d, want 1", h.Cuts())
	}
	waitOpen(t, h, "a", 0)

	// The next connection is not cut.
	if reply, complete := fetch(); !complete || !strings.Contains(reply, string(raw)) {
		t.Fatalf("after the cut the message did not arrive whole:\n%.300s", reply)
	}
	if h.Cuts() != 1 || len(asked) != 2 || asked[1] != "a" {
		t.Errorf("cuts %d, asked %v", h.Cuts(), asked)
	}
}
