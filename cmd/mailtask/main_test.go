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
	"mailtask/internal/version"
	"mailtask/tasks/popimap"
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
		{[]string{"--config", good, "state", "show", "t"}, exitUsage, "options follow the command's name: mailtask state show --config " + good + " t"},
		{[]string{"--config", "my file.toml", "validate"}, exitUsage, `mailtask validate --config 'my file.toml'`},
		{[]string{"--verbose"}, exitUsage, `unknown command "--verbose": options follow`},
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

// A run that panics is a failed run: run-task exits 1, naming the task
// once and the internal error, not 2 (a configuration error) as Go's own exit
// on a panic would; the task's lock is free again afterwards.
func TestRunTaskPanicExitsOne(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n")
	panicking := func(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
		lock, err := state.Lock(opts.Config.StateDir, opts.Task.Name)
		if err != nil {
			return popimap.Summary{}, err
		}
		defer lock.Unlock()
		var none []string
		_ = none[len(opts.Task.Name)]
		return popimap.Summary{}, nil
	}
	var out, errOut bytes.Buffer
	code := mainWithExit(context.Background(), []string{"run-task", "--config", cfg, "t"}, &env{stdout: &out, stderr: &errOut, run: panicking})
	if code != exitFailed {
		t.Errorf("exit %d, want %d\n%s", code, exitFailed, errOut.String())
	}
	for _, want := range []string{`task "t" failed`, "internal error", "index out of range", "stack="} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if n := strings.Count(errOut.String(), `task "t"`); n != 1 {
		t.Errorf("stderr names the task %d times, want once:\n%s", n, errOut.String())
	}
	lock, err := state.Lock(filepath.Join(dir, "state"), "t")
	if err != nil {
		t.Fatalf("the task's lock after the panic: %v", err)
	}
	lock.Unlock()
}

// A run that fails on its own state names the task once, in run-task's
// own words, and the file to fix: the state package's errors leave the
// task to their caller and name the path.
func TestRunTaskStateErrorNamesTheTaskOnce(t *testing.T) {
	for _, file := range []string{"t.json", "t.ledger"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeFile(t, dir, "m.toml", "[accounts.a]\nhost = \"127.0.0.1\"\nport = 1\nusername = \"u\"\npassword = \"p\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n")
			unreadable := filepath.Join(dir, "state", file)
			if err := os.MkdirAll(unreadable, 0o700); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := run(t, "run-task", "--config", cfg, "t")
			if code != exitFailed || !strings.Contains(errOut, unreadable) {
				t.Errorf("exit %d, want %d and the path %s:\n%s", code, exitFailed, unreadable, errOut)
			}
			if n := strings.Count(errOut, `task "t"`); n != 1 {
				t.Errorf("stderr names the task %d times, want once:\n%s", n, errOut)
			}
		})
	}
}

// validate refuses a state_dir other accounts could plant links in, and
// warns of secrets other accounts can read.
func TestValidateChecksStateDirAndSecrets(t *testing.T) {
	dir := t.TempDir()
	pass := writeFile(t, dir, "a.pass", "secret\n")
	if err := os.Chmod(pass, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "m.toml", `
[accounts.a]
host = "h"
username = "u"
password_file = "a.pass"
[accounts.b]
host = "h"
username = "u"
password = "inline"
[[task]]
name = "t"
account = "a"
destination = "d"
`)
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "validate", "--config", cfg)
	if code != exitOK {
		t.Errorf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`warning: account "a": password_file: ` + pass + ` is readable by other accounts (mode 0644): run "chmod 600 ` + pass + `"`,
		"warning: " + cfg + " holds a password, client secret or database URL and is readable by other accounts (mode 0644)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, f := range []string{pass, cfg} {
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := run(t, "validate", "--config", cfg); code != exitOK || errOut != "" {
		t.Errorf("with 0600 secrets: exit %d, stderr %q", code, errOut)
	}

	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "validate", "--config", cfg)
	if code != exitUsage || !strings.Contains(errOut, "state_dir "+stateDir+" is writable by group or others") {
		t.Errorf("world-writable state_dir: exit %d, %s", code, errOut)
	}
	// A run refuses it too, before touching anything in it.
	code, _, errOut = run(t, "run-task", "--config", cfg, "t")
	if code != exitFailed || !strings.Contains(errOut, "chmod go-w "+stateDir) {
		t.Errorf("run-task with a world-writable state_dir: exit %d, %s", code, errOut)
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

func TestVersionSaysWhichMailtask(t *testing.T) {
	code, out, _ := run(t, "version")
	if want := "mailtask " + version.String() + " (go"; code != exitOK || !strings.HasPrefix(out, want) {
		t.Errorf("mailtask version: exit %d, %q; want a line beginning %q", code, out, want)
	}
}
