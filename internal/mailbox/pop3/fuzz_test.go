package pop3

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// FuzzSession runs a whole session (sign in, list, fetch, delete, quit)
// against a server that sends the fuzzer's bytes: whatever it sends, the
// session ends in time, without a panic, and costs memory in proportion
// to what it was sent. The input is split at NUL bytes: the first part is
// the greeting, the next ones answer the client's commands in turn; an
// empty part, and commands beyond the parts, get a plain server's answer.
func FuzzSession(f *testing.F) {
	// The commands of a session, in turn: CAPA, USER, PASS, UIDL, LIST,
	// CAPA, RETR 1, RETR 2, DELE 1, DELE 2, QUIT.
	const uidl, list, retr = 4, 5, 7
	for _, seed := range []map[int]string{
		{},
		{0: "+OK ready\r\n"},
		{3: "-ERR \x1b]0;owned\x07 bad\r\n"},
		{1: "+OK\r\nUSER\r\nX(\r\n.\r\n"},
		{uidl: "-ERR no UIDL\r\n", list: "+OK\r\n1 30\r\n9223372036854775807 30\r\n.\r\n"},
		{uidl: "+OK\r\n1 dup\r\n2 dup\r\n.\r\n"},
		{uidl: "+OK\r\n1 a\r\n1 b\r\n3 c\r\n.\r\n"},
		{list: "+OK\r\n1 99999999999\r\n2 10\r\n.\r\n"},
		{retr: "+OK\r\n..\r\n.x\r\nno end"},
	} {
		f.Add(testmail.PlayedInput(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		testmail.Play(t, input, testmail.POP3Script{Messages: raws("a", "b")}.Script(), func(addr string) { converse(account(addr, 50*time.Millisecond)) })
	})
}

// converse runs a session to its end, as far as the server lets it.
func converse(a *config.Account) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, a, auth.Password(testUser, testPass), slog.New(slog.DiscardHandler))
	if err != nil {
		return
	}
	defer s.Close()
	s.LimitMessageSize(1 << 20)
	after := mailbox.After{Action: config.AfterDelete}
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
