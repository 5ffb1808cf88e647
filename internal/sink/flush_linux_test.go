package sink

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlushCoversStaged: where the filesystem flushes as a whole, content
// staged before a Flush needs no fsync of its own and content staged after
// it does; PutStaged names both, after the fsync the second needs.
func TestFlushCoversStaged(t *testing.T) {
	d, path := openTemp(t)
	if !d.flushes {
		t.Skipf("the test directory's filesystem does not flush as a whole; every Stage fsyncs")
	}
	var before []*Staged
	for i := range 3 {
		s, err := d.Stage(strings.NewReader(fmt.Sprint("before ", i)), Policy{})
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, s)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	after, err := d.Stage(strings.NewReader("after"), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	flushed := d.tree.flushed.Load()
	for i, s := range before {
		if s.seq == 0 || s.seq > flushed {
			t.Errorf("staged before the Flush: seq %d, flushed %d", s.seq, flushed)
		}
		if _, err := d.PutStaged(fmt.Sprintf("b%d.txt", i), s); err != nil {
			t.Fatal(err)
		}
	}
	if after.seq <= flushed {
		t.Errorf("staged after the Flush: seq %d, flushed %d", after.seq, flushed)
	}
	if err := after.makeDurable(); err != nil || after.seq != 0 {
		t.Errorf("makeDurable: %v, seq %d; want it fsynced", err, after.seq)
	}
	if _, err := d.PutStaged("a.txt", after); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"b2.txt": "before 2", "a.txt": "after"} {
		if got, err := os.ReadFile(filepath.Join(path, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
}

// TestSameFilesystem: a folder below the destination shares its
// filesystem, a mount elsewhere (/dev/shm stands in for one below it)
// does not, so Flush would not reach it and its Stages fsync.
func TestSameFilesystem(t *testing.T) {
	d, _ := openTemp(t)
	sub, err := d.Folder("2026/11")
	if err != nil {
		t.Fatal(err)
	}
	if !sameFilesystem(sub.root, d.root) || sub.flushes != d.flushes {
		t.Errorf("a folder below the destination: same filesystem %v, flushes %v (destination %v)",
			sameFilesystem(sub.root, d.root), sub.flushes, d.flushes)
	}
	shm, err := os.OpenRoot("/dev/shm")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer shm.Close()
	if sameFilesystem(shm, d.root) {
		t.Error("/dev/shm counts as the test directory's filesystem")
	}
}

func TestKernelAtLeast(t *testing.T) {
	for release, want := range map[string]bool{
		"6.1.0-18-amd64":  true,
		"5.8.0":           true,
		"5.10.0-28-amd64": true,
		"5.7.19":          false,
		"4.19.0-26-amd64": false,
		"6.18.44-fc-v445": true,
		"5.8-rc1":         true,
		"garbage":         false,
		"":                false,
		"5.x":             false,
	} {
		if got := kernelAtLeast(release, 5, 8); got != want {
			t.Errorf("kernelAtLeast(%q, 5, 8) = %v, want %v", release, got, want)
		}
	}
}

// stageLarge stages n files of half flushAhead and a byte, so that the
// second starts a Flush in the background, and waits for it to end.
func stageLarge(t *testing.T, d *Dir, n int) []*Staged {
	t.Helper()
	if !d.flushes {
		t.Skipf("the test directory's filesystem does not flush as a whole; every Stage fsyncs")
	}
	var staged []*Staged
	for i := range n {
		s, err := d.Stage(strings.NewReader(strings.Repeat(fmt.Sprint(i), flushAhead/2+1)), Policy{})
		if err != nil {
			t.Fatal(err)
		}
		staged = append(staged, s)
	}
	d.tree.earlyRun.Wait()
	return staged
}

// A batch of large files used to be written to the disk only by the
// batch's Flush, after the last was staged, and the run waited for all of
// it. Every flushAhead bytes staged now start a Flush of their own.
func TestLargeStagedContentIsFlushedAhead(t *testing.T) {
	d, _ := openTemp(t)
	staged := stageLarge(t, d, 2)
	if flushed := d.tree.flushed.Load(); flushed < staged[1].seq {
		t.Fatalf("%d bytes staged, and what a Flush covered is %d of %d Stages", 2*(flushAhead/2+1), flushed, staged[1].seq)
	}
	small, err := d.Stage(strings.NewReader("small"), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if d.tree.flushed.Load() >= small.seq {
		t.Fatal("a small file staged after the early Flush counts as flushed")
	}
	if err := d.Flush(); err != nil || d.tree.flushed.Load() < small.seq {
		t.Fatalf("Flush: %v; flushed %d, want %d", err, d.tree.flushed.Load(), small.seq)
	}
	for i, s := range append(staged, small) {
		if _, err := d.PutStaged(fmt.Sprintf("f%d", i), s); err != nil {
			t.Fatal(err)
		}
	}
}

// syncfs reports a write-back error to one call only: one that failed in
// the background must fail the batch's own Flush, and every later one,
// even though syncing the filesystem again succeeds.
func TestAFailedFlushAheadFailsTheFlush(t *testing.T) {
	failure := fmt.Errorf("write-back failed")
	calls := 0
	defer func(was func(*os.File) error) { syncFilesystem = was }(syncFilesystem)
	syncfs := syncFilesystem
	syncFilesystem = func(f *os.File) error {
		if calls++; calls == 1 {
			return failure
		}
		return syncfs(f)
	}
	d, _ := openTemp(t)
	staged := stageLarge(t, d, 2)
	if calls != 1 {
		t.Fatalf("the filesystem was synced %d times while staging, want once", calls)
	}
	for range 2 {
		if err := d.Flush(); !errors.Is(err, failure) {
			t.Fatalf("Flush after a failed flush ahead: %v, want %v", err, failure)
		}
	}
	if flushed := d.tree.flushed.Load(); flushed != 0 {
		t.Errorf("flushed %d after the failures, want 0", flushed)
	}
	for _, s := range staged {
		s.Discard()
	}
}
