package sink

import (
	"context"
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
