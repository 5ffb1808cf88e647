package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// A server that ends the session with a reason, as Gmail does once an
// account has spent its IMAP bandwidth ("* BYE [OVERQUOTA] Account
// exceeded command or bandwidth limits."), then closes the connection:
// go-imap drops the BYE and fails the fetch with a bare end of stream,
// which would say nothing of why and count against the message on its
// way. The fetch's failure keeps the server's reason, and reads as the
// server's "not now" to the account.
func TestByeKeepsTheServersReason(t *testing.T) {
	raws := messages(2)
	_, s := selected(t, testmail.IMAPScript{
		Messages: raws,
		Replies: map[string]func(w io.Writer, tag, args string) error{
			"UID FETCH": func(w io.Writer, tag, args string) error {
				if _, err := fmt.Fprintf(w, "* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n", len(raws[0]), raws[0]); err != nil {
					return err
				}
				if _, err := io.WriteString(w, "* BYE [OVERQUOTA] Account exceeded command or bandwidth limits.\r\n"); err != nil {
					return err
				}
				return io.EOF // the server closes the connection
			},
		},
	})
	got, err := fetchAll(s, []mailbox.Message{{UID: 1}, {UID: 2}})
	if len(got) != 1 {
		t.Errorf("delivered %d messages, want the one sent whole", len(got))
	}
	if err == nil || !strings.Contains(err.Error(), "the server ended the session: BYE [OVERQUOTA] Account exceeded command or bandwidth limits.") {
		t.Fatalf("Fetch: %v, want the server's reason", err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || !mailbox.IsTransient(err) || !mailbox.NotNow(err) {
		t.Errorf("Fetch: %v: want a dropped connection, to retry, and the server's \"not now\"", err)
	}
}

// byeCase is a server that answers command with bye and closes the
// connection, and what the session was doing.
type byeCase struct {
	name    string
	command string // as testmail.IMAPScript.Replies names it
	bye     string // the untagged BYE, as the server sends it
	script  testmail.IMAPScript
	// do signs in (or not) and runs the command that meets the BYE.
	do func(t *testing.T, a *config.Account) error
	// notNow: the server's "not now" to the account (mailbox.NotNow),
	// which counts against no message.
	notNow bool
	// reset: the connection ends in a reset after the BYE, not a close.
	reset bool
}

// Real servers' words for ending a session, each at a command it comes
// after: Exchange's "* BYE Connection closed. 14" and "* BYE Session
// invalidated - AccessTokenExpired" (its token expired mid-session),
// Dovecot's "* BYE Server shutting down." and "* BYE Disconnected for
// inactivity.", Gmail's "* BYE System Error".
// go-imap drops them all and fails the command with a bare end of
// stream; every failure of the session keeps the server's reason, passes
// (a retry signs in again), and an after-action cut by one is no refusal
// by the server: its messages stay due as if nothing had been sent.
func TestByeReasonAtEveryCommand(t *testing.T) {
	exchangeGreeting := "* OK The Microsoft Exchange IMAP4 service is ready. [TQBXADIAUABSADAANQBDAEEAMAAwADEAMwAuAGUAdQByAHAAcgBkADAANQAuAHAAcgBvAGQALgBvAHUAdABsAG8AbwBrAC4AYwBvAG0A]"
	token := auth.Bearer("user", auth.StaticToken("token", "user"))
	dial := func(t *testing.T, a *config.Account) (*Session, error) { return dialBed(t, a) }
	opened := func(after string) func(t *testing.T, a *config.Account) (*Session, error) {
		return func(t *testing.T, a *config.Account) (*Session, error) {
			s, err := dialBed(t, a)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Select(context.Background(), "INBOX", mailbox.After{Action: after, MoveTo: "Archive"})
			return s, err
		}
	}
	then := func(open func(*testing.T, *config.Account) (*Session, error), op func(*Session) error) func(*testing.T, *config.Account) error {
		return func(t *testing.T, a *config.Account) error {
			s, err := open(t, a)
			if err != nil {
				t.Fatal(err)
			}
			return op(s)
		}
	}
	one := []mailbox.Message{{UID: 1}}
	cases := []byeCase{
		{name: "LOGIN", command: "LOGIN", bye: "* BYE Connection closed. 14",
			do: func(t *testing.T, a *config.Account) error { _, err := dial(t, a); return err }},
		{name: "CAPABILITY before AUTHENTICATE", command: "CAPABILITY", bye: "* BYE Connection closed. 14",
			script: testmail.IMAPScript{Greeting: exchangeGreeting},
			do: func(t *testing.T, a *config.Account) error {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				s, err := Dial(ctx, a, token)
				if err == nil {
					s.Close()
				}
				return err
			}},
		{name: "CAPABILITY after the sign-in", command: "CAPABILITY", bye: "* BYE Session invalidated - AccessTokenExpired", notNow: true,
			script: testmail.IMAPScript{Greeting: "* OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] ready"},
			do: func(t *testing.T, a *config.Account) error {
				_, err := opened(config.AfterMove)(t, a)
				return err
			}},
		{name: "STATUS of move_to", command: "STATUS", bye: "* BYE Session invalidated - AccessTokenExpired", notNow: true,
			do: func(t *testing.T, a *config.Account) error {
				_, err := opened(config.AfterMove)(t, a)
				return err
			}},
		{name: "LIST", command: "LIST", bye: "* BYE Server shutting down.", notNow: true,
			do: then(dial, func(s *Session) error { _, err := s.Folders(context.Background()); return err })},
		{name: "UID SEARCH", command: "UID SEARCH", bye: "* BYE Disconnected for inactivity.", notNow: true,
			do: then(opened(config.AfterNone), func(s *Session) error { _, err := s.New(context.Background(), mailbox.NoneTaken); return err })},
		{name: "header fetch", command: "UID FETCH", bye: "* BYE System Error",
			do: then(opened(config.AfterNone), func(s *Session) error {
				return s.FetchHeaders(context.Background(), one, func(mailbox.Message, io.Reader) error { return nil })
			})},
		{name: "header fetch, then a reset", command: "UID FETCH", bye: "* BYE System Error", reset: true,
			do: then(opened(config.AfterNone), func(s *Session) error {
				return s.FetchHeaders(context.Background(), one, func(mailbox.Message, io.Reader) error { return nil })
			})},
		{name: "UID STORE", command: "UID STORE", bye: "* BYE Session invalidated - AccessTokenExpired", notNow: true,
			do: then(opened(config.AfterSeen), func(s *Session) error {
				return s.Apply(context.Background(), mailbox.After{Action: config.AfterSeen}, one)
			})},
		{name: "UID MOVE", command: "UID MOVE", bye: "* BYE Server shutting down.", notNow: true,
			do: then(opened(config.AfterMove), func(s *Session) error {
				return s.Apply(context.Background(), mailbox.After{Action: config.AfterMove, MoveTo: "Archive"}, one)
			})},
		{name: "UID COPY", command: "UID COPY", bye: "* BYE Connection closed. 14",
			script: testmail.IMAPScript{Capabilities: "IMAP4rev1 UIDPLUS"},
			do: then(opened(config.AfterMove), func(s *Session) error {
				return s.Apply(context.Background(), mailbox.After{Action: config.AfterMove, MoveTo: "Archive"}, one)
			})},
		{name: "UID EXPUNGE", command: "UID EXPUNGE", bye: "* BYE Server shutting down.", notNow: true,
			do: then(opened(config.AfterDelete), func(s *Session) error {
				return s.Apply(context.Background(), mailbox.After{Action: config.AfterDelete}, one)
			})},
		{name: "CAPABILITY before IDLE", command: "CAPABILITY", bye: "* BYE Session invalidated - AccessTokenExpired", notNow: true,
			do: then(dial, func(s *Session) error { _, err := s.CanIdle(context.Background()); return err })},
		{name: "DONE", command: "", bye: "* BYE Server shutting down.", notNow: true,
			script: testmail.IMAPScript{Capabilities: "IMAP4rev1 UIDPLUS MOVE IDLE", Replies: map[string]func(io.Writer, string, string) error{
				"IDLE": func(w io.Writer, _, _ string) error { _, err := io.WriteString(w, "+ idling\r\n"); return err },
			}},
			do: then(dial, func(s *Session) error {
				idling, err := s.Idle(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return idling.Done(context.Background())
			})},
		{name: "LOGOUT", command: "LOGOUT", bye: "* BYE Server shutting down.", notNow: true,
			do: then(dial, func(s *Session) error { return s.Logout(context.Background()) })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := c.script
			script.Messages = messages(1)
			if script.Replies == nil {
				script.Replies = map[string]func(io.Writer, string, string) error{}
			}
			script.Replies[c.command] = func(w io.Writer, _, _ string) error {
				if _, err := io.WriteString(w, c.bye+"\r\n"); err != nil {
					return err
				}
				if c.reset {
					return testmail.ErrReset
				}
				return io.EOF // the server closes the connection
			}
			_, a := hostile(t, script.Script())
			err := c.do(t, a)
			reason := strings.TrimPrefix(c.bye, "* ")
			if err == nil || !strings.Contains(err.Error(), "(the server ended the session: "+reason+")") {
				t.Fatalf("%s cut by %q: %v, want the server's reason", c.name, c.bye, err)
			}
			if !mailbox.IsTransient(err) {
				t.Errorf("%v: want a failure that passes, retried", err)
			}
			if mailbox.NotNow(err) != c.notNow {
				t.Errorf("%v: NotNow = %v, want %v", err, !c.notNow, c.notNow)
			}
			if _, refused := errors.AsType[*mailbox.RefusedError](err); refused {
				t.Errorf("%v: the server refused nothing, it ended the session: the action stays due, unknown", err)
			}
		})
	}
}

// A connection the server ends while idling, with a reason, passes it
// on: Dovecot's "* BYE Disconnected for inactivity." reads as such, not
// as a bare drop, and the watcher reconnects (a failure that passes).
func TestByeWhileIdling(t *testing.T) {
	_, a := hostile(t, testmail.IMAPScript{Capabilities: "IMAP4rev1 UIDPLUS MOVE IDLE", Replies: map[string]func(io.Writer, string, string) error{
		"IDLE": func(w io.Writer, _, _ string) error {
			if _, err := io.WriteString(w, "+ idling\r\n* BYE Disconnected for inactivity.\r\n"); err != nil {
				return err
			}
			return io.EOF
		},
	}}.Script())
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	// The BYE may end the connection before or after IDLE's continuation
	// is taken: either way the failure carries the reason.
	if _, err = s.Idle(context.Background()); err == nil {
		select {
		case <-s.Closed():
		case <-time.After(20 * time.Second):
			t.Fatal("the connection the server closed is still open")
		}
		err = s.Dropped()
	}
	if !strings.Contains(err.Error(), "(the server ended the session: BYE Disconnected for inactivity.)") || !mailbox.IsTransient(err) {
		t.Errorf("idling ended by the server: %v, want its reason, and a failure that passes", err)
	}
}
