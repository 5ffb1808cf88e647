package popimap

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/testmail"
)

// Both connections fetch: the server holds the first FETCH until a second
// one arrives, which only a second connection can send. The run takes
// every message once, and its own connection marks them all seen, those
// the other fetched too.
func TestFetchesOverTwoConnections(t *testing.T) {
	f, second := twoConnectionFixture(t, nil)
	checkEachTakenOnce(t, f, f.mustRun(), second)
}

// A POP3 server that locks the maildrop for the first session (RFC 1939)
// keeps a second login waiting, here for an hour: the run takes every
// message over its own connection, once each, and gives the second up
// once nothing is left to fetch instead of waiting for the refusal (the
// fixture's run fails after 30 s).
func TestMaildropLockedLeavesOneConnection(t *testing.T) {
	var raws [][]byte
	for i := 1; i <= 6; i++ {
		raws = append(raws, scan(i))
	}
	f := newPOP3Fixture(t, testmail.POP3Options{LockWait: time.Hour}, raws, `after = "delete"`, "batch_size = 2", "connections = 2")
	sum := f.mustRun()
	if sum.Saved != 6 || len(f.files()) != 6 {
		t.Errorf("run: %+v, files %v", sum, sortedKeys(f.files()))
	}
	if n := f.pop.Retrieved(); n != 6 {
		t.Errorf("%d messages retrieved, want 6", n)
	}
	if left := len(f.pop.Messages()); left != 0 {
		t.Errorf("%d messages left after after = \"delete\"", left)
	}
}

// A further connection that drops mid-batch hands its batch back: the
// run's own connection fetches it, and the run ends without error, every
// message taken once. The server holds the first FETCH (the run's own
// connection's) until the second arrives, and drops the connection that
// sent the second.
func TestFailedConnectionHandsItsBatchBack(t *testing.T) {
	f, second := twoConnectionFixture(t, testmail.ErrDrop)
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	checkEachTakenOnce(t, f, sum, second)
	if !strings.Contains(logs.String(), "a further connection failed; the others fetch its batch") {
		t.Errorf("no warning of the failed connection:\n%s", logs.String())
	}
}

// twoConnectionFixture is an IMAP mailbox of 6 messages, taken in batches
// of 2 over two connections with after = "seen", whose server holds the
// run's first FETCH until the second connection's arrives and answers
// that one with err (holdFirstFetch).
func twoConnectionFixture(t *testing.T, err error) (f *fixture, second <-chan struct{}) {
	fault, second := holdFirstFetch(err)
	f = newFixture(t, testmail.IMAPOptions{Fault: fault}, `after = "seen"`, "batch_size = 2", "connections = 2")
	for i := 1; i <= 6; i++ {
		f.append(scan(i))
	}
	return f, second
}

// checkEachTakenOnce checks that a run of twoConnectionFixture's mailbox
// used the second connection, saved each message once and marked it seen.
func checkEachTakenOnce(t *testing.T, f *fixture, sum Summary, second <-chan struct{}) {
	t.Helper()
	select {
	case <-second:
	default:
		t.Error("no second connection fetched")
	}
	if sum.Saved != 6 || sum.Files != 6 || len(f.files()) != 6 {
		t.Errorf("run: %+v, files %v", sum, sortedKeys(f.files()))
	}
	for _, m := range f.srv.Messages("INBOX") {
		if !slices.Contains(m.Flags, imap.FlagSeen) {
			t.Errorf("message %d not marked seen", m.UID)
		}
	}
}

// holdFirstFetch is an IMAP Fault that holds a run's first FETCH for up
// to 3 s, until a second one arrives: one arriving meanwhile can only come
// from a second connection. It answers that one with err (nil serves it)
// and closes second.
func holdFirstFetch(err error) (fault func(cmd string) error, second <-chan struct{}) {
	var (
		mu      sync.Mutex
		fetches int
		held    bool // the first FETCH is being held
		arrived = make(chan struct{})
	)
	return func(cmd string) error {
		if cmd != "FETCH" {
			return nil
		}
		mu.Lock()
		fetches++
		n, first := fetches, fetches == 1
		held = held || first
		duringHold := n == 2 && held
		mu.Unlock()
		switch {
		case first:
			select {
			case <-arrived:
			case <-time.After(3 * time.Second): // the test fails: no second connection
			}
			mu.Lock()
			held = false
			mu.Unlock()
		case duringHold:
			close(arrived)
			return err
		}
		return nil
	}, arrived
}
