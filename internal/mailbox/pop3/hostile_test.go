package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// What a hostile server sends at most in these tests, and what reading
// it may cost the client.
const (
	hostileBytes = 24 << 20
	boundedAlloc = 16 << 20
)

// hostile starts a scripted POP3 server and returns an account for it.
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
	return &config.Account{Host: host, Port: n, TLS: config.TLSNone, Username: testUser, Timeout: config.Duration(timeout)}
}

func open(t *testing.T, a *config.Account) (*Session, error) {
	t.Helper()
	s, err := Open(testCtx(t), a, auth.Password(testUser, testPass), slog.New(slog.DiscardHandler))
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// signedIn signs in to a scripted server.
func signedIn(t *testing.T, script testmail.POP3Script) (*testmail.ScriptedServer, *Session) {
	t.Helper()
	srv, a := hostile(t, script.Script())
	s, err := open(t, a)
	if err != nil {
		t.Fatal(err)
	}
	return srv, s
}

// fetchAll fetches msgs and returns their contents, by key.
func fetchAll(s *Session, msgs []mailbox.Message) (map[string]string, error) {
	got := map[string]string{}
	err := s.Fetch(context.Background(), msgs, func(m mailbox.Message, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[m.Key()] = string(b)
		return err
	})
	return got, err
}

func raws(subjects ...string) [][]byte {
	var out [][]byte
	for _, s := range subjects {
		out = append(out, fmt.Appendf(nil, "Subject: %s\r\n\r\nbody of %s\r\n", s, s))
	}
	return out
}

func answer(reply string) func(io.Writer, string) error {
	return func(w io.Writer, _ string) error {
		_, err := io.WriteString(w, reply)
		return err
	}
}

// Without UIDL, messages are keyed by their headers, message number by
// message number: a LIST naming message 9223372036854775807 had that loop
// run for ever at full CPU, deaf to the run's timeout.
func TestHugeMessageNumberFailsTheListing(t *testing.T) {
	_, s := signedIn(t, testmail.POP3Script{NoUIDL: true, Messages: raws("a", "b"), Replies: map[string]func(io.Writer, string) error{
		"LIST": answer("+OK\r\n1 30\r\n9223372036854775807 30\r\n.\r\n"),
	}})
	var err error
	testmail.Within(t, 30*time.Second, func() { _, err = s.New(testCtx(t), mailbox.NoneTaken) })
	if err == nil || !strings.Contains(err.Error(), "message number 9223372036854775807") {
		t.Errorf("New: %v, want the listing refused", err)
	}
}

// Numbers are checked in every listing: none twice, none beyond the
// maildrop, which the session's first listing counts.
func TestListingNumbersAreChecked(t *testing.T) {
	for name, uidl := range map[string]string{
		"twice":              "+OK\r\n1 a\r\n1 b\r\n.\r\n",
		"beyond the listing": "+OK\r\n1 a\r\n7 b\r\n.\r\n",
		"beyond any bound":   fmt.Sprintf("+OK\r\n%d a\r\n.\r\n", mailbox.MaxListing+1),
	} {
		t.Run(name, func(t *testing.T) {
			_, s := signedIn(t, testmail.POP3Script{Messages: raws("a", "b"), Replies: map[string]func(io.Writer, string) error{"UIDL": answer(uidl)}})
			if _, err := s.New(testCtx(t), mailbox.NoneTaken); err == nil || !strings.Contains(err.Error(), "message number") {
				t.Errorf("New: %v, want the listing refused", err)
			}
		})
	}
}

// Two messages listed with one UIDL: by it, one was fetched twice and
// the other never, yet both recorded as taken. They are keyed by their
// headers instead, and each is fetched.
func TestDuplicateUIDLLosesNoMessage(t *testing.T) {
	msgs := raws("first", "second", "third")
	_, s := signedIn(t, testmail.POP3Script{Messages: msgs, UIDLs: []string{"one", "dup", "dup"}})
	found, err := s.New(testCtx(t), mailbox.NoneTaken)
	listed := found.New
	if err != nil || len(listed) != 3 {
		t.Fatalf("New: %v, %v", listed, err)
	}
	got, err := fetchAll(s, listed)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range listed {
		if got[m.Key()] != string(msgs[i]) {
			t.Errorf("%s (message %d) = %q, want %q", m.Key(), m.Num, got[m.Key()], msgs[i])
		}
	}
	if listed[0].UIDL != "one" || !strings.HasPrefix(listed[1].UIDL, "hdr-") || listed[1].UIDL == listed[2].UIDL {
		t.Errorf("UIDLs %q, %q, %q: want the shared one replaced by distinct header keys", listed[0].UIDL, listed[1].UIDL, listed[2].UIDL)
	}
}

// Without UIDL, two copies of one message (same Message-ID, Date and size)
// have distinct keys, the same in every session.
func TestIdenticalMessagesWithoutUIDLAreKeyedApart(t *testing.T) {
	same := "Message-ID: <same@example.com>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\nbody\r\n"
	script := testmail.POP3Script{NoUIDL: true, Messages: [][]byte{[]byte(same), []byte(same), raws("other")[0]}}
	var keys [2][]string
	for i := range keys {
		_, s := signedIn(t, script)
		found, err := s.New(testCtx(t), mailbox.NoneTaken)
		listed := found.New
		if err != nil || len(listed) != 3 {
			t.Fatalf("New: %v, %v", listed, err)
		}
		for _, m := range listed {
			keys[i] = append(keys[i], m.UIDL)
		}
	}
	if keys[0][0] == keys[0][1] || keys[0][1] != keys[0][0]+"-2" {
		t.Errorf("keys %q: want the second copy keyed apart", keys[0])
	}
	if !slices.Equal(keys[0], keys[1]) {
		t.Errorf("keys %q, then %q: want the same in every session", keys[0], keys[1])
	}
}

func TestEndlessLinesAreRefused(t *testing.T) {
	for name, script := range map[string]testmail.Script{
		"greeting": {Greet: func(w io.Writer) error {
			io.WriteString(w, "+OK ")
			return testmail.Endless(w, "ready ", hostileBytes)
		}},
		"capabilities": testmail.POP3Script{Replies: map[string]func(io.Writer, string) error{
			"CAPA": func(w io.Writer, _ string) error {
				io.WriteString(w, "+OK\r\n")
				for i := 0; ; i++ {
					if _, err := fmt.Fprintf(w, "X-CAPABILITY-%d\r\n", i); err != nil {
						return err
					}
				}
			},
		}}.Script(),
	} {
		t.Run(name, func(t *testing.T) {
			_, a := hostile(t, script)
			var err error
			cost := testmail.Allocated(func() { _, err = open(t, a) })
			if err == nil {
				t.Error("Open succeeded")
			}
			if cost > boundedAlloc {
				t.Errorf("reading it cost %d MB", cost>>20)
			}
		})
	}
}

// A message LIST announces larger than a message may be is not asked for.
func TestTooLargeMessageIsNotRetrieved(t *testing.T) {
	msgs := raws("small", "large")
	srv, s := signedIn(t, testmail.POP3Script{Messages: msgs, Replies: map[string]func(io.Writer, string) error{
		"LIST": answer(fmt.Sprintf("+OK\r\n1 %d\r\n2 99999999999\r\n.\r\n", len(msgs[0]))),
	}})
	found, err := s.New(testCtx(t), mailbox.NoneTaken)
	listed := found.New
	if err != nil || len(listed) != 2 {
		t.Fatalf("New: %v, %v", listed, err)
	}
	got, err := fetchAll(s, listed)
	var tl *mailbox.TooLargeError
	if !errors.As(err, &tl) || tl.Msg.UIDL != "uidl-2" || tl.Size != 99999999999 || mailbox.IsTransient(err) {
		t.Fatalf("Fetch: %v, want a TooLargeError for uidl-2, not transient", err)
	}
	if len(got) != 1 || got["uidl:uidl-1"] != string(msgs[0]) {
		t.Errorf("delivered %q, want the small message only", got)
	}
	if slices.Contains(srv.Lines(), "RETR 2") {
		t.Error("RETR 2 was sent")
	}
	if err := s.Logout(testCtx(t)); err != nil {
		t.Errorf("the session is unusable after the refusal: %v", err)
	}
}

// A message larger than LIST said stops at the limit.
func TestMessageSentLargerThanTheLimitStops(t *testing.T) {
	_, s := signedIn(t, testmail.POP3Script{Messages: raws("a"), Replies: map[string]func(io.Writer, string) error{
		"RETR": func(w io.Writer, _ string) error {
			io.WriteString(w, "+OK\r\n")
			return testmail.Endless(w, "an endless message\r\n", hostileBytes)
		},
	}})
	s.LimitMessageSize(1 << 20)
	found, err := s.New(testCtx(t), mailbox.NoneTaken)
	listed := found.New
	if err != nil {
		t.Fatal(err)
	}
	var read int64
	err = s.Fetch(testCtx(t), listed, func(m mailbox.Message, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		read = n
		return err
	})
	var tl *mailbox.TooLargeError
	if !errors.As(err, &tl) || read != 1<<20 {
		t.Errorf("Fetch: %v after %d bytes, want a TooLargeError after %d", err, read, 1<<20)
	}
}

// A reply to TOP n 0 that goes on far past the message's size is no
// header: it is not read to its end, however far that is.
func TestEndlessHeaderStops(t *testing.T) {
	for _, noUIDL := range []bool{false, true} { // FetchHeaders; header keys in place of UIDLs
		t.Run(fmt.Sprintf("no UIDL %v", noUIDL), func(t *testing.T) {
			srv, s := signedIn(t, testmail.POP3Script{NoUIDL: noUIDL, Messages: raws("a"), Replies: map[string]func(io.Writer, string) error{
				"TOP": func(w io.Writer, _ string) error {
					io.WriteString(w, "+OK\r\nSubject: a\r\n")
					if err := testmail.Endless(w, "X-Padding: an endless header\r\n", hostileBytes); err != nil {
						return err
					}
					_, err := io.WriteString(w, "\r\n.\r\n")
					return err
				},
			}})
			found, err := s.New(testCtx(t), mailbox.NoneTaken)
			if err == nil {
				err = s.FetchHeaders(testCtx(t), found.New, func(_ mailbox.Message, r io.Reader) error {
					_, err := io.Copy(io.Discard, io.LimitReader(r, mailbox.MaxHeader))
					return err
				})
			}
			if err == nil || !strings.Contains(err.Error(), "reply to TOP 1 0 went on past the message's size") {
				t.Fatalf("err = %v; want the endless header refused", err)
			}
			// What the sockets' buffers took is written too, but not all.
			if sent := srv.Sent(); sent >= hostileBytes {
				t.Errorf("the server sent all its %d bytes: the client read them", sent)
			}
		})
	}
}

// Escape sequences in a server's reply reach no terminal.
func TestServerTextIsPrintable(t *testing.T) {
	_, a := hostile(t, testmail.POP3Script{Replies: map[string]func(io.Writer, string) error{
		"PASS": answer("-ERR \x1b]0;owned\x07\x1b[2J bad password\r\n"),
	}}.Script())
	_, err := open(t, a)
	if err == nil {
		t.Fatal("login succeeded")
	}
	if text := err.Error(); strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		t.Errorf("error %q carries the server's control characters", text)
	}
}
