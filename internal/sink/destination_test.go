package sink

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Destination over a Dir behaves as the Dir does: the pipeline may
// switch to it without changing what lands on disk.
func TestLocalDestinationWritesAsTheDirDoes(t *testing.T) {
	root := t.TempDir()
	d, err := Open(root, "task")
	if err != nil {
		t.Fatal(err)
	}
	dest := Local(d)
	defer dest.Close()
	ctx := context.Background()
	f, err := dest.Folder("2026/03")
	if err != nil {
		t.Fatal(err)
	}
	put := func(content string) Stored {
		t.Helper()
		s, err := f.Stage(strings.NewReader(content), Policy{Hash: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := dest.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := f.PutStaged(ctx, "invoice.pdf", s)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	first, again, other := put("one"), put("one"), put("two")
	if err := dest.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if first.Rel() != "2026/03/invoice.pdf" || !again.Existing || other.Rel() != "2026/03/invoice (1).pdf" {
		t.Fatalf("puts: %+v, %+v, %+v", first, again, other)
	}
	loc := dest.Locate(other.Rel())
	if data, err := os.ReadFile(loc.Path); err != nil || string(data) != "two" || loc.Key != "" {
		t.Fatalf("Locate(%q) = %+v: %q, %v", other.Rel(), loc, data, err)
	}
	if f.Path() != filepath.Join(root, "2026", "03") || dest.Path() != root {
		t.Fatalf("paths %q, %q", f.Path(), dest.Path())
	}
}

// Open reads a file of the destination, and, as writes do, nothing a link
// in it points to outside.
func TestLocalDestinationOpensItsFilesOnly(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("not for the destination"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "_failed", "t"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "_failed", "t", "uid-1.eml"), []byte("Subject: kept\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "_failed", "t", "uid-2.eml")); err != nil {
		t.Fatal(err)
	}
	d, err := Open(root, "task")
	if err != nil {
		t.Fatal(err)
	}
	dest := Local(d)
	defer dest.Close()
	f, err := dest.Open(context.Background(), "_failed/t/uid-1.eml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(got) != "Subject: kept\r\n\r\n" {
		t.Errorf("read %q, %v", got, err)
	}
	if f, err := dest.Open(context.Background(), "_failed/t/uid-2.eml"); err == nil {
		f.Close()
		t.Error("a link out of the destination was opened")
	}
}
