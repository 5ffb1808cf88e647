package imap

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// fetchWith answers UID FETCH with extra before the messages asked for.
func fetchWith(msgs [][]byte, extra func(w io.Writer) error) testmail.IMAPScript {
	script := testmail.IMAPScript{Messages: msgs}
	plain := script.Script().Answer
	script.Replies = map[string]func(io.Writer, string, string) error{
		"UID FETCH": func(w io.Writer, tag, args string) error {
			if err := extra(w); err != nil {
				return err
			}
			return plain(w, tag+" UID FETCH "+args)
		},
	}
	return script
}

// A message nobody asked for is read past, not kept.
func TestUnrequestedBodyIsDiscarded(t *testing.T) {
	raws := messages(1)
	_, s := selected(t, fetchWith(raws, func(w io.Writer) error {
		io.WriteString(w, "* 9 FETCH (UID 99 BODY[] ")
		if err := testmail.Literal(w, hostileBytes); err != nil {
			return err
		}
		_, err := io.WriteString(w, ")\r\n")
		return err
	}))
	var got map[uint32][]byte
	var err error
	cost := testmail.Allocated(func() { got, err = fetchAll(s, []mailbox.Message{{UID: 1}}) })
	if err != nil || string(got[1]) != string(raws[0]) || len(got) != 1 {
		t.Errorf("Fetch: %v, got %d messages", err, len(got))
	}
	if cost > boundedAlloc {
		t.Errorf("a %d MB message nobody asked for cost %d MB", hostileBytes>>20, cost>>20)
	}
}

// uidAfterLiteral answers FETCH and UID FETCH with the UID after the
// literal, as Exchange does when a fetch sets \Seen, the message being
// size bytes; seqUID is the UID the answer to FETCH by number gives.
func uidAfterLiteral(size int64, seqUID int) testmail.IMAPScript {
	answer := func(uid int) func(io.Writer, string, string) error {
		return func(w io.Writer, tag, _ string) error {
			io.WriteString(w, "* 1 FETCH (BODY[] ")
			if err := testmail.Literal(w, size); err != nil {
				return err
			}
			_, err := fmt.Fprintf(w, " UID %d)\r\n%s OK FETCH completed\r\n", uid, tag)
			return err
		}
	}
	return testmail.IMAPScript{Messages: messages(1), Replies: map[string]func(io.Writer, string, string) error{
		"UID FETCH": answer(1),
		"FETCH":     answer(seqUID),
	}}
}

// A message whose UID comes after its literal streams like any other.
func TestUIDAfterLiteralStreams(t *testing.T) {
	_, s := selected(t, uidAfterLiteral(hostileBytes, 1))
	var size int64
	var sum [32]byte
	var err error
	cost := testmail.Allocated(func() {
		err = s.Fetch(context.Background(), []mailbox.Message{{UID: 1}}, func(m mailbox.Message, r io.Reader) error {
			h := sha256.New()
			n, err := io.Copy(h, r)
			size, sum = n, [32]byte(h.Sum(nil))
			return err
		})
	})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	var want strings.Builder
	testmail.Literal(&want, hostileBytes)
	_, body, _ := strings.Cut(want.String(), "\r\n")
	if size != hostileBytes || sum != sha256.Sum256([]byte(body)) {
		t.Errorf("got %d bytes, want the %d sent", size, hostileBytes)
	}
	if cost > boundedAlloc {
		t.Errorf("a %d MB message with its UID after the literal cost %d MB", hostileBytes>>20, cost>>20)
	}
}

// Asked for again by number, the message must still be the one asked
// for.
func TestUIDAfterLiteralOfAnotherMessageFails(t *testing.T) {
	_, s := selected(t, uidAfterLiteral(100, 2))
	_, err := fetchAll(s, []mailbox.Message{{UID: 1}})
	if err == nil || !mailbox.IsTransient(err) || !strings.Contains(err.Error(), "then UID 2") {
		t.Errorf("Fetch: %v, want a transient failure naming the other UID", err)
	}
}

// A message announced larger than a message may be is not read, into
// memory or anywhere.
func TestTooLargeMessageIsNotRead(t *testing.T) {
	raws := messages(2)
	script := testmail.IMAPScript{Messages: raws, Replies: map[string]func(io.Writer, string, string) error{
		"UID FETCH": func(w io.Writer, tag, _ string) error {
			fmt.Fprintf(w, "* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n* 2 FETCH (UID 2 BODY[] {99999999999}\r\n", len(raws[0]), raws[0])
			if err := testmail.Endless(w, "x", hostileBytes); err != nil {
				return err
			}
			return io.EOF
		},
	}}
	srv, s := selected(t, script)
	var delivered []uint32
	var err error
	cost := testmail.Allocated(func() {
		err = s.Fetch(context.Background(), []mailbox.Message{{UID: 1}, {UID: 2}}, func(m mailbox.Message, r io.Reader) error {
			delivered = append(delivered, m.UID)
			if m.Size > mailbox.DefaultMaxMessageSize {
				return fmt.Errorf("uid %d of %d bytes delivered", m.UID, m.Size)
			}
			_, err := io.Copy(io.Discard, r)
			return err
		})
	})
	var tl *mailbox.TooLargeError
	if !errors.As(err, &tl) || tl.Msg.UID != 2 || tl.Size != 99999999999 || mailbox.IsTransient(err) {
		t.Fatalf("Fetch: %v, want a TooLargeError for UID 2, not transient", err)
	}
	if !slices.Equal(delivered, []uint32{1}) {
		t.Errorf("delivered %v, want the message before the large one only", delivered)
	}
	if cost > boundedAlloc || srv.Sent() > hostileBytes {
		t.Errorf("refusing the message cost %d MB, and the server sent %d MB", cost>>20, srv.Sent()>>20)
	}
}

func TestLimitMessageSize(t *testing.T) {
	raws := [][]byte{[]byte("Subject: small\r\n\r\nx\r\n"), []byte("Subject: large\r\n\r\n" + strings.Repeat("x", 5000) + "\r\n")}
	_, s := selected(t, testmail.IMAPScript{Messages: raws})
	s.LimitMessageSize(1000)
	got, err := fetchAll(s, []mailbox.Message{{UID: 1}, {UID: 2}})
	var tl *mailbox.TooLargeError
	if !errors.As(err, &tl) || tl.Msg.UID != 2 || tl.Limit != 1000 || len(got) != 1 {
		t.Errorf("Fetch: %v, got %d; want the message of 5000 bytes refused, the other delivered", err, len(got))
	}
}

// A FETCH the server completes without one of the messages asked for, as
// Exchange does for a message it cannot read, delivers the others and
// names the one left out, for the caller to count an attempt of it; the
// session goes on.
func TestMessageLeftOutIsNamed(t *testing.T) {
	raws := messages(3)
	script := testmail.IMAPScript{Messages: raws, Replies: map[string]func(io.Writer, string, string) error{
		"UID FETCH": func(w io.Writer, tag, _ string) error {
			for _, uid := range []int{1, 3} {
				fmt.Fprintf(w, "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", uid, uid, len(raws[uid-1]), raws[uid-1])
			}
			_, err := io.WriteString(w, tag+" OK done\r\n")
			return err
		},
	}}
	_, s := selected(t, script)
	got, err := fetchAll(s, []mailbox.Message{{UID: 1}, {UID: 2}, {UID: 3}})
	nd, ok := errors.AsType[*mailbox.NotDeliveredError](err)
	if !ok || len(nd.Msgs) != 1 || nd.Msgs[0].UID != 2 || !mailbox.IsTransient(err) {
		t.Fatalf("Fetch: %v, want UID 2 named as not delivered", err)
	}
	if len(got) != 2 || string(got[3]) != string(raws[2]) {
		t.Errorf("delivered %d messages", len(got))
	}
	if got, err := fetchAll(s, []mailbox.Message{{UID: 1}}); err != nil || len(got) != 1 {
		t.Errorf("the session does not go on: %v", err)
	}
}
