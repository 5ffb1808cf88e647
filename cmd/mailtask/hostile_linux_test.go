package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// hostileMessages are what a hostile sender mails: a header line of
// 1.5 MB, multiparts nested 40 deep and never closed (which cost enmime
// about 2^40 steps), and a message of 3 MB.
func hostileMessages() [][]byte {
	header := []byte("From: a@example.test\r\nSubject: " + strings.Repeat("x", 1_500_000) + "\r\n\r\nbody\r\n")
	var nested strings.Builder
	nested.WriteString("From: a@example.test\r\nSubject: nested\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
	for i := range 40 {
		fmt.Fprintf(&nested, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i, i+1)
	}
	nested.WriteString("--b40\r\nContent-Type: text/plain\r\n\r\nend\r\n")
	large := []byte("From: a@example.test\r\nSubject: large\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 3<<20/18))
	return [][]byte{header, []byte(nested.String()), large}
}

// The "done when": the daemon runs a task on a hostile server
// beside a healthy one. The hostile server holds what a hostile sender
// mails, and answers the failure action (a keyword) with an endless line;
// its task keeps each message aside with the reason and fails its runs on
// the bound, and the healthy task takes its mail as if it were alone.
func TestDaemonRunsAHealthyTaskBesideAHostileOne(t *testing.T) {
	t.Parallel() // servers, child processes and directories of its own; it mostly waits on them
	good := startMailServer(t, false, 3)
	bad, err := testmail.StartScripted(testmail.IMAPScript{Messages: hostileMessages(), Replies: map[string]func(io.Writer, string, string) error{
		"UID STORE": func(w io.Writer, _, _ string) error { return testmail.Endless(w, "x", 64<<20) },
	}}.Script())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bad.Close() })
	dir := t.TempDir()
	host, port, _ := strings.Cut(good.srv.Addr, ":")
	badHost, badPort, _ := strings.Cut(bad.Addr(), ":")
	text := fmt.Sprintf(`state_dir = "state"
[accounts.good]
host = %q
port = %s
ca_file = %q
username = "u@example.test"
password = "pw"
timeout = "20s"
[accounts.bad]
host = %q
port = %s
tls = "none"
username = "u"
password = "pw"
timeout = "5s"
[[task]]
name = "good"
account = "good"
destination = "good"
schedule = "@every 1s"
[[task]]
name = "bad"
account = "bad"
destination = "bad"
schedule = "@every 1s"
after_failure = "keyword"
retries = 0
max_message_size = "2MiB"
`, host, port, good.caFile, badHost, badPort)
	cfg := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := startChild(t, "run", "--config", cfg)
	proc.waitLine(t, "msg=run", "task=bad", "outcome=failed", "failed=3", "longer than mailtask accepts")
	proc.waitLine(t, "msg=run", "task=good", "outcome=ok", "seen=3", "saved=3")
	proc.waitCount(t, 2, "msg=run", "task=bad", "outcome=failed")
	proc.signal(t, syscall.SIGTERM)
	if code, _ := proc.wait(t); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, proc.output())
	}
	if files := filesOf(t, filepath.Join(dir, "good")); strings.Join(files, ",") != "1.pdf,2.pdf,3.pdf" {
		t.Errorf("healthy task's files: %v", files)
	}
	st, err := state.Load(filepath.Join(dir, "state"), "bad")
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, f := range st.Failed {
		reasons = append(reasons, f.Reason)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"a header of more than 1048576 bytes", "multiparts left open", "larger than max_message_size"} {
		if !strings.Contains(all, want) {
			t.Errorf("no message kept aside for %q; reasons:\n%s", want, all)
		}
	}
	if files := filesOf(t, filepath.Join(dir, "bad")); len(files) != 0 {
		t.Errorf("hostile task wrote %v", files)
	}
}
