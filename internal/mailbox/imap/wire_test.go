package imap

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

func TestEndlessGreetingIsRefused(t *testing.T) {
	_, a := hostile(t, testmail.Script{Greet: func(w io.Writer) error {
		io.WriteString(w, "* OK ")
		return testmail.Endless(w, "ready ", hostileBytes)
	}})
	var err error
	cost := testmail.Allocated(func() { _, err = dialBed(t, a) })
	if err == nil || !errors.Is(err, errTooLong) && !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Dial: %v, want the endless greeting refused", err)
	}
	if cost > boundedAlloc {
		t.Errorf("reading the endless greeting cost %d MB", cost>>20)
	}
}

func TestEndlessLineBeforeStartTLSIsRefused(t *testing.T) {
	_, a := hostile(t, testmail.Script{Greet: func(w io.Writer) error {
		io.WriteString(w, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ")
		return testmail.Endless(w, "ready ", hostileBytes)
	}})
	a.TLS = config.TLSStartTLS
	var err error
	cost := testmail.Allocated(func() { _, err = dialBed(t, a) })
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Dial: %v, want the endless greeting refused", err)
	}
	if cost > boundedAlloc {
		t.Errorf("reading the endless greeting cost %d MB", cost>>20)
	}
}

// A literal go-imap would read into memory (a folder name) cannot be
// larger than a response may be.
func TestHugeLiteralInUntaggedListIsRefused(t *testing.T) {
	script := testmail.IMAPScript{Replies: map[string]func(io.Writer, string, string) error{
		"EXAMINE": func(w io.Writer, _, _ string) error {
			io.WriteString(w, `* LIST () "/" {99999999999}`+"\r\n")
			if err := testmail.Endless(w, "x", hostileBytes); err != nil {
				return err
			}
			return io.EOF
		},
	}}
	_, a := hostile(t, script.Script())
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	cost := testmail.Allocated(func() {
		_, err = s.Select(context.Background(), "INBOX", mailbox.After{Action: config.AfterNone})
	})
	if err == nil || !strings.Contains(err.Error(), "literal of 99999999999 bytes") {
		t.Errorf("Select: %v, want the literal refused", err)
	}
	if cost > boundedAlloc {
		t.Errorf("reading the literal cost %d MB", cost>>20)
	}
}

// A command written just as go-imap closes the connection on a response it
// cannot read (the CAPABILITY it sends by itself after a login) fails with
// the response's error, not with "use of closed network connection", which
// go-imap may report for every pending command instead: the admin learns
// what the server did whichever goroutine came first.
func TestWriteAfterAFailedReadReportsTheRead(t *testing.T) {
	srv, _ := hostile(t, testmail.Script{Greet: func(w io.Writer) error {
		_, err := io.WriteString(w, `* LIST () "/" {99999999999}`+"\r\n")
		return err
	}})
	client, err := net.DialTimeout("tcp", srv.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f := newCodeFilter(client)
	if _, err := io.Copy(io.Discard, f); !errors.Is(err, errTooLong) {
		t.Fatalf("read: %v, want the literal refused", err)
	}
	client.Close() // as go-imap does on the failed read
	if _, err := f.Write([]byte("T2 CAPABILITY\r\n")); !errors.Is(err, errTooLong) {
		t.Errorf("write after the failed read: %v, want the read's error", err)
	}
}

// The SEARCH answers to one command are bounded as a whole: their numbers
// become ranges in memory.
func TestSearchAnswerBeyondItsBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines int
		fails bool
	}{
		{"one line", 1, true},
		{"many lines", 64, true},
		{"within", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			per := (maxSearch + 4<<20) / tc.lines
			if !tc.fails {
				per = maxSearch / 2
			}
			var stream strings.Builder
			for range tc.lines {
				stream.WriteString("* SEARCH")
				stream.WriteString(strings.Repeat(" 1234567", per/8))
				stream.WriteString("\r\n")
			}
			stream.WriteString("A1 OK SEARCH completed\r\n")
			_, err := io.Copy(io.Discard, newCodeFilter(fakeConn{Reader: strings.NewReader(stream.String())}))
			if tc.fails != (err != nil) || tc.fails && !strings.Contains(err.Error(), "SEARCH answers longer than") {
				t.Errorf("read: %v; want it refused: %v", err, tc.fails)
			}
		})
	}
}

// go-imap spins for ever, past every timeout, on a "(" in a capability
// list: such a list fails the connection instead.
func TestParenInCapabilitiesFailsTheConnection(t *testing.T) {
	for name, script := range map[string]testmail.IMAPScript{
		"greeting": {Greeting: "* OK [CAPABILITY IMAP4rev1 (] ready"},
		"CAPABILITY": {Replies: map[string]func(io.Writer, string, string) error{
			"LOGIN": func(w io.Writer, tag, _ string) error {
				_, err := io.WriteString(w, "* CAPABILITY IMAP4rev1 UIDPLUS(\r\n"+tag+" OK LOGIN completed\r\n")
				return err
			},
		}},
		"LOGIN code": {Replies: map[string]func(io.Writer, string, string) error{
			"LOGIN": func(w io.Writer, tag, _ string) error {
				_, err := io.WriteString(w, tag+" OK [CAPABILITY IMAP4rev1 (MOVE)] LOGIN completed\r\n")
				return err
			},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			_, a := hostile(t, script.Script())
			var err error
			testmail.Within(t, 30*time.Second, func() {
				var s *Session
				if s, err = dialBed(t, a); err == nil {
					_, err = s.Select(context.Background(), "INBOX", mailbox.After{Action: config.AfterNone})
				}
			})
			if err == nil || !strings.Contains(err.Error(), `capability with "("`) {
				t.Errorf("got %v, want the capability list refused", err)
			}
		})
	}
}
