package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A failed run names its task once, and the thing to fix: here the
// destination, which cannot be created under a file.
func TestRunTaskNamesTheTaskOnce(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "m.toml", `
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "`+filepath.Join(blocker, "out")+`"
retries = 0
`)
	code, _, errOut := run(t, "run-task", "--config", cfg, "t")
	if code != exitFailed || strings.Count(errOut, `task "t"`) != 1 || !strings.Contains(errOut, "destination") || !strings.Contains(errOut, blocker) {
		t.Errorf("exit %d, stderr %q; want %d, naming the task once and the destination", code, errOut, exitFailed)
	}
}
