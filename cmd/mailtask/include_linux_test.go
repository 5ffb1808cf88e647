package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A customer's file added to conf.d starts its task on SIGHUP, a broken one
// keeps the running configuration and is named, and a removed one stops
// its task: the daemon of an MSP onboards mailboxes without a restart.
func TestSIGHUPPicksUpIncludedFiles(t *testing.T) {
	m := startMailServer(t, false, 1)
	dir := t.TempDir()
	confd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confd, 0o700); err != nil {
		t.Fatal(err)
	}
	proc := startChild(t, "run", "--config", m.writeConfig(t, dir, `include = ["conf.d/*.toml"]`))
	proc.waitLine(t, "mailtask daemon started", "tasks=1", "files=1")

	// The customer's own account and task, its paths relative to conf.d.
	host, port, _ := strings.Cut(m.srv.Addr, ":")
	customer := writeFile(t, confd, "acme.toml", fmt.Sprintf(`[accounts.acme]
host = %q
port = %s
ca_file = %q
username = "u@example.test"
password = "pw"
[[task]]
name = "acme"
account = "acme"
destination = "acme-drop"
schedule = "@every 1s"
`, host, port, m.caFile))
	proc.signal(t, syscall.SIGHUP)
	proc.waitLine(t, "task added", "task=acme")
	proc.waitLine(t, "configuration reloaded", "tasks=2", "files=2")
	proc.waitLine(t, "msg=run task=acme outcome=ok")
	if files := filesOf(t, filepath.Join(confd, "acme-drop")); strings.Join(files, ",") != "1.pdf" {
		t.Errorf("acme's files = %v", files)
	}

	broken := writeFile(t, confd, "broken.toml", "[[task]\n")
	proc.signal(t, syscall.SIGHUP)
	line := proc.waitLine(t, "the new configuration is invalid; keeping the running one")
	if !strings.Contains(line, broken+": line ") {
		t.Errorf("reload error does not name %s: %s", broken, line)
	}
	proc.waitCount(t, proc.count("msg=run task=acme outcome=ok")+2, "msg=run task=acme outcome=ok")

	for _, f := range []string{customer, broken} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	proc.signal(t, syscall.SIGHUP)
	proc.waitLine(t, "task removed from the configuration", "task=acme")
	proc.waitLine(t, "configuration reloaded", "tasks=1", "files=1")

	proc.signal(t, syscall.SIGTERM)
	if code, _ := proc.wait(t); code != exitOK {
		t.Errorf("exit %d:\n%s", code, proc.output())
	}
}
