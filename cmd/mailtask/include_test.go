package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validate checks every included file and lists what each brought in.
func TestValidateListsIncludedFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "mailtask.toml", `include = ["conf.d/*.toml"]
[accounts.main]
host = "h"
username = "u"
password_env = "P"
[[task]]
name = "main"
account = "main"
destination = "d"
`)
	a := writeFile(t, dir, "conf.d/a.toml", "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\n[[task]]\nname = \"a\"\naccount = \"a\"\ndestination = \"d\"\n")
	b := writeFile(t, dir, "conf.d/b.toml", "[[task]]\nname = \"b1\"\naccount = \"main\"\ndestination = \"d\"\n[[task]]\nname = \"b2\"\naccount = \"a\"\ndestination = \"d\"\n")
	code, out, errOut := run(t, "validate", "--config", cfg)
	want := cfg + ": ok (2 accounts, 4 tasks)\n3 files:\n" +
		"  " + cfg + ": accounts 1, tasks 1\n" +
		"  " + a + ": accounts 1, tasks 1\n" +
		"  " + b + ": accounts 0, tasks 2\n"
	if code != exitOK || out != want {
		t.Errorf("exit %d\n%s\nwant\n%s\n%s", code, out, want, errOut)
	}

	if err := os.Chmod(filepath.Join(dir, "conf.d"), 0o777); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "validate", "--config", cfg)
	if want := "warning: " + filepath.Join(dir, "conf.d") + ", a folder include reads, is writable by other accounts"; code != exitOK || !strings.Contains(errOut, want) {
		t.Errorf("a folder anyone may write: exit %d, stderr lacks %q:\n%s", code, want, errOut)
	}

	writeFile(t, dir, "conf.d/c.toml", "[[task]\n")
	code, _, errOut = run(t, "validate", "--config", cfg)
	if want := filepath.Join(dir, "conf.d/c.toml") + ": line "; code != exitUsage || !strings.Contains(errOut, want) {
		t.Errorf("a broken included file: exit %d, stderr lacks %q:\n%s", code, want, errOut)
	}
}

// A task name the configuration lacks is answered with a few of its
// tasks, not the thousands a file per mailbox makes.
func TestUnknownTaskListsAFew(t *testing.T) {
	dir := t.TempDir()
	text := "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\n"
	for i := range 12 {
		text += fmt.Sprintf("[[task]]\nname = \"t%02d\"\naccount = \"a\"\ndestination = \"d\"\n", i)
	}
	cfg := writeFile(t, dir, "mailtask.toml", text)
	code, _, errOut := run(t, "run-task", "--config", cfg, "nope")
	if want := "(tasks: t00, t01, t02, t03, t04, t05, t06, t07, t08, t09 and 2 more)"; code != exitUsage || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, errOut)
	}
}
