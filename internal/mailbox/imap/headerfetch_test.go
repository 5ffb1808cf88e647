package imap

import (
	"context"
	"fmt"
	"io"
	"testing"

	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// answeringHeaders answers UID FETCH with the header of message 1 under
// the section name given, as a server writes it.
func answeringHeaders(header, section string) testmail.IMAPScript {
	return testmail.IMAPScript{Messages: [][]byte{[]byte(header + "body\r\n")}, Replies: map[string]func(io.Writer, string, string) error{
		"UID FETCH": func(w io.Writer, tag, _ string) error {
			_, err := fmt.Fprintf(w, "* 1 FETCH (UID 1 %s {%d}\r\n%s)\r\n%s OK FETCH completed\r\n", section, len(header), header, tag)
			return err
		},
	}}
}

// Servers name the section of a partial header fetch in more than one
// way; the header arrives whichever they use.
func TestHeaderFetchAnswersAsServersWriteThem(t *testing.T) {
	const header = "From: scan@acme.example\r\nSubject: scan\r\n\r\n"
	for _, tc := range []struct{ server, section string }{
		{"RFC 3501: the origin octet alone", "BODY[HEADER]<0>"},
		{"partial not honoured, no origin (hMailServer, GreenMail)", "BODY[HEADER]"},
		{"the origin and the count echoed (WildDuck before 2017)", "BODY[HEADER]<0.1048577>"},
	} {
		t.Run(tc.server, func(t *testing.T) {
			_, s := selected(t, answeringHeaders(header, tc.section))
			var got string
			err := s.FetchHeaders(context.Background(), []mailbox.Message{{UID: 1}}, func(_ mailbox.Message, r io.Reader) error {
				b, err := io.ReadAll(r)
				got = string(b)
				return err
			})
			if err != nil || got != header {
				t.Fatalf("FetchHeaders: %q, %v; want the header", got, err)
			}
		})
	}
}
