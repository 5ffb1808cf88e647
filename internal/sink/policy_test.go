package sink

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func putWith(t *testing.T, d *Dir, name, content string, p Policy) Stored {
	t.Helper()
	st, err := d.PutWith(name, strings.NewReader(content), p)
	if err != nil {
		t.Fatalf("PutWith(%q): %v", name, err)
	}
	return st
}

func TestCollisionPolicies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Collision
		check  func(t *testing.T, st Stored, err error, path string)
	}{
		{"suffix", Suffix, func(t *testing.T, st Stored, err error, path string) {
			if err != nil || st.Name != "r (1).pdf" {
				t.Errorf("got %+v, %v; want r (1).pdf", st, err)
			}
			assertFile(t, filepath.Join(path, "r.pdf"), "old")
		}},
		{"overwrite", Overwrite, func(t *testing.T, st Stored, err error, path string) {
			if err != nil || st.Name != "r.pdf" || !st.Replaced {
				t.Errorf("got %+v, %v; want r.pdf replaced", st, err)
			}
			assertFile(t, filepath.Join(path, "r.pdf"), "new")
		}},
		{"skip", Skip, func(t *testing.T, st Stored, err error, path string) {
			if err != nil || !st.Skipped || st.Name != "r.pdf" {
				t.Errorf("got %+v, %v; want skipped", st, err)
			}
			assertFile(t, filepath.Join(path, "r.pdf"), "old")
		}},
		{"fail", Fail, func(t *testing.T, st Stored, err error, path string) {
			if !errors.Is(err, ErrCollision) || !strings.Contains(err.Error(), `"r.pdf"`) {
				t.Errorf("error %v, want a collision naming r.pdf", err)
			}
			assertFile(t, filepath.Join(path, "r.pdf"), "old")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, path := openTemp(t)
			put(t, d, "r.pdf", "old")
			// Identical content is never a collision, whatever the policy.
			if st := putWith(t, d, "r.pdf", "old", Policy{Collision: tc.policy}); !st.Existing || st.Name != "r.pdf" {
				t.Errorf("identical content: %+v, want Existing r.pdf", st)
			}
			st, err := d.PutWith("r.pdf", strings.NewReader("new"), Policy{Collision: tc.policy})
			tc.check(t, st, err, path)
			for _, name := range listing(t, path) {
				if strings.HasPrefix(name, tempPrefix) {
					t.Errorf("temporary file %s left", name)
				}
			}
		})
	}
}

func TestOverwriteReplacesSymlinkNotTarget(t *testing.T) {
	d, path := openTemp(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("orig"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(path, "r.pdf")); err != nil {
		t.Fatal(err)
	}
	putWith(t, d, "r.pdf", "new", Policy{Collision: Overwrite})
	assertFile(t, outside, "orig")
	if fi, err := os.Lstat(filepath.Join(path, "r.pdf")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("r.pdf is %v, %v; want a regular file in place of the link", fi, err)
	}
}

func TestOverwriteRefusesFolder(t *testing.T) {
	d, path := openTemp(t)
	if err := os.Mkdir(filepath.Join(path, "r.pdf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutWith("r.pdf", strings.NewReader("x"), Policy{Collision: Overwrite}); err == nil {
		t.Error("overwrote a folder")
	}
}

func TestFolder(t *testing.T) {
	d, path := openTemp(t)
	sub, err := d.Folder("2025/03")
	if err != nil {
		t.Fatal(err)
	}
	st := putWith(t, sub, "r.pdf", "x", Policy{})
	if st.Rel() != "2025/03/r.pdf" || st.Dir != "2025/03" {
		t.Errorf("stored %+v, rel %q", st, st.Rel())
	}
	assertFile(t, filepath.Join(path, "2025", "03", "r.pdf"), "x")
	if again, err := d.Folder("2025/03"); err != nil || again != sub {
		t.Errorf("second Folder = %p, %v; want the same %p", again, err, sub)
	}
	// Folders nest from a subfolder too.
	deeper, err := sub.Folder("a")
	if err != nil || deeper.Path() != filepath.Join(path, "2025", "03", "a") {
		t.Fatalf("sub.Folder = %v, %v", deeper, err)
	}
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(d.tree.created) != 0 {
		t.Errorf("after Sync, %q still awaiting a flush", d.tree.created)
	}
}

func TestFolderRejectsEscapes(t *testing.T) {
	d, path := openTemp(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(path, "link")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"..", "a/../..", "/etc", "a//b", "link", "link/x", tempPrefix + "x", "a\x00b"} {
		if sub, err := d.Folder(rel); err == nil {
			t.Errorf("Folder(%q) = %s, want an error", rel, sub.Path())
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was created outside: %v", entries)
	}
}

func TestDedupe(t *testing.T) {
	d, path := openTemp(t)
	if err := os.MkdirAll(filepath.Join(path, "old", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "old", "deep", "first.pdf"), []byte("same bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "other.pdf"), []byte("same size!"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub, err := d.Folder("new")
	if err != nil {
		t.Fatal(err)
	}
	dedupe := Policy{Dedupe: true}
	st := putWith(t, sub, "copy.pdf", "same bytes", dedupe)
	if st.Duplicate != "old/deep/first.pdf" || st.Name != "" {
		t.Errorf("stored %+v, want a duplicate of old/deep/first.pdf", st)
	}
	// New content is written, and found by the next lookup.
	if st := putWith(t, sub, "fresh.pdf", "fresh", dedupe); st.Duplicate != "" || st.Rel() != "new/fresh.pdf" {
		t.Errorf("stored %+v, want new/fresh.pdf written", st)
	}
	if st := putWith(t, d, "again.pdf", "fresh", dedupe); st.Duplicate != "new/fresh.pdf" {
		t.Errorf("stored %+v, want a duplicate of new/fresh.pdf", st)
	}
	// The same name and content is Existing, not a duplicate: a re-run
	// after a crash must see its own file.
	if st := putWith(t, sub, "fresh.pdf", "fresh", dedupe); !st.Existing || st.Duplicate != "" {
		t.Errorf("stored %+v, want Existing", st)
	}
	if got := listing(t, filepath.Join(path, "new")); !slices.Equal(got, []string{"fresh.pdf"}) {
		t.Errorf("new/ holds %q", got)
	}
}

func TestDedupeIgnoresSymlinks(t *testing.T) {
	d, path := openTemp(t)
	outside := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(outside, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(path, "link.pdf")); err != nil {
		t.Fatal(err)
	}
	if st := putWith(t, d, "a.pdf", "content", Policy{Dedupe: true}); st.Duplicate != "" || st.Name != "a.pdf" {
		t.Errorf("stored %+v: content behind a symlink counted as present", st)
	}
}

// TestStageThenPut: staged content appears only when put, under the name
// and policy PutStaged gets; discarded content leaves nothing.
func TestStageThenPut(t *testing.T) {
	d, path := openTemp(t)
	kept, err := d.Stage(strings.NewReader("kept"), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := d.Stage(strings.NewReader("dropped"), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	putWith(t, d, "r.pdf", "old", Policy{})
	st, err := d.PutStaged("r.pdf", kept)
	if err != nil || st.Name != "r (1).pdf" || st.Size != 4 {
		t.Fatalf("PutStaged: %+v, %v; want r (1).pdf of 4 bytes", st, err)
	}
	dropped.Discard()
	if got := listing(t, path); !slices.Equal(got, []string{"r (1).pdf", "r.pdf"}) {
		t.Errorf("folder holds %q, want the two files and no temporary one", got)
	}
	assertFile(t, filepath.Join(path, "r (1).pdf"), "kept")

	other, err := d.Folder("sub")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := other.Stage(strings.NewReader("x"), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutStaged("x.pdf", elsewhere); err == nil {
		t.Error("PutStaged of content staged in another folder succeeded")
	}
	if got := listing(t, filepath.Join(path, "sub")); len(got) != 0 {
		t.Errorf("sub holds %q after a refused PutStaged, want nothing", got)
	}
}

// TestHashOnlyWhenAsked: Stored.SHA256 is filled when the policy asks
// (Hash, Dedupe, and Put always) and left zero otherwise; recognising
// identical content under a taken name needs no hash either way, and
// content of the same size but different bytes is not taken for it.
func TestHashOnlyWhenAsked(t *testing.T) {
	d, _ := openTemp(t)
	want := sha256.Sum256([]byte("abcd"))
	for _, c := range []struct {
		name string
		p    Policy
		hash bool
	}{
		{"plain.txt", Policy{}, false},
		{"hashed.txt", Policy{Hash: true}, true},
		{"deduped.txt", Policy{Dedupe: true}, true},
	} {
		st, err := d.PutWith(c.name, strings.NewReader("abcd"), c.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.SHA256 == want; got != c.hash {
			t.Errorf("%s with %+v: SHA256 %x", c.name, c.p, st.SHA256)
		}
	}
	if st := put(t, d, "put.txt", "abcd"); st.SHA256 != want {
		t.Errorf("Put: SHA256 %x, want %x", st.SHA256, want)
	}
	same, err := d.PutWith("plain.txt", strings.NewReader("abcd"), Policy{})
	if err != nil || !same.Existing || same.Name != "plain.txt" {
		t.Errorf("identical content again: %+v, %v; want plain.txt, existing", same, err)
	}
	other, err := d.PutWith("plain.txt", strings.NewReader("abce"), Policy{})
	if err != nil || other.Existing || other.Name != "plain (1).txt" {
		t.Errorf("same size, other bytes: %+v, %v; want plain (1).txt", other, err)
	}
}

func TestSameBytes(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"a", "a", true},
		{"a", "b", false},
		{"a", "ab", false},
		{long, long, true},
		{long, long + "y", false},
		{long + "y", long + "z", false},
	} {
		got, err := sameBytes(iotest.HalfReader(strings.NewReader(c.a)), strings.NewReader(c.b))
		if err != nil || got != c.want {
			t.Errorf("sameBytes(%d bytes, %d bytes) = %v, %v; want %v", len(c.a), len(c.b), got, err, c.want)
		}
	}
}
