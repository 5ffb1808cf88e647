package popimap

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/diagnose"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

func pdf(body string) []byte { return []byte("%PDF-1.4\n" + body + "\n%%EOF\n") }

func TestIngestsEveryAttachmentOnceAcrossRuns(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	f.append(
		testmail.NewMessage("invoice 1", testmail.Attachment{Name: "invoice.pdf", ContentType: "application/pdf", Content: pdf("one")}),
		testmail.NewMessage("no attachment"),
		testmail.NewMessage("two files", testmail.Attachment{Name: "a.csv", ContentType: "text/csv", Content: []byte("x,y\n1,2\n")},
			testmail.Attachment{Name: "invoice.pdf", ContentType: "application/pdf", Content: pdf("two")}),
	)
	before := time.Now()
	sum := f.mustRun()
	if sum.Seen != 3 || sum.Saved != 3 || sum.Files != 3 || sum.Failed != 0 {
		t.Errorf("first run summary = %+v", sum)
	}
	if sum.Committed.Before(before) || sum.Committed.After(time.Now()) {
		t.Errorf("first run committed at %v, not during the run", sum.Committed)
	}
	got := f.files()
	want := []string{"a.csv", "invoice (1).pdf", "invoice.pdf"}
	if !slices.Equal(sortedKeys(got), want) {
		t.Fatalf("files = %v, want %v", sortedKeys(got), want)
	}

	// A second run takes nothing and downloads nothing.
	fetched := len(f.srv.FetchedUIDs())
	sum = f.mustRun()
	if sum.Seen != 0 || sum.Files != 0 || !sum.Committed.IsZero() {
		t.Errorf("second run summary = %+v", sum)
	}
	if n := len(f.srv.FetchedUIDs()); n != fetched {
		t.Errorf("second run fetched %d messages", n-fetched)
	}

	// A new message is the only one taken next time.
	f.append(testmail.NewMessage("late", testmail.Attachment{Name: "late.pdf", ContentType: "application/pdf", Content: pdf("late")}))
	if sum = f.mustRun(); sum.Seen != 1 || sum.Files != 1 {
		t.Errorf("third run summary = %+v", sum)
	}
	if len(f.files()) != 4 {
		t.Errorf("files after third run: %v", sortedKeys(f.files()))
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if st.LastSuccess == nil || st.LastSuccess.Files != 1 || st.Done.Len() != 4 {
		t.Errorf("state after runs: last success %+v, done %s", st.LastSuccess, st.Done.String())
	}
}

func TestDemoCorpus(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	corpus := testmail.DemoCorpus()
	wantFiles := 0
	for _, fx := range corpus {
		f.append(fx.Raw)
		wantFiles += len(fx.Files)
	}
	sum := f.mustRun()
	if sum.Seen != len(corpus) {
		t.Errorf("seen %d of %d", sum.Seen, len(corpus))
	}
	if sum.Failed+sum.Saved != len(corpus) {
		t.Errorf("saved %d + failed %d != %d", sum.Saved, sum.Failed, len(corpus))
	}
	if got := len(f.files()); got < wantFiles-2 { // a malformed message may yield less
		t.Errorf("%d files written, want about %d: %v", got, wantFiles, sortedKeys(f.files()))
	}
}

// A crash after the files are durable but before the state is saved is
// what deleting state and ledger simulates: the message is taken again,
// and its files, already there byte for byte, are not written twice.
func TestCrashBeforeCommitWritesNoDuplicate(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	f.append(testmail.NewMessage("m", testmail.Attachment{Name: "r.pdf", ContentType: "application/pdf", Content: pdf("r")}))
	f.mustRun()
	before := f.files()
	for _, p := range []string{state.Path(f.cfg.StateDir, "t"), filepath.Join(f.cfg.StateDir, "t.ledger")} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	sum := f.mustRun()
	if sum.Seen != 1 || sum.Files != 0 {
		t.Errorf("re-run summary = %+v", sum)
	}
	if after := f.files(); !slices.Equal(sortedKeys(after), sortedKeys(before)) {
		t.Errorf("files changed from %v to %v", sortedKeys(before), sortedKeys(after))
	}
}

// After a UIDVALIDITY change every UID is new; the ledger recognises the
// messages by content, even when downstream already took the files away.
func TestUIDValidityChangeReingestsNothing(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{UIDValidity: 7})
	f.append(
		testmail.NewMessage("a", testmail.Attachment{Name: "a.pdf", ContentType: "application/pdf", Content: pdf("a")}),
		testmail.NewMessage("b", testmail.Attachment{Name: "b.pdf", ContentType: "application/pdf", Content: pdf("b")}),
	)
	f.mustRun()
	if err := os.Remove(filepath.Join(f.dest(), "a.pdf")); err != nil { // a downstream consumer took it
		t.Fatal(err)
	}
	if err := f.srv.ResetUIDValidity("INBOX", 8); err != nil {
		t.Fatal(err)
	}
	f.append(testmail.NewMessage("c", testmail.Attachment{Name: "c.pdf", ContentType: "application/pdf", Content: pdf("c")}))
	sum := f.mustRun()
	if sum.Seen != 3 || sum.Known != 2 || sum.Files != 1 {
		t.Errorf("summary after UIDVALIDITY change = %+v", sum)
	}
	if got := sortedKeys(f.files()); !slices.Equal(got, []string{"b.pdf", "c.pdf"}) {
		t.Errorf("files = %v", got)
	}
	st, _ := state.Load(f.cfg.StateDir, "t")
	if st.UIDValidity != 8 {
		t.Errorf("state UIDVALIDITY = %d", st.UIDValidity)
	}
}

func TestHostileNamesStayInsideDestination(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	outside := t.TempDir()
	// A symlink planted in the destination under a name an attachment uses.
	if err := os.MkdirAll(f.dest(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(f.dest(), "passwd")); err != nil {
		t.Fatal(err)
	}
	f.append(testmail.HostileMessage())
	sum := f.mustRun()
	if sum.Files == 0 {
		t.Fatalf("no files written: %+v", sum)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was written outside the destination: %v", entries)
	}
	for name := range f.files() {
		if strings.ContainsAny(name, "/\\\x00\n") || strings.HasPrefix(name, ".") {
			t.Errorf("unsafe file name %q", name)
		}
	}
	if fi, err := os.Lstat(filepath.Join(f.dest(), "passwd")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted symlink was replaced or followed: %v %v", fi, err)
	}
}

func TestMalformedMessagesAreKeptAsideNotRetried(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	corpus := testmail.MalformedCorpus()
	for _, fx := range corpus {
		f.append(fx.Raw)
	}
	f.append([]byte("this is not a mail message at all\x00\x01\x02"))
	sum := f.mustRun()
	if sum.Seen != len(corpus)+1 || sum.Saved+sum.Failed != sum.Seen {
		t.Errorf("summary = %+v", sum)
	}
	st, _ := state.Load(f.cfg.StateDir, "t")
	if len(st.Failed) != sum.Failed {
		t.Errorf("state records %d failures, summary %d", len(st.Failed), sum.Failed)
	}
	for _, fl := range st.Failed {
		if _, err := os.Stat(fl.Path); err != nil || fl.Reason == "" {
			t.Errorf("failure %+v: quarantined file: %v", fl, err)
		}
	}
	if again := f.mustRun(); again.Seen != 0 {
		t.Errorf("malformed messages retried: %+v", again)
	}
}

func TestAfterActions(t *testing.T) {
	msg := testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")})
	cases := []struct {
		after string
		check func(t *testing.T, f *fixture)
	}{
		{"none", func(t *testing.T, f *fixture) {
			if m := f.srv.Messages("INBOX"); len(m) != 1 || slices.Contains(m[0].Flags, imap.FlagSeen) {
				t.Errorf("inbox = %+v", m)
			}
		}},
		{"seen", func(t *testing.T, f *fixture) {
			if m := f.srv.Messages("INBOX"); len(m) != 1 || !slices.Contains(m[0].Flags, imap.FlagSeen) {
				t.Errorf("inbox = %+v", m)
			}
		}},
		{"flag", func(t *testing.T, f *fixture) {
			if m := f.srv.Messages("INBOX"); len(m) != 1 || !slices.Contains(m[0].Flags, imap.FlagFlagged) {
				t.Errorf("inbox = %+v", m)
			}
		}},
		{"move", func(t *testing.T, f *fixture) {
			if n, p := len(f.srv.Messages("INBOX")), len(f.srv.Messages("Processed")); n != 0 || p != 1 {
				t.Errorf("inbox %d, processed %d", n, p)
			}
		}},
		{"delete", func(t *testing.T, f *fixture) {
			if n := len(f.srv.Messages("INBOX")); n != 0 {
				t.Errorf("inbox still holds %d", n)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.after, func(t *testing.T) {
			lines := []string{`after = "` + c.after + `"`}
			if c.after == "move" {
				lines = append(lines, `move_to = "Processed"`)
			}
			f := newFixture(t, testmail.IMAPOptions{Mailboxes: []string{"Processed"}}, lines...)
			f.append(msg)
			if sum := f.mustRun(); sum.Files != 1 {
				t.Fatalf("summary %+v", sum)
			}
			c.check(t, f)
		})
	}
}

// Without UIDPLUS, moving or deleting would expunge other clients'
// \Deleted messages; the task refuses before taking anything.
func TestDeleteRefusedWithoutUIDPlus(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{NoUIDPlus: true}, `after = "delete"`)
	f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")}))
	_, err := f.run()
	if err == nil || !strings.Contains(err.Error(), "UIDPLUS") {
		t.Fatalf("err = %v", err)
	}
	if len(f.files()) != 0 || len(f.srv.Messages("INBOX")) != 1 {
		t.Error("something was taken or deleted")
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, `after = "delete"`)
	f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")}))
	sum, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.Planned, []string{"m.pdf"}) {
		t.Errorf("planned = %v", sum.Planned)
	}
	if len(f.files()) != 0 || len(f.srv.Messages("INBOX")) != 1 {
		t.Error("dry run wrote files or deleted mail")
	}
	if _, err := os.Stat(state.Path(f.cfg.StateDir, "t")); !os.IsNotExist(err) {
		t.Errorf("dry run wrote state: %v", err)
	}
}

func TestMaxMessagesSpreadsAFirstPoll(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, "max_messages = 2", "batch_size = 1")
	for i := range 5 {
		f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf(strings.Repeat("x", i))}))
	}
	for i, want := range []int{2, 2, 1, 0} {
		if sum := f.mustRun(); sum.Seen != want {
			t.Errorf("run %d took %d, want %d", i+1, sum.Seen, want)
		}
	}
	if n := len(f.files()); n != 5 {
		t.Errorf("%d files", n)
	}
}

func TestWrongPasswordSaysSo(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	f.writeConfig(f.srv.Addr, "implicit", "wrong-password")
	_, err := f.run()
	var me interface{ Unwrap() error }
	if err == nil || !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "login to "+f.srv.Addr+" as "+testUser+" failed") {
		t.Errorf("error does not say which login failed: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error leaks the password: %v", err)
	}
	if !strings.Contains(diagnose.Hint(err), "password") {
		t.Errorf("hint = %q", diagnose.Hint(err))
	}
}

func TestUnreachableHostSaysSo(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	addr := f.srv.Addr
	f.srv.Close() // nothing listens there now
	_, err := f.run()
	if err == nil || !strings.Contains(err.Error(), "connect to "+addr+" failed") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(diagnose.Hint(err), "Nothing accepts connections") {
		t.Errorf("hint = %q", diagnose.Hint(err))
	}
}

func TestSTARTTLSAndPlaintextLoopback(t *testing.T) {
	for _, mode := range []string{"starttls", "none"} {
		t.Run(mode, func(t *testing.T) {
			opts := testmail.IMAPOptions{StartTLS: mode == "starttls"}
			f := newFixture(t, opts)
			if mode == "none" {
				plain, err := testmail.StartIMAP(testmail.IMAPOptions{Username: testUser, Password: testPassword})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { plain.Close() })
				f.srv = plain
				f.writeConfig(plain.Addr, "none", testPassword)
			}
			f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")}))
			if sum := f.mustRun(); sum.Files != 1 {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}

func TestSecondRunnerIsRefused(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	lock, err := state.Lock(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	_, err = f.run()
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Task != "t" {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrentRunsTakeEachMessageOnce(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	for i := range 20 {
		f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf(strings.Repeat("y", i))}))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { f.run() }) // losers get LockedError
	}
	wg.Wait()
	f.mustRun()
	if n := len(f.files()); n != 20 {
		t.Errorf("%d files, want 20", n)
	}
}
