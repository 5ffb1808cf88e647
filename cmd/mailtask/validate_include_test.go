package main

import (
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

	writeFile(t, dir, "conf.d/c.toml", "[[task]\n")
	code, _, errOut = run(t, "validate", "--config", cfg)
	if want := filepath.Join(dir, "conf.d/c.toml") + ": line "; code != exitUsage || !strings.Contains(errOut, want) {
		t.Errorf("a broken included file: exit %d, stderr lacks %q:\n%s", code, want, errOut)
	}
}
