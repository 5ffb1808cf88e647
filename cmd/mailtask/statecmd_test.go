package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"mailtask/internal/state"
)

// state reset forgets the task whole: also what was mailed about its
// failures, so that a failure after the reset is mailed as a new one.
func TestStateResetForgetsTheAlert(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
[accounts.a]
host = "outlook.office365.com"
username = "u"
password_env = "P"
[[task]]
name = "invoices"
account = "a"
destination = "d"
`)
	stateDir := filepath.Join(dir, "state")
	st, err := state.Load(stateDir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	st.Done.AddRange(1, 9)
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	alert := filepath.Join(stateDir, "invoices.alert.json")
	if err := state.WriteFile(alert, []byte(`{"class":"auth","failures":3,"mailed":1}`)); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "state", "reset", "--config", cfg, "invoices")
	if code != exitOK || !strings.Contains(out, "state forgotten") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, path := range []string{state.Path(stateDir, "invoices"), alert} {
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there (%v)", path, err)
		}
	}
}

// An operator whose [notify] account is throttled saw nothing in status:
// now it shows the mails due and the send that keeps failing, with its
// error and hint. state reset forgot the task's alert but not its mail
// due, mailed after the reset; now it drops it, and says so.
func TestStatusShowsTheMailsDueAndStateResetDropsThem(t *testing.T) {
	srv, caFile := startSMTP(t)
	srv.RefuseMail(&smtp.SMTPError{Code: 432, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "STOREDRV.ClientSubmit; sender thread limit exceeded"})
	cfg := notifyConfig(t, srv, caFile)
	if code, _, errOut := run(t, "run-task", "--config", cfg, "t"); code != exitFailed || !strings.Contains(errOut, "could not send the notification") {
		t.Fatalf("run-task: exit %d\n%s", code, errOut)
	}
	code, out, errOut := run(t, "status", "--config", cfg)
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"\nmails due ([notify]): 1 about 1 task, the oldest from ",
		"\n  sending them failed 1 times in a row, since ",
		"432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded\n  hint: ",
		"\nt: 1 mail about it due, not sent yet, the oldest from ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = run(t, "status", "--json", "--config", cfg)
	var rows []taskStatus
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if r := rows[0]; r.MailsDue == nil || r.MailsDue.Mails != 1 || r.MailsFailing == nil || r.MailsFailing.Attempts != 1 {
		t.Errorf("status --json: %+v", r)
	}

	code, out, errOut = run(t, "state", "reset", "--config", cfg, "t")
	if code != exitOK || !strings.Contains(out, "t: dropped 1 mail due about it, not sent\n") {
		t.Fatalf("state reset: exit %d\n%s%s", code, out, errOut)
	}
	srv.RefuseMail(nil)
	if _, out, _ = run(t, "status", "--config", cfg); strings.Contains(out, "mails due") {
		t.Errorf("mails due after state reset:\n%s", out)
	}
}
