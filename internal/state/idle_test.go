package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIdleStatusRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if s, err := LoadIdle(dir, "t"); s != nil || err != nil {
		t.Errorf("never watched: %+v, %v", s, err)
	}
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	want := IdleStatus{PID: 42, State: "idling", Since: at, Reconnects: 2, Updated: at.Add(time.Second)}
	if err := SaveIdle(dir, "t", want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadIdle(dir, "t")
	if err != nil || got == nil || *got != want {
		t.Errorf("loaded %+v, %v; want %+v", got, err, want)
	}
	// It lives beside the task's files without taking the name of another
	// task's: a task "t.idle" keeps its own state file.
	if _, err := os.Stat(filepath.Join(dir, "t.idle.json")); err == nil {
		t.Error("the IDLE status of t is the state file of a task t.idle")
	}
	if err := os.WriteFile(idlePath(dir, "t"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdle(dir, "t"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt file: %v", err)
	}
	if err := SaveIdle(dir, "../t", want); err == nil {
		t.Error("a task name with a path was accepted")
	}
}
