package state

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	children["save-too-big"] = childSaveTooBig
}

// childSaveTooBig saves a state bigger than the file size limit it sets on
// itself, so the write fails half way through, as on a full disk. It works
// as root, unlike a read-only directory.
func childSaveTooBig(dir string) int {
	s, err := Load(dir, "t")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for u := uint32(1); u <= 10_000; u += 2 {
		s.Done.Add(u)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 4096, Max: 4096}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := s.Save(); err != nil {
		fmt.Println(err)
		return 0
	}
	fmt.Fprintln(os.Stderr, "Save succeeded despite the file size limit")
	return 1
}

func TestSaveWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	s.Done.AddRange(1, 3)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(Path(dir, "t"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=save-too-big", childDirEnv+"="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v, stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "file too large") {
		t.Errorf("child's Save error %q, want EFBIG", stdout.String())
	}

	now, err := os.ReadFile(Path(dir, "t"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now, old) {
		t.Errorf("failed Save changed the file:\n%s\nwant\n%s", now, old)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"t.json"}) {
		t.Errorf("state dir holds %q after a failed Save, want only t.json", got)
	}
}
