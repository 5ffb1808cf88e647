package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/testmail/postgres"
)

// In cluster mode what was mailed about a failure is in the database, as
// the task's state is: a node's state_dir is scratch. status shows it
// from there, state reset forgets it there, and `notify digest` reports
// the database's states.
func TestNotifyInClusterModeUsesTheDatabase(t *testing.T) {
	t.Parallel()
	srv, caFile := startSMTP(t)
	host, port, _ := strings.Cut(srv.Addr, ":")
	url := postgres.Shared(t).NewDatabase(t)
	cfg, stateDir := clusterTaskOn(t, url, `[accounts.mail]
host = "127.0.0.1"
username = "alerts@contoso.example"
password = "app-pass"
[notify]
account = "mail"
host = "`+host+`"
port = `+port+`
ca_file = "`+caFile+`"
to = ["ops@contoso.example"]
timeout = "10s"
`, "retries = 0")
	if code, _, errOut := run(t, "run-task", "--config", cfg, "t"); code != exitFailed {
		t.Fatalf("run-task: exit %d\n%s", code, errOut)
	}
	if got := srv.Received(); len(got) != 1 || !strings.Contains(string(got[0].Data), `task "t" failed`) {
		t.Fatalf("received %d mails, want the failure", len(got))
	}
	if _, err := os.Stat(filepath.Join(stateDir, "t.alert.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an alert file in the node's state_dir (%v)", err)
	}
	alerted := func() bool {
		t.Helper()
		code, out, errOut := run(t, "status", "--json", "--config", cfg)
		var rows []taskStatus
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("status: exit %d, %v\n%s%s", code, err, out, errOut)
		}
		return rows[0].Alert != nil && rows[0].Alert.Mailed == 1
	}
	if !alerted() {
		t.Error("status shows no alert after the failure was mailed")
	}
	if code, _, errOut := run(t, "notify", "digest", "--config", cfg); code != exitOK {
		t.Fatalf("notify digest: exit %d\n%s", code, errOut)
	}
	if got := srv.Received(); len(got) != 2 || !strings.Contains(string(got[1].Data), "Subject: mailtask digest: 1 of 1 tasks failing") {
		t.Errorf("received %d mails, want the digest of the failing task", len(got))
	}
	if code, out, errOut := run(t, "state", "reset", "--config", cfg, "t"); code != exitOK {
		t.Fatalf("state reset: exit %d\n%s%s", code, out, errOut)
	}
	if alerted() {
		t.Error("status shows the alert after state reset")
	}
}
