package popimap

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// A message the server never delivers, refusing its RETR or dropping the
// connection on it, does not hold back the others, and after three runs
// is kept aside as failed: the fourth run is clean, and takes what
// arrived since.
func TestUndeliveredMessageIsKeptAsideAfterThreeRuns(t *testing.T) {
	for _, c := range []struct{ name, reply, want string }{
		{"refused", "-ERR message corrupt on disk", "message corrupt on disk"},
		{"dropped", "DROP", "fetch to"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var log commandLog
			log.set("RETR 2", c.reply)
			f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1), scan(2), scan(3)})
			var saved int
			for run := 1; run <= 3; run++ {
				sum, err := f.run()
				saved += sum.Saved
				// The third run may fail too, on a connection dropped.
				if run < 3 && (err == nil || !strings.Contains(err.Error(), c.want)) {
					t.Fatalf("run %d: err = %v, want one naming the failure (%q)", run, err, c.want)
				}
				if (run < 3) != (sum.Failed == 0) {
					t.Errorf("run %d: %d failed", run, sum.Failed)
				}
			}
			if got := sortedKeys(f.files()); saved != 2 || !slices.Equal(got, []string{"scan-1.pdf", "scan-3.pdf"}) {
				t.Errorf("%d saved, files %v: the others are not taken", saved, got)
			}
			st, err := state.Load(f.cfg.StateDir, "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Failed) != 1 || !strings.Contains(st.Failed[0].Reason, "the server did not deliver this message after 3 attempts") ||
				!strings.Contains(st.Failed[0].Key, "uidl:") || len(st.Undelivered) != 0 {
				t.Fatalf("failures %+v, undelivered %v", st.Failed, st.Undelivered)
			}
			if _, err := os.Stat(st.Failed[0].Path); err != nil {
				t.Errorf("no note of why beside the quarantine: %v", err)
			}
			if sum, err := f.run(); err != nil || sum.Seen != 0 {
				t.Errorf("fourth run: %+v, %v", sum.Counts, err)
			}
		})
	}
}

// A message whose fetch fails in one run and succeeds in the next is taken
// as any other: the attempt counted is forgotten.
func TestUndeliveredOnceIsTakenNextRun(t *testing.T) {
	var log commandLog
	log.set("RETR 1", "-ERR try later")
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1), scan(2)})
	if sum, err := f.run(); err == nil || sum.Saved != 1 {
		t.Fatalf("first run: %+v, %v", sum.Counts, err)
	}
	log.set("RETR 1", "")
	if sum := f.mustRun(); sum.Saved != 1 || sum.Failed != 0 {
		t.Errorf("second run: %+v", sum.Counts)
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 0 || len(st.Undelivered) != 0 || len(f.files()) != 2 {
		t.Errorf("failures %+v, undelivered %v, files %v", st.Failed, st.Undelivered, sortedKeys(f.files()))
	}
}

// large is a message of more than a MiB, with a small header.
func large() []byte {
	return testmail.NewMessage("large", testmail.Attachment{Name: "large.pdf", ContentType: "application/pdf", Content: bytes.Repeat([]byte("%PDF"), 300_000)})
}

// A message the server announces larger than max_message_size is not
// downloaded: its header alone is kept aside, with the reason, it counts
// as failed, and the run takes the others and succeeds.
func TestMessageAboveMaxMessageSizeIsNotDownloaded(t *testing.T) {
	for _, protocol := range []string{"imap", "pop3"} {
		t.Run(protocol, func(t *testing.T) {
			var f *fixture
			if protocol == "imap" {
				f = newFixture(t, testmail.IMAPOptions{}, `max_message_size = "1MiB"`, `after_failure = "keyword"`)
				f.append(scan(1), large(), scan(3))
			} else {
				f = newPOP3Fixture(t, testmail.POP3Options{}, [][]byte{scan(1), large(), scan(3)}, `max_message_size = "1MiB"`)
			}
			sum := f.mustRun()
			if sum.Saved != 2 || sum.Failed != 1 || len(f.files()) != 2 {
				t.Errorf("summary %+v, files %v", sum.Counts, sortedKeys(f.files()))
			}
			if f.srv != nil && slices.Contains(f.srv.FetchedUIDs(), 2) {
				t.Errorf("the large message was downloaded: UIDs fetched %v", f.srv.FetchedUIDs())
			}
			if f.srv != nil && !hasFlag(f.srv.Messages("INBOX")[1].Flags, "$MailtaskFailed") {
				t.Errorf("the large message's failure action was not carried out: flags %v", f.srv.Messages("INBOX")[1].Flags)
			}
			if sum.Due.Failure != 0 {
				t.Errorf("%d failure actions left due", sum.Due.Failure)
			}
			if f.pop != nil && f.pop.Retrieved() != 2 {
				t.Errorf("%d messages retrieved, want 2", f.pop.Retrieved())
			}
			st, err := state.Load(f.cfg.StateDir, "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Failed) != 1 || !strings.Contains(st.Failed[0].Reason, "larger than max_message_size") {
				t.Fatalf("failures %+v", st.Failed)
			}
			header, err := os.ReadFile(st.Failed[0].Path)
			if err != nil || !strings.HasSuffix(st.Failed[0].Path, ".header.eml") || len(header) > 4096 || !bytes.Contains(header, []byte("Subject: large")) {
				t.Errorf("kept %s (%d bytes, %v), want the header alone", st.Failed[0].Path, len(header), err)
			}
			if sum := f.mustRun(); sum.Seen != 0 {
				t.Errorf("next run %+v: the message is not done", sum.Counts)
			}
		})
	}
}

// headerBomb is a message of little more than a MiB, nearly all header.
func headerBomb() []byte {
	var pad strings.Builder
	for i := 0; pad.Len() <= mailbox.MaxHeader; i++ {
		fmt.Fprintf(&pad, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 70))
	}
	return append([]byte(pad.String()), scan(2)...)
}

// A message larger than max_message_size whose header is too is kept
// aside with the first MiB of its header. Over IMAP the header was asked
// for whole, and the server's announcement of it refused as a message too
// large: the run failed, and every run after it.
func TestMessageWhoseHeaderIsAboveMaxMessageSizeIsKeptAside(t *testing.T) {
	for _, protocol := range []string{"imap", "pop3"} {
		t.Run(protocol, func(t *testing.T) {
			var f *fixture
			if protocol == "imap" {
				f = newFixture(t, testmail.IMAPOptions{}, `max_message_size = "1MiB"`)
				f.append(scan(1), headerBomb(), scan(3))
			} else {
				f = newPOP3Fixture(t, testmail.POP3Options{}, [][]byte{scan(1), headerBomb(), scan(3)}, `max_message_size = "1MiB"`)
			}
			sum := f.mustRun()
			if sum.Saved != 2 || sum.Failed != 1 {
				t.Errorf("summary %+v", sum.Counts)
			}
			st, err := state.Load(f.cfg.StateDir, "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Failed) != 1 {
				t.Fatalf("failures %+v", st.Failed)
			}
			header, err := os.ReadFile(st.Failed[0].Path)
			if err != nil || len(header) != mailbox.MaxHeader || !bytes.HasPrefix(header, []byte("X-Pad-0: ")) {
				t.Errorf("kept %s (%d bytes, %v), want the first %d bytes of its header", st.Failed[0].Path, len(header), err, mailbox.MaxHeader)
			}
		})
	}
}

// A message that turns out larger than max_message_size while it arrives,
// the server having announced less, is cut off there and kept aside as
// failed, with nothing of it; the next run takes the others.
func TestMessageLargerThanAnnouncedIsCutOff(t *testing.T) {
	var log commandLog
	log.set("LIST", "+OK 3 messages\r\n1 500\r\n2 500\r\n3 500\r\n.")
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1), large(), scan(3)}, `max_message_size = "1MiB"`)
	sum, err := f.run()
	if err == nil || !strings.Contains(err.Error(), "max_message_size") || sum.Failed != 1 {
		t.Fatalf("run: %+v, %v; want the message named as too large", sum.Counts, err)
	}
	if sum := f.mustRun(); sum.Saved != 2 || sum.Failed != 0 {
		t.Errorf("next run %+v", sum.Counts)
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 1 || !strings.Contains(st.Failed[0].Reason, "larger than max_message_size") || strings.HasSuffix(st.Failed[0].Path, ".eml") {
		t.Errorf("failures %+v", st.Failed)
	}
	if spooled := filesIn(t, SpoolDir(f.cfg.StateDir, "t")); len(spooled) != 0 {
		t.Errorf("spool holds %v", sortedKeys(spooled))
	}
}

// Batches end at batch_size messages or, before that, where the next
// message would take the sizes announced past batchBytes; a message
// larger than that is a batch alone, and a message the server did not
// deliver before still comes last, alone.
func TestBatchesAreBoundedInBytes(t *testing.T) {
	const mb = 1 << 20
	sizes := []int64{5 * mb, 30 * mb, 30 * mb, 1 * mb, 70 * mb, 0, 2 * mb, 3 * mb, 4 * mb, 5 * mb}
	var msgs []mailbox.Message
	for i, size := range sizes {
		msgs = append(msgs, mailbox.Message{UID: uint32(i + 1), Size: size})
	}
	r := &run{
		opts: Options{Task: &config.Task{Name: "t", BatchSize: 3}},
		st:   &state.State{Undelivered: map[string]int{"uid:4": 1}},
	}
	var got [][]uint32
	for _, b := range r.batches(msgs) {
		var uids []uint32
		for _, m := range b {
			uids = append(uids, m.UID)
		}
		got = append(got, uids)
	}
	want := [][]uint32{{1, 2}, {3}, {5}, {6, 7, 8}, {9, 10}, {4}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
}
