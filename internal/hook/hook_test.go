package hook

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes an executable shell script for a test; the hook itself
// runs it without a shell of ours in between.
func script(t *testing.T, body string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("tests need /bin/sh")
	}
	path := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEnvironmentAndArgv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	t.Setenv("SHARED_INBOX_PASSWORD", "s3cret")
	t.Setenv("MAILTASK_STALE", "from the parent")
	t.Setenv("KEEP_ME", "kept")
	sh := script(t, `{ printf '%s|' "$@"; echo; env | grep -E '^(MAILTASK_|SHARED_INBOX_PASSWORD|KEEP_ME)' | grep -v '^MAILTASK_HOOK=' | sort; } > "`+out+`"`)
	c := Command{Argv: []string{sh, "$(touch /tmp/pwned)", "a b;c"}, Timeout: 10 * time.Second, Hide: []string{"SHARED_INBOX_PASSWORD"}}
	err := c.Run(context.Background(), Env{"FILE": "/srv/drop/a b.pdf", "SUBJECT": "Re: `rm -rf /`", "FROM": "a\x00b@x"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "$(touch /tmp/pwned)|a b;c|\n" +
		"KEEP_ME=kept\n" +
		"MAILTASK_FILE=/srv/drop/a b.pdf\n" +
		"MAILTASK_FROM=ab@x\n" +
		"MAILTASK_SUBJECT=Re: `rm -rf /`\n"
	if string(got) != want {
		t.Errorf("hook saw:\n%s\nwant:\n%s", got, want)
	}
}

func TestFailureCarriesOutputTail(t *testing.T) {
	sh := script(t, `i=0; while [ $i -lt 500 ]; do echo "noise line $i"; i=$((i+1)); done; echo "disk full" >&2; exit 3`)
	err := Command{Argv: []string{sh}, Timeout: 10 * time.Second}.Run(context.Background(), nil)
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("error %v is not a *hook.Error", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("error %v does not carry exit status 3", err)
	}
	if !strings.HasSuffix(strings.TrimSpace(he.Output), "disk full") || len(he.Output) > outputTail {
		t.Errorf("output tail %d bytes ending %q", len(he.Output), he.Output[max(0, len(he.Output)-40):])
	}
	if !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("message %q", err)
	}
}

func TestMissingProgram(t *testing.T) {
	err := Command{Argv: []string{filepath.Join(t.TempDir(), "nope")}}.Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("error %v, want one naming the program", err)
	}
}

func TestTimeout(t *testing.T) {
	sh := script(t, `sleep 300`)
	err := Command{Argv: []string{sh}, Timeout: 200 * time.Millisecond}.Run(context.Background(), nil)
	var he *Error
	if !errors.As(err, &he) || !he.TimedOut || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("error %v, want a timeout", err)
	}
}

// TestCancelKillsTheGroup starts a hook whose child would outlive it.
func TestCancelKillsTheGroup(t *testing.T) {
	cancelOutlives(t, `{ echo ready; exec sleep 300; } > "$FIFO" & wait`)
}

// cancelOutlives runs the hook script body, which starts a child that
// writes "ready" to the FIFO $FIFO and sleeps, cancels the hook once the
// child is ready, and fails unless the child dies with it. The child
// holds the FIFO open for writing, so the test's reader sees EOF exactly
// when the child is gone.
func cancelOutlives(t *testing.T, body string) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FIFO", fifo)
	ready, gone := watchFIFO(fifo)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Command{Argv: []string{script(t, body)}, Timeout: time.Minute}.Run(ctx, nil) }()
	select {
	case <-ready:
	case err := <-gone:
		t.Fatalf("reader: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the hook's child never started")
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("a cancelled hook succeeded")
	}
	select {
	case err := <-gone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the hook's child outlived the cancellation")
	}
}

// watchFIFO reads the FIFO at path: ready is closed once a writer has
// said "ready\n", and gone receives nil when every writer is dead.
func watchFIFO(path string) (ready chan struct{}, gone chan error) {
	ready, gone = make(chan struct{}), make(chan error, 1)
	go func() {
		f, err := os.Open(path) // blocks until the child opens it
		if err != nil {
			gone <- err
			return
		}
		defer f.Close()
		buf := make([]byte, 6)
		if _, err := io.ReadFull(f, buf); err != nil {
			gone <- err
			return
		}
		close(ready)
		_, err = io.Copy(io.Discard, f) // EOF once every writer is dead
		gone <- err
	}()
	return ready, gone
}
