package imap

import (
	"errors"
	"io"
	"testing"

	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// A server whose connection ends in the middle of a message's literal
// (it closed it, a proxy cut it) hands the client a clean end of stream
// where bytes were announced. The message must not arrive as if whole:
// its reader fails, and the fetch fails as a dropped connection does,
// worth retrying. Read under -race, the rest of the cut FETCH is also
// read by one goroutine at a time.
func TestAMessageCutShortFailsItsReader(t *testing.T) {
	raw := messages(1)[0]
	_, s := selected(t, testmail.IMAPScript{
		Messages: [][]byte{raw},
		Replies: map[string]func(w io.Writer, tag, args string) error{
			"UID FETCH": func(w io.Writer, tag, args string) error {
				if _, err := io.WriteString(w, "* 1 FETCH (UID 1 BODY[] {100}\r\n"); err != nil {
					return err
				}
				if _, err := w.Write(raw[:10]); err != nil {
					return err
				}
				return errors.New("cut") // the server closes the connection
			},
		},
	})
	var readErr error
	err := s.Fetch(t.Context(), []mailbox.Message{{UID: 1}}, func(m mailbox.Message, r io.Reader) error {
		got, err := io.ReadAll(r)
		if err == nil {
			t.Errorf("a message cut after %d of its 100 bytes read as whole", len(got))
		}
		readErr = err
		return err
	})
	if readErr == nil || !errors.Is(err, readErr) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Fetch: %v; the message's reader said %v", err, readErr)
	}
	if !mailbox.IsTransient(err) {
		t.Errorf("Fetch: %v, want a transient failure (a dropped connection)", err)
	}
}
