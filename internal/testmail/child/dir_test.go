//go:build unix

package child

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMkdirTempIsInMemoryWhereThereIsRoom: a server's directory is new and
// empty, in /dev/shm when that is a tmpfs with room, else in the temporary
// directory.
func TestMkdirTempIsInMemoryWhereThereIsRoom(t *testing.T) {
	dir, err := MkdirTemp("mailtask-child-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	want := memoryDir()
	if want == "" {
		want = os.TempDir()
	}
	if filepath.Dir(dir) != want {
		t.Errorf("MkdirTemp made %s, want it in %s", dir, want)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("MkdirTemp made %s holding %d entries (%v), want it new and empty", dir, len(entries), err)
	}
}
