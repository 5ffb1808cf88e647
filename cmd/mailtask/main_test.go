package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/state"
)

// run invokes the CLI in-process and returns exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = mainWithExit(context.Background(), args, &env{stdout: &out, stderr: &errOut})
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDemoRunsTwiceAndTakesNothingTheSecondTime(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "demo", "--dir", dir)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "second run (nothing new expected): demo-invoices: 0 new") {
		t.Errorf("second run line missing:\n%s", out)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "files"))
	if err != nil || len(entries) < 10 {
		t.Errorf("demo wrote %d files (%v)", len(entries), err)
	}
	// Every demo message parses, so nothing is kept aside, and the demo
	// says so rather than pointing at a folder that does not exist.
	if !strings.Contains(out, "demo: no message had to be kept aside") {
		t.Errorf("the demo does not say that nothing was kept aside:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "failed")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state/failed: %v; the demo corpus has no unparseable message", err)
	}
	// The config the demo wrote is a valid config for the other commands.
	code, out, _ = run(t, "state", "show", "--config", filepath.Join(dir, "mailtask.toml"), "demo-invoices")
	if code != exitOK || !strings.Contains(out, `"done_uids"`) {
		t.Errorf("state show: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "run-task", "demo-invoices", "--config", filepath.Join(dir, "mailtask.toml"))
	if code != exitFailed || !strings.Contains(out, "demo-invoices: 0 new") {
		// The demo's server is gone: the run fails to connect, exit 1.
		t.Errorf("run-task after demo: exit %d\n%s", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.toml", `
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
timeout = "2s"
[[task]]
name = "t"
account = "a"
destination = "out"
retries = 0
`)
	bad := writeFile(t, dir, "bad.toml", "[accounts.a]\nhost = \"h\"\nbogus = 1\n")
	cases := []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{[]string{"validate", "--config", good}, exitOK, ""},
		{[]string{"validate", "--config", bad}, exitUsage, `account "a": bogus: unknown key`},
		{[]string{"validate", "--config", filepath.Join(dir, "missing.toml")}, exitUsage, "config file not found"},
		{[]string{"run-task", "--config", good, "nope"}, exitUsage, `no task "nope"`},
		{[]string{"run-task", "--config", good}, exitUsage, "needs exactly one task name (tasks: t)"},
		{[]string{"run-task", "--config", good, "--log-level", "loud", "t"}, exitUsage, "--log-level"},
		{[]string{"run-task", "--config", good, "t"}, exitFailed, "hint: Nothing accepts connections"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{}, exitUsage, ""},
	}
	for _, c := range cases {
		code, _, errOut := run(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.wantStderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.wantStderr)
		}
	}

	// A task already running elsewhere: exit 3 naming the holder.
	lock, err := state.Lock(filepath.Join(dir, "state"), "t")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	code, _, errOut := run(t, "run-task", "--config", good, "t")
	if code != exitRunning || !strings.Contains(errOut, `task "t" is already running`) {
		t.Errorf("locked: exit %d, %q", code, errOut)
	}
}

func TestEnvSelectsConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n")
	t.Setenv("MAILTASK_CONFIG", cfg)
	if code, out, errOut := run(t, "validate"); code != exitOK || !strings.Contains(out, cfg) {
		t.Errorf("exit %d: %s %s", code, out, errOut)
	}
}

// TestDemoListsWhatWasKeptAside: what the demo says was kept aside is what
// the task's state records.
func TestDemoListsWhatWasKeptAside(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "m.toml"), []byte("[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Load(cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(cfg.StateDir, "failed", "t", "uid-7.eml")
	st.AddFailure(state.Failure{Key: "uid:7", Reason: "more than 2000 MIME parts", Path: kept})
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := reportKeptAside(&env{stdout: &out}, cfg, cfg.Tasks[0]); err != nil {
		t.Fatal(err)
	}
	if want := "demo: kept aside because they could not be parsed (1):\n  " + kept + " (more than 2000 MIME parts)\n"; out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
}
