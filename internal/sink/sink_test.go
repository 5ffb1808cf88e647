package sink

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func openTemp(t *testing.T) (*Dir, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "drop")
	d, err := Open(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func put(t *testing.T, d *Dir, name, content string) Stored {
	t.Helper()
	st, err := d.Put(name, strings.NewReader(content))
	if err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
	return st
}

// listing returns the folder's entry names, sorted.
func listing(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
}

func TestPutFresh(t *testing.T) {
	d, path := openTemp(t)
	st := put(t, d, "report.pdf", "hello")
	want := Stored{Name: "report.pdf", Size: 5, SHA256: sha256.Sum256([]byte("hello"))}
	if st != want {
		t.Errorf("Put = %+v, want %+v", st, want)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	assertFile(t, filepath.Join(path, "report.pdf"), "hello")
	if got := listing(t, path); !slices.Equal(got, []string{"report.pdf"}) {
		t.Errorf("folder holds %q, want only report.pdf (no temp files)", got)
	}
	fi, err := os.Stat(filepath.Join(path, "report.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o644 != 0 {
		t.Errorf("mode %v, want at most 0644", perm)
	}
}

func TestPutIdenticalIsExisting(t *testing.T) {
	d, path := openTemp(t)
	put(t, d, "report.pdf", "hello")
	st := put(t, d, "report.pdf", "hello")
	if !st.Existing || st.Name != "report.pdf" || st.Size != 5 {
		t.Errorf("second Put = %+v, want Existing report.pdf", st)
	}
	if got := listing(t, path); !slices.Equal(got, []string{"report.pdf"}) {
		t.Errorf("folder holds %q, want only report.pdf", got)
	}
}

func TestPutDifferentGetsSuffix(t *testing.T) {
	d, path := openTemp(t)
	for i, tc := range []struct{ content, want string }{
		{"one", "report.pdf"},
		{"two", "report (1).pdf"},
		{"three", "report (2).pdf"},
		{"two", "report (1).pdf"}, // identical to an earlier suffixed copy
		{"four", "report (3).pdf"},
	} {
		st := put(t, d, "report.pdf", tc.content)
		if st.Name != tc.want {
			t.Errorf("Put #%d got name %q, want %q", i, st.Name, tc.want)
		}
		assertFile(t, filepath.Join(path, tc.want), tc.content)
	}
	if got := listing(t, path); len(got) != 4 {
		t.Errorf("folder holds %q, want 4 files", got)
	}
}

func TestCandidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"report.pdf", 0, "report.pdf"},
		{"report.pdf", 2, "report (2).pdf"},
		{"README", 1, "README (1)"},
		{"archive.tar.gz", 1, "archive.tar (1).gz"},
		{".profile", 1, ".profile (1)"},
		{"trailing.", 1, "trailing (1)."},
	} {
		if got := Candidate(tc.name, tc.n); got != tc.want {
			t.Errorf("Candidate(%q, %d) = %q, want %q", tc.name, tc.n, got, tc.want)
		}
	}
}

// TestFamily checks that every variant the Suffix policy may give a name,
// of the name itself or of one of its variants, is of the name's family,
// and that names no variant can take are not.
func TestFamily(t *testing.T) {
	sum := sha256.Sum256([]byte("content"))
	for _, name := range []string{"report.pdf", "README", "archive.tar.gz", ".profile", "trailing.", "x (1).pdf", "x (#ab) (2)", "a (b).pdf", "(3).txt"} {
		want := Family(name)
		for _, variant := range []string{Candidate(name, 1), Candidate(Candidate(name, 7), 10000), HashedName(name, sum, 12), HashedName(Candidate(name, 3), sum, 64)} {
			if got := Family(variant); got != want {
				t.Errorf("Family(%q) = %q, but Family(%q) = %q: one family", variant, got, name, want)
			}
		}
	}
	for name, want := range map[string]string{
		"x (1) (2).pdf": "x.pdf", "x (#0a1b).pdf": "x.pdf", "README (3)": "README",
		"a (1).tar.gz": "a (1).tar.gz", "a (b).pdf": "a (b).pdf", "a (#xy).pdf": "a (#xy).pdf", "a ().pdf": "a ().pdf", "(3).txt": "(3).txt",
	} {
		if got := Family(name); got != want {
			t.Errorf("Family(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestPutNoExtension(t *testing.T) {
	d, _ := openTemp(t)
	put(t, d, "README", "a")
	if st := put(t, d, "README", "b"); st.Name != "README (1)" {
		t.Errorf("got %q, want %q", st.Name, "README (1)")
	}
}

func TestPutSymlinkAtNameNotFollowed(t *testing.T) {
	d, path := openTemp(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("orig"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(path, "report.pdf")); err != nil {
		t.Fatal(err)
	}
	// Same bytes as the link's target: must still not count as "already there".
	st := put(t, d, "report.pdf", "orig")
	if st.Name != "report (1).pdf" || st.Existing {
		t.Errorf("Put = %+v, want a new report (1).pdf", st)
	}
	st = put(t, d, "report.pdf", "evil")
	if st.Name != "report (2).pdf" {
		t.Errorf("Put = %+v, want report (2).pdf", st)
	}
	assertFile(t, outside, "orig")
	if fi, err := os.Lstat(filepath.Join(path, "report.pdf")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("planted symlink was replaced: %v, %v", fi, err)
	}
}

func TestPutSymlinkInsideFolderNotMatched(t *testing.T) {
	d, path := openTemp(t)
	put(t, d, "a.txt", "same")
	if err := os.Symlink("a.txt", filepath.Join(path, "b.txt")); err != nil {
		t.Fatal(err)
	}
	if st := put(t, d, "b.txt", "same"); st.Name != "b (1).txt" || st.Existing {
		t.Errorf("Put = %+v, want a new b (1).txt", st)
	}
}

func TestPutDirectoryAtName(t *testing.T) {
	d, path := openTemp(t)
	if err := os.Mkdir(filepath.Join(path, "x.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	if st := put(t, d, "x.csv", "data"); st.Name != "x (1).csv" {
		t.Errorf("got %q, want %q", st.Name, "x (1).csv")
	}
}

func TestPutRejectsNames(t *testing.T) {
	d, path := openTemp(t)
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, "/etc/passwd", "a\x00b", tempPrefix + "x"} {
		_, err := d.Put(name, strings.NewReader("x"))
		if !errors.Is(err, errBadName) {
			t.Errorf("Put(%q) error = %v, want bad name", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("Put(%q) error %q does not name the destination", name, err)
		}
	}
	d.Close() // a spare file being created ahead may have a name for a moment
	if got := listing(t, path); len(got) != 0 {
		t.Errorf("folder holds %q after rejected names, want nothing", got)
	}
}

// Open removes what a crashed run of its owner left, and temporary files
// from before they carried an owner; another owner's, which may be content
// it has staged, stay.
func TestOpenRemovesLeftoverTemp(t *testing.T) {
	path := t.TempDir()
	other := tempName(ownerTag("other task"))
	for name, content := range map[string]string{
		tempPrefix + "ABC":      "partial, from an older version",
		tempName(ownerTag("t")): "partial, own",
		other:                   "staged by another task",
		"keep.txt":              "keep",
		".hidden":               "keep",
	} {
		if err := os.WriteFile(filepath.Join(path, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := listing(t, path); !slices.Equal(got, []string{".hidden", other, "keep.txt"}) {
		t.Errorf("after Open folder holds %q, want its own and untagged temporary files gone and the rest kept", got)
	}
}

func TestOpenCreatesMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b")
	d, err := Open(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Path() != path {
		t.Errorf("Path() = %q, want %q", d.Path(), path)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("destination not created: %v", err)
	}
}

func TestOpenFileInTheWay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drop")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, "t")
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open over a file: error %v, want one naming %s", err, path)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

func TestPutFailingSourceLeavesNothing(t *testing.T) {
	d, path := openTemp(t)
	_, err := d.Put("big.bin", &failingReader{n: 100 << 10})
	if err == nil {
		t.Fatal("Put succeeded with a failing source")
	}
	for _, want := range []string{`"big.bin"`, path, "reading content", "connection reset"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := listing(t, path); len(got) != 0 {
		t.Errorf("folder holds %q after a failed Put, want nothing", got)
	}
}

// TestPutDestinationGone fails even as root: the folder's inode is gone, so
// no file can be created in it.
func TestPutDestinationGone(t *testing.T) {
	d, path := openTemp(t)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err := d.Put("report.pdf", strings.NewReader("x"))
	if err == nil {
		t.Fatal("Put into a removed folder succeeded")
	}
	if !strings.Contains(err.Error(), `"report.pdf"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name both file and destination", err)
	}
	if strings.Contains(err.Error(), tempPrefix) {
		t.Errorf("error %q leaks the temporary name", err)
	}
}

func TestPutConcurrentDifferentContent(t *testing.T) {
	d, path := openTemp(t)
	const n = 16
	var wg sync.WaitGroup
	results := make([]Stored, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = d.Put("same.txt", strings.NewReader(fmt.Sprint("content ", i)))
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[results[i].Name] {
			t.Errorf("name %q handed out twice", results[i].Name)
		}
		seen[results[i].Name] = true
		assertFile(t, filepath.Join(path, results[i].Name), fmt.Sprint("content ", i))
	}
	if got := listing(t, path); len(got) != n {
		t.Errorf("folder holds %d entries %q, want %d", len(got), got, n)
	}
}

func TestPutConcurrentSameContent(t *testing.T) {
	d, path := openTemp(t)
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var written int
	for range n {
		wg.Go(func() {
			st, err := d.Put("same.txt", strings.NewReader("identical"))
			if err != nil {
				t.Error(err)
				return
			}
			if st.Name != "same.txt" {
				t.Errorf("got name %q, want same.txt", st.Name)
			}
			if !st.Existing {
				mu.Lock()
				written++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if written != 1 {
		t.Errorf("%d Puts reported writing, want exactly 1", written)
	}
	if got := listing(t, path); !slices.Equal(got, []string{"same.txt"}) {
		t.Errorf("folder holds %q, want only same.txt", got)
	}
}

func TestPlaceFallbackWithoutLink(t *testing.T) {
	d, path := openTemp(t)
	d.noLink.Store(true)
	put(t, d, "a.txt", "one")
	if st := put(t, d, "a.txt", "two"); st.Name != "a (1).txt" {
		t.Errorf("got %q, want a (1).txt", st.Name)
	}
	if st := put(t, d, "a.txt", "one"); !st.Existing {
		t.Errorf("identical content not recognised without links: %+v", st)
	}
	assertFile(t, filepath.Join(path, "a.txt"), "one")
	assertFile(t, filepath.Join(path, "a (1).txt"), "two")
	if got := listing(t, path); len(got) != 2 {
		t.Errorf("folder holds %q, want 2 files", got)
	}
}

func BenchmarkPut(b *testing.B) {
	d, err := Open(b.TempDir(), "t")
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	b.SetBytes(int64(len(content)))
	i := 0
	for b.Loop() {
		content[0] = byte(i)
		content[1] = byte(i >> 8)
		if _, err := d.Put(fmt.Sprintf("f%d.bin", i), bytes.NewReader(content)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
