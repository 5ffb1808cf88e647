package popimap

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// commandLog records the POP3 commands a test server sees, as its Fault
// hook, and can make one command fail.
type commandLog struct {
	mu    sync.Mutex
	cmds  []string
	fault map[string]string // command line -> raw reply, "DROP" or "STALL"
}

func (l *commandLog) hook(cmd string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cmd != "" {
		l.cmds = append(l.cmds, cmd)
	}
	return l.fault[cmd]
}

// verbs returns the distinct command verbs seen since the last call.
func (l *commandLog) verbs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]bool{}
	for _, c := range l.cmds {
		verb, _, _ := strings.Cut(c, " ")
		seen[verb] = true
	}
	l.cmds = nil
	return slices.Sorted(maps.Keys(seen))
}

func (l *commandLog) set(cmd, reply string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fault == nil {
		l.fault = map[string]string{}
	}
	if reply == "" {
		delete(l.fault, cmd)
		return
	}
	l.fault[cmd] = reply
}

func scan(i int) []byte {
	return testmail.NewMessage(fmt.Sprintf("scan %d", i), testmail.Attachment{Name: fmt.Sprintf("scan-%d.pdf", i), ContentType: "application/pdf", Content: pdf(fmt.Sprint(i))})
}

func TestPOP3IngestsOnceAndSecondPollOnlyListsUIDLs(t *testing.T) {
	var log commandLog
	corpus := testmail.DemoCorpus()
	var raws [][]byte
	for _, fx := range corpus {
		raws = append(raws, fx.Raw)
	}
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, raws)
	sum := f.mustRun()
	if sum.Seen != len(corpus) || sum.Saved+sum.Failed != len(corpus) {
		t.Errorf("first run: %+v", sum)
	}

	// The same corpus through IMAP must give the same files: one
	// pipeline, whatever the protocol.
	imapF := newFixture(t, testmail.IMAPOptions{})
	imapF.append(raws...)
	imapF.mustRun()
	if got, want := f.files(), imapF.files(); !maps.Equal(got, want) {
		t.Errorf("POP3 files differ from IMAP files:\n pop3 %v\n imap %v", sortedKeys(got), sortedKeys(want))
	}

	log.verbs()
	retrieved := f.pop.Retrieved()
	if sum := f.mustRun(); sum.Seen != 0 || sum.Files != 0 {
		t.Errorf("second run: %+v", sum)
	}
	if n := f.pop.Retrieved() - retrieved; n != 0 {
		t.Errorf("second run retrieved %d messages", n)
	}
	if got, want := log.verbs(), []string{"PASS", "QUIT", "UIDL", "USER"}; !slices.Equal(got, want) {
		t.Errorf("second run sent %v, want only %v", got, want)
	}
}

func TestPOP3DeleteAfterConnectionDroppedBeforeQuit(t *testing.T) {
	var log commandLog
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1), scan(2), scan(3)}, `after = "delete"`, `batch_size = 2`)

	// The connection drops in the middle of the second batch: the first
	// batch is committed and its DELEs sent, but without QUIT the server
	// keeps everything.
	log.set("RETR 3", "DROP")
	if _, err := f.run(); err == nil || !mailbox.IsTransient(err) {
		t.Fatalf("run with a dropped connection: err = %v, want a transient error", err)
	}
	if n := len(f.pop.Messages()); n != 3 {
		t.Errorf("server holds %d messages after a run that never sent QUIT, want 3", n)
	}
	st := loadState(t, f)
	if st.UIDLs.Len() != 2 || len(st.PendingUIDLs) != 2 {
		t.Errorf("state after the drop: %d UIDLs taken, %d deletions pending; want 2 and 2", st.UIDLs.Len(), len(st.PendingUIDLs))
	}
	if n := len(f.files()); n != 2 && n != 3 {
		t.Errorf("%d files after the drop, want 2 (or 3 written but not committed)", n)
	}

	// Now QUIT itself is lost: the deletions are sent again next time.
	log.set("RETR 3", "")
	log.set("QUIT", "DROP")
	sum, err := f.run()
	if err != nil {
		t.Fatalf("run with QUIT dropped: %v", err)
	}
	if sum.Seen != 1 || sum.Files != 1 {
		t.Errorf("run with QUIT dropped: %+v", sum)
	}
	if n := len(f.pop.Messages()); n != 3 {
		t.Errorf("server holds %d messages without a QUIT, want 3", n)
	}
	if st := loadState(t, f); len(st.PendingUIDLs) != 3 {
		t.Errorf("%d deletions pending, want 3", len(st.PendingUIDLs))
	}

	log.set("QUIT", "")
	retrieved := f.pop.Retrieved()
	if sum := f.mustRun(); sum.Seen != 0 {
		t.Errorf("final run: %+v", sum)
	}
	if n := f.pop.Retrieved() - retrieved; n != 0 {
		t.Errorf("final run retrieved %d messages, want 0", n)
	}
	if n := len(f.pop.Messages()); n != 0 {
		t.Errorf("server still holds %d messages", n)
	}
	st = loadState(t, f)
	if len(st.PendingUIDLs) != 0 || st.UIDLs.Len() != 3 {
		t.Errorf("final state: %d pending, %d UIDLs; want 0 and 3 (kept through the grace period)", len(st.PendingUIDLs), st.UIDLs.Len())
	}
	want := []string{"scan-1.pdf", "scan-2.pdf", "scan-3.pdf"}
	if got := sortedKeys(f.files()); !slices.Equal(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

func TestPOP3PrunesUIDLsAfterGrace(t *testing.T) {
	f := newPOP3Fixture(t, testmail.POP3Options{}, [][]byte{scan(1), scan(2)}, `after = "delete"`)
	f.mustRun()
	st := loadState(t, f)
	if st.UIDLs.Len() != 2 {
		t.Fatalf("%d UIDLs after the first run, want 2", st.UIDLs.Len())
	}
	// The messages are gone from the server; once they have been gone
	// longer than the grace period, their UIDLs go too, while a message
	// taken since stays known.
	st.UIDLs.Backdate(time.Now().Add(-31 * 24 * time.Hour))
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	f.pop.Add(scan(3))
	f.mustRun()
	st = loadState(t, f)
	if st.UIDLs.Len() != 1 {
		t.Errorf("%d UIDLs after pruning; want only the one taken since", st.UIDLs.Len())
	}
}

func TestPOP3WithoutUIDLUsesHeaderKeys(t *testing.T) {
	var logs bytes.Buffer
	f := newPOP3Fixture(t, testmail.POP3Options{NoUIDL: true}, [][]byte{scan(1), scan(2), []byte("Subject: no id\r\n\r\nbody\r\n")})
	run := func() Summary {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		return sum
	}
	if sum := run(); sum.Seen != 3 || sum.Files != 2 {
		t.Errorf("first run: %+v", sum)
	}
	if n := strings.Count(logs.String(), "does not support UIDL"); n != 1 {
		t.Errorf("warned %d times in one run, want once:\n%s", n, logs.String())
	}
	retrieved := f.pop.Retrieved()
	if sum := run(); sum.Seen != 0 {
		t.Errorf("second run took %d messages again", sum.Seen)
	}
	if n := f.pop.Retrieved() - retrieved; n != 0 {
		t.Errorf("second run retrieved %d messages", n)
	}
}

// A second poll of a big mailbox asks for nothing but its UIDLs. 2,000
// messages, two batches, show it as 10,000 do (make soak), for 1.2 CPU-s
// under -race instead of 3.3.
func TestPOP3ManyMessagesSecondPollRetrievesNothing(t *testing.T) {
	var log commandLog
	msgs := make([][]byte, testmail.Sample(2_000, 10_000))
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, "Message-ID: <%d@test>\r\nSubject: %d\r\n\r\nno attachment\r\n", i, i)
	}
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, msgs, `batch_size = 1000`)
	if sum := f.mustRun(); sum.Seen != len(msgs) {
		t.Fatalf("first poll: %+v", sum)
	}
	log.verbs()
	retrieved := f.pop.Retrieved()
	if sum := f.mustRun(); sum.Seen != 0 {
		t.Errorf("second poll: %+v", sum)
	}
	if n := f.pop.Retrieved() - retrieved; n != 0 {
		t.Errorf("second poll retrieved %d messages", n)
	}
	if got, want := log.verbs(), []string{"PASS", "QUIT", "UIDL", "USER"}; !slices.Equal(got, want) {
		t.Errorf("second poll sent %v, want only %v", got, want)
	}
}

func TestPOP3ServerErrorsAreClear(t *testing.T) {
	for _, c := range []struct {
		cmd, reply, want string
	}{
		{"PASS " + testPassword, "-ERR [AUTH] Authentication failed.", "login to"},
		{"UIDL", "-ERR [SYS/TEMP] mailbox unavailable", "list to"},
		{"RETR 1", "-ERR message locked", "fetch to"},
		{"RETR 1", "garbage line", "not a POP3 server"},
		{"DELE 1", "-ERR cannot delete", "after-action to"},
	} {
		t.Run(c.cmd+" "+c.reply, func(t *testing.T) {
			var log commandLog
			log.set(c.cmd, c.reply)
			f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1)}, `after = "delete"`)
			_, err := f.run()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if c.reply[0] == '-' && !strings.Contains(err.Error(), c.reply[len("-ERR "):]) {
				t.Errorf("err = %v does not quote the server's reply", err)
			}
			if n := len(f.pop.Messages()); n != 1 {
				t.Errorf("server holds %d messages after a failed run, want 1", n)
			}
		})
	}
}

func TestPOP3StalledServerFailsWithinTimeout(t *testing.T) {
	var log commandLog
	log.set("RETR 1", "STALL")
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1)})
	f.cfg.Accounts["a"].Timeout = config.Duration(300 * time.Millisecond)
	start := time.Now()
	_, err := f.run()
	if err == nil || !mailbox.IsTransient(err) {
		t.Fatalf("err = %v, want a transient timeout", err)
	}
	if !strings.Contains(err.Error(), "did not answer within") {
		t.Errorf("err = %v, want it to say the server did not answer in time", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to give up on a stalled server", d)
	}
}

func loadState(t *testing.T, f *fixture) *state.State {
	t.Helper()
	st, err := state.Load(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	return st
}
