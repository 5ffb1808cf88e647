package state

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLockExcludesInProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(dir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir, "invoices")
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock = %v, want *LockedError", err)
	}
	if le.PID != os.Getpid() || le.Task != "invoices" {
		t.Errorf("LockedError = %+v, want our pid %d", le, os.Getpid())
	}
	if want := fmt.Sprintf(`task "invoices" is already running (pid %d)`, os.Getpid()); err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// Another task is independent.
	other, err := Lock(dir, "reports")
	if err != nil {
		t.Fatalf("Lock of another task: %v", err)
	}
	other.Unlock()

	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(dir, "invoices")
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	// A second Unlock of the old lock must not disturb the new holder.
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if pid := readPID(lockPath(dir, "invoices")); pid != os.Getpid() {
		t.Errorf("lock file holds pid %d after a stale Unlock, want %d", pid, os.Getpid())
	}
	l2.Unlock()
}

func TestLockedErrorUnknownPID(t *testing.T) {
	err := &LockedError{Task: "x"}
	if got, want := err.Error(), `task "x" is already running`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// childHoldLock takes the lock, tells the parent, and holds it until its
// stdin closes.
func childHoldLock(dir string) int {
	l, err := Lock(dir, "invoices")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := l.Unlock(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestLockExcludesAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=lock", childDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("child said %q (%v), stderr: %s", line, err, stderr.String())
	}
	_, err = Lock(dir, "invoices")
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while the child holds it = %v, want *LockedError", err)
	}
	if le.PID != cmd.Process.Pid {
		t.Errorf("LockedError names pid %d, want the child's %d", le.PID, cmd.Process.Pid)
	}
	if err := Reset(dir, "invoices"); !errors.As(err, &le) {
		t.Errorf("Reset while the child holds the lock = %v, want *LockedError", err)
	}

	stdin.Close()
	waited = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v, stderr: %s", err, stderr.String())
	}
	l, err := Lock(dir, "invoices")
	if err != nil {
		t.Fatalf("Lock after the child exited: %v", err)
	}
	l.Unlock()
	if strings.TrimSpace(stderr.String()) != "" {
		t.Errorf("child wrote to stderr: %s", stderr.String())
	}
}
