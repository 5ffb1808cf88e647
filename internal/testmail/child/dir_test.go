//go:build unix

package child

import (
	"fmt"
	"os"
	"os/exec"
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

// TestSweepRemovesTheDirectoriesOfProcessesGone: what a test binary that
// died before its cleanups left in memory goes; a live process's, and
// what MkdirTemp did not name, stay.
func TestSweepRemovesTheDirectoriesOfProcessesGone(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := map[string]bool{ // name: kept
		fmt.Sprintf("mailtask-pg-pid%d-123", gone.Process.Pid):      false,
		fmt.Sprintf("mailtask-dovecot-pid%d-456", gone.Process.Pid): false,
		fmt.Sprintf("mailtask-pg-pid%d-789", os.Getpid()):           true,
		fmt.Sprintf("other-pid%d-1", gone.Process.Pid):              true,
		"mailtask-pg-123": true,
	}
	for name := range names {
		if err := os.MkdirAll(filepath.Join(dir, name, "base"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sweep(dir)
	for name, kept := range names {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", name, err == nil, kept)
		}
	}
}
