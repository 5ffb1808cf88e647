package imap

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail/dovecot"
)

// Real Dovecot, told to stop while a session idles, ends the session the
// way it does on a restart or an upgrade: "* BYE Server shutting down.",
// then the connection closes. The drop carries those words, passes (a
// watcher reconnects) and is the server's "not now".
func TestDovecotShutdownWhileIdling(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	if d == nil {
		return
	}
	a := account(d.IMAPAddr, 20*time.Second)
	a.Username = d.User
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Dial(ctx, a, auth.Password(d.User, d.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Watch(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	// SIGTERM to the session's own process, as the master sends it on
	// shutdown, without the second the master of Dovecot 2.3 then waits.
	if err := syscall.Kill(sessionProcess(t, d.PID()), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Closed():
	case <-ctx.Done():
		t.Fatalf("the session is still open after Dovecot stopped it:\n%s", d.LogTail())
	}
	err = s.Dropped()
	if !strings.Contains(err.Error(), "(the server ended the session: BYE Server shutting down.)") {
		t.Fatalf("the drop: %v, want Dovecot's reason", err)
	}
	if !mailbox.IsTransient(err) || !mailbox.NotNow(err) {
		t.Errorf("the drop: %v: want a failure that passes, the server's \"not now\"", err)
	}
}

// sessionProcess is the process of Dovecot's whose master is master that
// serves the one IMAP session: in the master's process group, named imap.
func sessionProcess(t *testing.T, master int) int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(string(stat[end+1:]))
		if string(stat[open+1:end]) != "imap" || len(fields) < 3 || fields[2] != strconv.Itoa(master) {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(stat[:open])))
		return pid
	}
	t.Fatalf("no imap process in the process group of Dovecot's master %d", master)
	return 0
}
