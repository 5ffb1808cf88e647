package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
