package pop3

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// Message numbers belong to a session. A session fetching messages that
// another one listed (a run fetching over two connections) finds each by
// its UIDL: once message 1 is deleted in between, the message listed as 3
// is number 2 here. One that has left the server fails the fetch, by name.
func TestFetchFindsMessagesByUIDL(t *testing.T) {
	srv := startServer(t, testmail.POP3Options{}, []byte("one\r\n"), []byte("two\r\n"), []byte("three\r\n"))
	ctx := testCtx(t)
	first := &Session{c: login(t, srv, Options{}), addr: srv.Addr()}
	found, err := first.New(ctx, mailbox.NoneTaken)
	listed := found.New
	if err != nil || len(listed) != 3 {
		t.Fatalf("New = %v, %v", listed, err)
	}
	if err := first.c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := first.Logout(ctx); err != nil {
		t.Fatal(err)
	}

	later := &Session{c: login(t, srv, Options{}), addr: srv.Addr()}
	var got []string
	err = later.Fetch(ctx, listed[1:], func(m mailbox.Message, body io.Reader) error {
		b, err := io.ReadAll(body)
		got = append(got, m.UIDL+" "+strconv.Itoa(m.Num)+" "+string(b))
		return err
	})
	want := []string{listed[1].UIDL + " 1 two\r\n", listed[2].UIDL + " 2 three\r\n"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Fetch = %q, %v; want %q", got, err, want)
	}
	err = later.Fetch(ctx, listed[:1], func(mailbox.Message, io.Reader) error {
		t.Error("a deleted message was delivered")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), listed[0].Key()+": no longer on the server") {
		t.Fatalf("Fetch of a deleted message: %v", err)
	}
}
