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

// Both connections fetch: the first FETCH of each waits for the other's
// (meeting). The run takes every message once, and its own connection
// marks them all seen, those the other fetched too.
func TestFetchesOverTwoConnections(t *testing.T) {
	f, m := twoConnectionFixture(t, nil)
	checkEachTakenOnce(t, f, f.mustRun(), m)
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
// message taken once. The server drops the second connection on its
// first FETCH, once the run's own has sent one too.
func TestFailedConnectionHandsItsBatchBack(t *testing.T) {
	f, m := twoConnectionFixture(t, testmail.ErrDrop)
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	checkEachTakenOnce(t, f, sum, m)
	if !strings.Contains(logs.String(), "a further connection failed; the others fetch its batch") {
		t.Errorf("no warning of the failed connection:\n%s", logs.String())
	}
}

// twoConnectionFixture is an IMAP mailbox of 6 messages, taken in batches
// of 2 over two connections with after = "seen", whose server makes the
// first FETCH of the run's connection (1) and of the second (2) wait for
// each other, and answers the second's first FETCH with err (nil serves
// it).
func twoConnectionFixture(t *testing.T, err error) (*fixture, *meeting) {
	m := newMeeting()
	var answered sync.Once
	fault := func(conn int, cmd string) error {
		if cmd != "FETCH" || conn > 2 {
			return nil
		}
		m.arrive(conn - 1)
		var reply error
		if conn == 2 {
			answered.Do(func() { reply = err })
		}
		return reply
	}
	f := newFixture(t, testmail.IMAPOptions{ConnFault: fault}, `after = "seen"`, "batch_size = 2", "connections = 2")
	for i := 1; i <= 6; i++ {
		f.append(scan(i))
	}
	return f, m
}

// checkEachTakenOnce checks that a run of twoConnectionFixture's mailbox
// fetched over both connections, saved each message once and marked it
// seen.
func checkEachTakenOnce(t *testing.T, f *fixture, sum Summary, m *meeting) {
	t.Helper()
	if !m.met() {
		t.Error("the two connections did not both fetch")
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

// meeting makes the first fetch of two connections wait for each other,
// so that both surely fetch whichever is faster. A connection that never
// comes lets the other go after 10 s, and the test fails on met.
type meeting struct {
	came [2]chan struct{}
	once [2]sync.Once
}

func newMeeting() *meeting {
	return &meeting{came: [2]chan struct{}{make(chan struct{}), make(chan struct{})}}
}

// arrive marks connection i (0 or 1) as fetching and waits for the other.
func (m *meeting) arrive(i int) {
	m.once[i].Do(func() { close(m.came[i]) })
	select {
	case <-m.came[1-i]:
	case <-time.After(10 * time.Second):
	}
}

// met reports whether both connections came.
func (m *meeting) met() bool {
	for _, c := range m.came {
		select {
		case <-c:
		default:
			return false
		}
	}
	return true
}
