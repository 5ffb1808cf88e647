package sink

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stageAll stages contents in d, flushes once (as a batch does), and names
// each name in order.
func stageAll(t *testing.T, d *Dir, name string, contents []string) []Stored {
	t.Helper()
	staged := make([]*Staged, len(contents))
	for i, c := range contents {
		s, err := d.Stage(strings.NewReader(c), Policy{})
		if err != nil {
			t.Fatal(err)
		}
		staged[i] = s
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	stored := make([]Stored, len(contents))
	for i, s := range staged {
		st, err := d.PutStaged(name, s)
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		stored[i] = st
	}
	return stored
}

// sameSize returns n different contents of one size: the worst case, as
// each name taken must then be compared by content.
func sameSize(n int, tag string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%%PDF-1.7 %s invoice %06d", tag, i)
	}
	return out
}

// A message of 2,000 parts named invoice.pdf: each name used to be found
// by looking at every variant from "invoice.pdf" up (two million lookups
// and content comparisons, most of a minute). Each now costs a few; 500
// files show it (125,000 looks before).
func TestManySameNamedFilesCostEachAFewLooks(t *testing.T) {
	const n = 500
	d, path := openTemp(t)
	contents := sameSize(n, "a")
	stored := stageAll(t, d, "invoice.pdf", contents)
	for i, st := range stored {
		if want := Candidate("invoice.pdf", i); st.Name != want || st.Existing {
			t.Fatalf("file %d named %q (existing %v), want %q", i, st.Name, st.Existing, want)
		}
	}
	if looks := d.looks.Load(); looks > 3*n {
		t.Errorf("naming %d files looked at %d entries, want at most %d", n, looks, 3*n)
	}

	// The same message again (a re-run after a crash), in another order:
	// every file is recognised where it lies, and nothing new is written.
	again, err := Open(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	shuffled := append([]string(nil), contents...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i, st := range stageAll(t, again, "invoice.pdf", shuffled) {
		b, err := os.ReadFile(filepath.Join(path, st.Name))
		if err != nil || !st.Existing || string(b) != shuffled[i] {
			t.Fatalf("re-run file %d: %+v (%v)", i, st, err)
		}
	}
	if looks := again.looks.Load(); looks > 4*n {
		t.Errorf("recognising %d files looked at %d entries, want at most %d", n, looks, 4*n)
	}
	if entries := listing(t, path); len(entries) != n {
		t.Errorf("%d entries after the re-run, want %d", len(entries), n)
	}
}

// Past 10,000 files of one name, a new one took no name at all: the run
// failed, and with it every message behind the one carrying the name.
// The name now carries the content's hash, the same on a re-run.
func TestPastTheLastNumberedNameTheContentsHashNamesTheFile(t *testing.T) {
	defer func(was int) { maxSuffix = was }(maxSuffix)
	maxSuffix = 30 // 10,000 files take a minute to create on some disks
	d, path := openTemp(t)
	for i := 0; i <= maxSuffix; i++ {
		if err := os.WriteFile(filepath.Join(path, Candidate("scan.pdf", i)), []byte(fmt.Sprint("older scan ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := stageAll(t, d, "scan.pdf", []string{"a new scan"})[0]
	if !strings.HasPrefix(st.Name, "scan (#") || !strings.HasSuffix(st.Name, ").pdf") || len(st.Name) != len("scan (#).pdf")+12 || st.Existing {
		t.Fatalf("stored %+v, want a name carrying 12 digits of the content's hash", st)
	}
	if b, err := os.ReadFile(filepath.Join(path, st.Name)); err != nil || string(b) != "a new scan" {
		t.Fatalf("%s holds %q (%v)", st.Name, b, err)
	}
	again, err := Open(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if st2 := stageAll(t, again, "scan.pdf", []string{"a new scan"})[0]; st2.Name != st.Name || !st2.Existing {
		t.Errorf("the re-run stored %+v, want %q existing", st2, st.Name)
	}
}

// Thirty same-named attachments of one size and different content (the
// benchmark's 4 MB large.bin) were each read back whole, to hash it
// against the variants before it: a tenth of the run's CPU. Only their
// heads are read now, and content that begins alike is still told apart,
// or recognised, by comparing it whole.
func TestSameSizedFilesOfOneNameAreReadBackOnlyAtTheirHead(t *testing.T) {
	const n, size = 8, 1 << 20
	d, path := openTemp(t)
	contents := make([]string, n)
	for i := range contents {
		contents[i] = strings.Repeat(string(rune('a'+i)), size)
	}
	for i, st := range stageAll(t, d, "large.bin", contents) {
		if want := Candidate("large.bin", i); st.Name != want || st.Existing {
			t.Fatalf("file %d named %q (existing %v), want %q", i, st.Name, st.Existing, want)
		}
	}
	if got, most := d.reread.Load(), int64(2*n*headSize); got > most {
		t.Errorf("naming %d files of %d bytes read back %d bytes, want at most %d", n, size, got, most)
	}

	// The same head and size as the first, another last byte: a new file.
	// Then the first again: recognised where it lies.
	sameHead := contents[0][:size-1] + "z"
	stored := stageAll(t, d, "large.bin", []string{sameHead, contents[0]})
	if want := Candidate("large.bin", n); stored[0].Name != want || stored[0].Existing {
		t.Errorf("content differing only at its end stored %+v, want %q new", stored[0], want)
	}
	if stored[1].Name != "large.bin" || !stored[1].Existing {
		t.Errorf("the first content again stored %+v, want large.bin existing", stored[1])
	}
	if entries := listing(t, path); len(entries) != n+1 {
		t.Errorf("%d entries, want %d", len(entries), n+1)
	}
}
