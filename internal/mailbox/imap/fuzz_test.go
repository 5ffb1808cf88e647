package imap

import (
	"context"
	"io"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// FuzzSession runs a whole session (sign in, select, list, fetch, move,
// log out) against a server that sends the fuzzer's bytes: whatever it
// sends, the session ends in time, without a panic, and costs memory in
// proportion to what it was sent. The input is split at NUL bytes: the
// first part is the greeting, the next ones answer the client's commands
// in turn ("{tag}" stands for the command's tag); an empty part, and
// commands beyond the parts, get a plain server's answer.
func FuzzSession(f *testing.F) {
	// The commands of a session, in turn: LOGIN, CAPABILITY, STATUS (the
	// move folder), SELECT, UID SEARCH, UID FETCH (RFC822.SIZE), UID FETCH
	// (BODY.PEEK[]), UID COPY, UID STORE, UID EXPUNGE, LOGOUT.
	const search, sizes, fetch, copyUID = 5, 6, 7, 8
	for _, seed := range []map[int]string{
		{},
		{0: "* OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] ready\r\n"},
		{1: "{tag} NO \x1b]0;owned\x07 bad\r\n"},
		{4: "* LIST () \"/\" {99999999999}\r\nxx"},
		{search: "* SEARCH 0 1 2\r\n{tag} OK done\r\n"},
		{search: "* SEARCH 1 4294967295\r\n{tag} OK done\r\n"},
		{search: "* ESEARCH (TAG \"{tag}\") UID ALL 1:4294967295\r\n{tag} OK done\r\n"},
		{sizes: "* 1 FETCH (UID 1 RFC822.SIZE 99999999999999999999)\r\n* 2 FETCH (RFC822.SIZE {3}\r\nabc UID 2)\r\n{tag} OK done\r\n"},
		{sizes: "* 1 FETCH (UID 1 RFC822.SIZE 2000000)\r\n{tag} OK done\r\n"},
		{fetch: "* 1 FETCH (BODY[] {5}\r\nhello UID 1)\r\n* 9 FETCH (UID 99 BODY[] {3}\r\nabc)\r\n{tag} OK done\r\n"},
		{fetch: "* 1 FETCH (UID 1 BODY[] {99999999999}\r\nabc"},
		{copyUID: "{tag} OK [COPYUID 7 1:4294967295 1:4294967295] done\r\n"},
	} {
		f.Add(testmail.PlayedInput(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		testmail.Play(t, input, testmail.IMAPScript{Capabilities: "IMAP4rev1 UIDPLUS", Messages: messages(3)}.Script(), func(addr string) { converse(account(addr, 50*time.Millisecond)) })
	})
}

// converse runs a session to its end, as far as the server lets it.
func converse(a *config.Account) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Dial(ctx, a, auth.Password("user", "pass"))
	if err != nil {
		return
	}
	defer s.Close()
	s.LimitMessageSize(1 << 20)
	after := mailbox.After{Action: config.AfterMove, MoveTo: "Processed"}
	if _, err := s.Select(ctx, "INBOX", after); err != nil {
		return
	}
	found, err := s.New(ctx, mailbox.NoneTaken)
	msgs := found.New
	if err != nil {
		return
	}
	_ = s.Fetch(ctx, msgs[:min(len(msgs), 3)], func(_ mailbox.Message, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	_ = s.Apply(ctx, after, msgs[:min(len(msgs), 3)])
	_ = s.Logout(ctx)
}
