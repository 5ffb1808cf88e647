package popimap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// testMemory is the memory budget of the tests that spool messages to
// disk: messages over 128 KiB go there, so that those tests need no
// messages of many megabytes.
const testMemory = 256 << 10

func TestSpoolKeepsSmallMessagesInMemoryAndLargeOnesOnDisk(t *testing.T) {
	mem := newMemory(testMemory)
	largest := int(mem.largest())
	for _, c := range []struct {
		size, hint int
	}{{0, 0}, {1000, 1000}, {largest, largest}, {largest + 1, largest + 1}, {largest + 300_000, largest + 300_000},
		// A server that announces less than it sends, or nothing.
		{largest + 300_000, 1000}, {5000, -1}} {
		t.Run(fmt.Sprint(c.size, "/", c.hint), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			data := make([]byte, c.size)
			rand.NewChaCha8([32]byte{7}).Read(data)
			s, err := newSpool(context.Background(), dir, bytes.NewReader(data), int64(c.hint), mem)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.size != int64(c.size) || s.sum != sha256.Sum256(data) {
				t.Errorf("size %d sum %x, want %d %x", s.size, s.sum, c.size, sha256.Sum256(data))
			}
			if onDisk := s.file != nil; onDisk != (c.size > largest) {
				t.Errorf("on disk = %v for %d bytes", onDisk, c.size)
			}
			// Read twice, as the parser and the .eml output do.
			for range 2 {
				got, err := io.ReadAll(s.Reader())
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes (%v), want the %d spooled", len(got), err, c.size)
				}
			}
			// A spool kept for the quarantine moves to disk unchanged.
			if err := s.spill(dir); err != nil {
				t.Fatal(err)
			}
			if s.file == nil || s.mem != nil || s.size != int64(c.size) {
				t.Errorf("after spill: on disk %v, in memory %v, holds %d", s.file != nil, s.mem != nil, s.size)
			}
			if got, err := io.ReadAll(s.Reader()); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes after spill (%v), want %d", len(got), err, c.size)
			}
			// The spool file is unlinked while still open: a crash leaves
			// nothing behind.
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("spool directory holds %d entries", len(entries))
			}
		})
	}
	if free := mem.available(); free != testMemory {
		t.Errorf("%d bytes of the budget free once every spool is closed, want all %d", free, testMemory)
	}
}

// brokenConn fails after n bytes, like a connection dropped mid-message.
type brokenConn struct{ n int }

func (b *brokenConn) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), b.n)
	b.n -= n
	return n, nil
}

func TestSpoolTellsReadFailuresFromStorageFailures(t *testing.T) {
	dir := t.TempDir()
	mem := newMemory(testMemory)
	for _, n := range []int{10, testMemory + 10} {
		_, err := newSpool(context.Background(), dir, &brokenConn{n: n}, 0, mem)
		if _, ok := errors.AsType[*readError](err); !ok {
			t.Errorf("after %d bytes: err = %v, want a *readError", n, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed spool left %d files", len(entries))
	}
	// A spool directory that cannot be created is not the server's fault.
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newSpool(context.Background(), filepath.Join(blocker, "spool"), bytes.NewReader(make([]byte, testMemory)), -1, mem)
	if _, ok := errors.AsType[*readError](err); err == nil || ok {
		t.Errorf("err = %v, want a storage error", err)
	}
}

// Large messages, spooled to files, with an .eml output read from each
// spool as it is staged: the run clears a crash's spool debris and takes
// every message intact.
func TestRunRemovesSpoolDebrisAndTakesLargeMessages(t *testing.T) {
	const n = 5
	f := newFixture(t, testmail.IMAPOptions{}, `[task.output]`, `eml = true`)
	f.memory = testMemory
	want := map[string]string{}
	var raws [][]byte
	for i := range n {
		content := make([]byte, testMemory) // the message is larger still
		rand.NewChaCha8([32]byte{3, byte(i)}).Read(content)
		name := fmt.Sprintf("large-%d.bin", i)
		raw := testmail.NewMessage(name, testmail.Attachment{Name: name, Content: content})
		f.append(raw)
		want[name] = sha(content)
		raws = append(raws, raw)
	}
	debris := filepath.Join(SpoolDir(f.cfg.StateDir, "t"), "msg-123")
	if err := os.MkdirAll(filepath.Dir(debris), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(debris, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sum := f.mustRun(); sum.Saved != n || sum.Files != 2*n {
		t.Errorf("summary = %+v", sum)
	}
	if _, err := os.Stat(debris); !os.IsNotExist(err) {
		t.Errorf("spool debris still there: %v", err)
	}
	emls := map[string]bool{}
	for _, raw := range raws {
		emls[sha(raw)] = true
	}
	got := f.files()
	for name, sum := range got {
		if filepath.Ext(name) == ".eml" {
			if !emls[sum] {
				t.Errorf("%s differs from every message as received", name)
			}
			delete(emls, sum)
		} else if want[name] != sum {
			t.Errorf("%s is not an attachment as sent", name)
		}
	}
	if len(emls) != 0 || len(got) != 2*n {
		t.Errorf("files = %v, want %d attachments as sent and their .eml", sortedKeys(got), n)
	}
}

// Large unparseable messages, each spooled to a file: each keeps its
// spool until its batch is written, and every one is quarantined intact.
func TestLargeUnparseableMessagesAreQuarantinedIntact(t *testing.T) {
	const n = 5
	f := newFixture(t, testmail.IMAPOptions{})
	f.memory = testMemory
	want := map[string]bool{}
	for i := range n {
		// No header fields: a blank line, then lines of text.
		line := fmt.Sprintf("line of message %d, which has no header\r\n", i)
		raw := []byte("\r\n" + strings.Repeat(line, testMemory/len(line)))
		f.append(raw)
		want[sha(raw)] = true
	}
	if sum := f.mustRun(); sum.Failed != n || sum.Saved != 0 {
		t.Errorf("summary = %+v, want %d quarantined", sum, n)
	}
	got := filesIn(t, QuarantineDir(f.cfg.StateDir, "t"))
	for name, sum := range got {
		if filepath.Ext(name) == ".eml" {
			if !want[sum] {
				t.Errorf("%s differs from every message as received", name)
			}
			delete(want, sum)
		}
	}
	if len(want) != 0 {
		t.Errorf("quarantine holds %v; %d messages missing", sortedKeys(got), len(want))
	} // Quarantined mail is readable by its owner alone.
	filepath.WalkDir(filepath.Join(f.cfg.StateDir, "failed"), func(p string, e fs.DirEntry, err error) error {
		if fi, ierr := e.Info(); err == nil && ierr == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want none for group and others", p, fi.Mode().Perm())
		}
		return err
	})
}

// Messages are parsed concurrently but written in message order, so the
// names given on collision are the same on every run.
func TestCollisionSuffixesFollowMessageOrder(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	var want []string
	for i := range 12 {
		// Sizes vary so that parsers finish out of order.
		body := bytes.Repeat([]byte{byte('a' + i)}, 1+(11-i)*50_000)
		f.append(testmail.NewMessage(fmt.Sprint(i), testmail.Attachment{Name: "report.txt", ContentType: "text/plain", Content: body}))
		name := "report.txt"
		if i > 0 {
			name = fmt.Sprintf("report (%d).txt", i)
		}
		want = append(want, name+"="+sha(body))
	}
	f.mustRun()
	var got []string
	for name, sum := range f.files() {
		got = append(got, name+"="+sum)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("files = %v\nwant %v", got, want)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A message whose files cannot be written fails the batch: the messages
// parsed ahead of it are not committed either, and the next run takes
// every one of them exactly once.
func TestWriteFailureMidBatchCommitsNothing(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, "[task.output]", `on_collision = "fail"`)
	want := map[string]string{}
	for i := range 8 {
		name := fmt.Sprintf("file-%d.txt", i)
		body := []byte(fmt.Sprintf("content %d\n", i))
		f.append(testmail.NewMessage(name, testmail.Attachment{Name: name, ContentType: "text/plain", Content: body}))
		want[name] = sha(body)
	}
	obstacle := filepath.Join(f.dest(), "file-3.txt")
	if err := os.MkdirAll(f.dest(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(obstacle, []byte("someone else's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run(); err == nil {
		t.Fatal("run succeeded over a name on_collision = \"fail\" forbids")
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if st.Done.Len() != 0 {
		t.Errorf("failed batch recorded %s as done", st.Done.String())
	}
	if err := os.Remove(obstacle); err != nil {
		t.Fatal(err)
	}
	if sum := f.mustRun(); sum.Saved != 8 {
		t.Errorf("second run summary = %+v", sum)
	}
	if got := f.files(); !maps.Equal(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}

// A link planted in place of the task's spool made the run delete every
// file in the folder it pointed to. The run now refuses it.
func TestLinkInPlaceOfTheSpoolIsRefused(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")}))
	victim := t.TempDir()
	keep := filepath.Join(victim, "precious")
	if err := os.WriteFile(keep, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	spool := SpoolDir(f.cfg.StateDir, "t")
	if err := os.MkdirAll(filepath.Dir(spool), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, spool); err != nil {
		t.Fatal(err)
	}
	if _, err := f.run(); err == nil || !strings.Contains(err.Error(), "is not a folder (a link?)") {
		t.Errorf("err = %v, want the link refused", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the file in the folder the spool link pointed to: %v", err)
	}
}
