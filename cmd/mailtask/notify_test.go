package main

import (
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"mailtask/internal/testmail"
)

// notifyConfig writes a config whose only task cannot connect and whose
// [notify] points at an in-process SMTP server.
func notifyConfig(t *testing.T, srv *testmail.SMTPServer, caFile string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "m.toml", `
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "alerts@contoso.example"
password = "app-pass"
timeout = "2s"
[[task]]
name = "t"
account = "a"
destination = "out"
retries = 0
`+notifyTable(srv, caFile, "a"))
}

// notifyTable is a [notify] table mailing through srv, whose certificate
// caFile holds, signed in as account.
func notifyTable(srv *testmail.SMTPServer, caFile, account string) string {
	host, port, _ := strings.Cut(srv.Addr, ":")
	return `[notify]
account = "` + account + `"
host = "` + host + `"
port = ` + port + `
ca_file = "` + caFile + `"
to = ["ops@contoso.example"]
timeout = "10s"
`
}

func startSMTP(t *testing.T) (*testmail.SMTPServer, string) {
	t.Helper()
	return testmail.StartSMTPWithCA(t, testmail.SMTPOptions{Username: "alerts@contoso.example", Password: "app-pass", Mechanisms: []string{sasl.Login}})
}

func TestNotifyCommand(t *testing.T) {
	srv, caFile := startSMTP(t)
	cfg := notifyConfig(t, srv, caFile)
	code, out, errOut := run(t, "notify", "test", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "sent to [ops@contoso.example]") {
		t.Fatalf("notify test: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = run(t, "notify", "digest", "--config", cfg)
	if code != exitOK {
		t.Fatalf("notify digest: exit %d\n%s", code, errOut)
	}
	got := srv.Received()
	if len(got) != 2 || got[0].Mechanism != sasl.Login || !strings.Contains(string(got[1].Data), "Not run yet: 1\r\n  t\r\n") {
		t.Errorf("received %d mails: %+v", len(got), got)
	}
	if code, _, errOut := run(t, "notify", "send", "--config", cfg); code != exitUsage || !strings.Contains(errOut, "notify needs one of: test, digest") {
		t.Errorf("notify send: exit %d, %q", code, errOut)
	}
}

func TestRunTaskFailureIsMailed(t *testing.T) {
	srv, caFile := startSMTP(t)
	cfg := notifyConfig(t, srv, caFile)
	code, _, errOut := run(t, "run-task", "--config", cfg, "t")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	got := srv.Received()
	if len(got) != 1 || !strings.Contains(string(got[0].Data), `task "t" failed`) {
		t.Fatalf("received %+v", got)
	}
	if strings.Contains(string(got[0].Data), "app-pass") {
		t.Error("the failure mail carries the password")
	}
	// A dry run is interactive: no mail.
	run(t, "run-task", "--dry-run", "--config", cfg, "t")
	if n := len(srv.Received()); n != 1 {
		t.Errorf("a failed dry run sent mail: %d mails", n)
	}
}

// A notification that cannot be sent is reported, and the exit code stays
// the task's.
func TestRunTaskNotifyFailureReported(t *testing.T) {
	srv, caFile := startSMTP(t)
	cfg := notifyConfig(t, srv, caFile)
	srv.Close()
	code, _, errOut := run(t, "run-task", "--config", cfg, "t")
	if code != exitFailed || !strings.Contains(errOut, "could not send the notification") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
