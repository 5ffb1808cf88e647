package pop3

import (
	"errors"
	"io"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// A POP3 server that ends the session says why in an -ERR, then closes
// the connection: Dovecot's "-ERR Disconnected for inactivity." and
// "-ERR [SYS/TEMP] Server shutting down.". Sent in answer to a RETR, it
// refuses the session, not the message: the reason reaches the error,
// which passes, is the server's "not now" (mailbox.NotNow, so the run
// counts no attempt against the message), and names no message the
// server would not deliver. At a DELE the reason reaches the error too.
func TestErrThatEndsTheSession(t *testing.T) {
	for _, reply := range []string{"-ERR Disconnected for inactivity.", "-ERR [SYS/TEMP] Server shutting down."} {
		ends := func(w io.Writer, _ string) error {
			if _, err := io.WriteString(w, reply+"\r\n"); err != nil {
				return err
			}
			return io.EOF // the server closes the connection
		}
		reason := strings.TrimPrefix(reply, "-ERR ")
		t.Run("RETR "+reason, func(t *testing.T) {
			_, s := signedIn(t, testmail.POP3Script{Messages: raws("a", "b"), Replies: map[string]func(io.Writer, string) error{"RETR": ends}})
			found, err := s.New(testCtx(t), mailbox.NoneTaken)
			if err != nil {
				t.Fatal(err)
			}
			_, err = fetchAll(s, found.New)
			if err == nil || !strings.Contains(err.Error(), reason) {
				t.Fatalf("Fetch: %v, want the server's reason %q", err, reason)
			}
			if !mailbox.IsTransient(err) || !mailbox.NotNow(err) {
				t.Errorf("Fetch: %v: want a failure that passes, the server's \"not now\"", err)
			}
			if _, ok := errors.AsType[*mailbox.NotDeliveredError](err); ok {
				t.Errorf("Fetch: %v: the server refused the session, not a message", err)
			}
		})
		t.Run("DELE "+reason, func(t *testing.T) {
			_, s := signedIn(t, testmail.POP3Script{Messages: raws("a", "b"), Replies: map[string]func(io.Writer, string) error{"DELE": ends}})
			found, err := s.New(testCtx(t), mailbox.NoneTaken)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Apply(testCtx(t), mailbox.After{Action: config.AfterDelete}, found.New)
			if err == nil || !strings.Contains(err.Error(), reason) || !mailbox.NotNow(err) {
				t.Fatalf("Apply: %v, want the server's reason %q, its \"not now\"", err, reason)
			}
		})
	}
}
