package sink

import (
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
