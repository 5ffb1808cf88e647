package imap

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

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
