package state

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLockRemovesDebrisOfInterruptedSaves(t *testing.T) {
	dir := t.TempDir()
	// A crash between renameio's temp file and its rename leaves the
	// first; the others belong to other tasks or to nobody we know.
	for _, name := range []string{".t.json8273645", ".t.json.json123", ".t.jsonx", ".u.json77", "t.json.bak"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := Lock(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	want := []string{".t.json.json123", ".t.jsonx", ".u.json77", "t.json.bak"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Errorf("after Lock: %q, want %q", got, want)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != "t.lock" {
			out = append(out, e.Name())
		}
	}
	return out
}
