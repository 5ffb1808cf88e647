package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// A customer's file added to conf.d starts its task on SIGHUP, a broken one
// keeps the running configuration and is named, and a removed one stops
// its task: the daemon of an MSP onboards mailboxes without a restart. It
// starts with no customer yet, and keeps running once the last one went.
func TestSIGHUPPicksUpIncludedFiles(t *testing.T) {
	t.Parallel() // servers, child processes and directories of its own; it mostly waits on them
	d := dovecot.Start(t, dovecot.Options{Users: map[string]string{"acme": "pw-acme"}})
	invoice := testmail.Attachment{Name: "invoice.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\nacme\n%%EOF\n")}
	d.Append(t, "acme", "INBOX", testmail.NewMessage("invoice", invoice))
	dir := t.TempDir()
	confd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confd, 0o700); err != nil {
		t.Fatal(err)
	}
	main := writeFile(t, dir, "mailtask.toml", `state_dir = "state"
include = ["conf.d/*.toml"]
listen = "127.0.0.1:0"
`)
	proc := startChild(t, "run", "--config", main)
	proc.waitLine(t, "mailtask daemon started", "tasks=0", "files=1")
	proc.waitLine(t, "waiting for a reload (SIGHUP) that brings one")
	// `mailtask reload` finds the daemon where the configuration says it
	// listens: the port it was given.
	listen := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(proc.waitLine(t, "serving /metrics and /healthz"))[1]
	text, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "mailtask.toml", strings.Replace(string(text), "127.0.0.1:0", listen, 1))

	// The customer's own account and task, its destination relative to conf.d.
	customer := writeFile(t, confd, "acme.toml", d.AccountTOML("acme", "imap", "acme", "pw-acme")+`[[task]]
name = "acme"
account = "acme"
destination = "acme-drop"
schedule = "@every 1s"
`)
	// Where the image has no kill, a reload is asked for over the listener.
	if code, out, errOut := run(t, "reload", "--config", main); code != exitOK || out != "configuration reloaded: 1 scheduled tasks, 2 files\n" {
		t.Fatalf("mailtask reload: exit %d\n%s%s", code, out, errOut)
	}
	proc.waitLine(t, "POST /-/reload: reloading the configuration")
	proc.waitLine(t, "task added", "task=acme")
	proc.waitLine(t, "configuration reloaded", "tasks=1", "files=2")
	proc.waitLine(t, "msg=run task=acme outcome=ok", "saved=1")
	if files := filesOf(t, filepath.Join(confd, "acme-drop")); strings.Join(files, ",") != "invoice.pdf" {
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
	proc.waitLine(t, "configuration reloaded", "tasks=0", "files=1")

	proc.signal(t, syscall.SIGTERM)
	if code, _ := proc.wait(t); code != exitOK {
		t.Errorf("exit %d:\n%s", code, proc.output())
	}
}
