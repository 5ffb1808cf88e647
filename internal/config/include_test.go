package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree writes files (path relative to dir: content) and returns the
// path of "main.toml" in it.
func writeTree(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, p, content)
	}
	return filepath.Join(dir, "main.toml")
}

// customer is an included file's usual content: one mailbox and its task.
func customer(name string) string {
	return `[accounts.` + name + `]
host = "imap.example.net"
username = "` + name + `@example.net"
password_file = "` + name + `.pw"

[[task]]
name = "` + name + `"
account = "` + name + `"
schedule = "*/5 * * * *"
destination = "drop/` + name + `"
`
}

const mainWithInclude = `include = ["conf.d/*.toml"]
[accounts.main]
host = "imap.example.net"
username = "main@example.net"
password_env = "P"
[[task]]
name = "main"
account = "main"
destination = "out"
`

func TestIncludeAddsEachFilesAccountsAndTasks(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{
		"main.toml":           mainWithInclude,
		"conf.d/b.toml":       customer("b") + "[[task]]\nname = \"b-main\"\naccount = \"main\"\ndestination = \"/abs\"\nrun_after_file = [\"./hook.sh\"]\n",
		"conf.d/a.toml":       customer("a"),
		"conf.d/hook.sh":      "#!/bin/sh\n",
		"conf.d/.#a.toml":     "not toml [",
		"conf.d/.hidden.toml": "not toml [",
		"conf.d/a.toml~":      "not toml [",
		"conf.d/notes.txt":    "not toml [",
	})
	if err := os.Chmod(filepath.Join(dir, "conf.d/hook.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	confd := filepath.Join(dir, "conf.d")
	if want := []string{filepath.Join(confd, "a.toml"), filepath.Join(confd, "b.toml")}; !slices.Equal(cfg.Included, want) {
		t.Errorf("included %q, want %q", cfg.Included, want)
	}
	if got := strings.Join(cfg.TaskNames(), ","); got != "main,a,b,b-main" {
		t.Errorf("tasks in the order %s, want the main file's, then each included file's in name order", got)
	}
	if got := strings.Join(cfg.AccountNames(), ","); got != "main,a,b" {
		t.Errorf("accounts in the order %s", got)
	}
	for _, c := range []struct{ got, want string }{
		{cfg.Task("main").File, main},
		{cfg.Task("main").Destination, filepath.Join(dir, "out")},
		{cfg.Task("a").File, filepath.Join(confd, "a.toml")},
		{cfg.Task("a").Destination, filepath.Join(confd, "drop/a")},
		{cfg.Accounts["a"].File, filepath.Join(confd, "a.toml")},
		{cfg.Accounts["a"].PasswordFile, filepath.Join(confd, "a.pw")},
		{cfg.Accounts["main"].File, main},
		{cfg.Task("b-main").Destination, "/abs"},
		{cfg.Task("b-main").RunAfterFile[0], filepath.Join(confd, "hook.sh")},
		{cfg.StateDir, filepath.Join(dir, "state")},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// The patterns are read in the order given, each one's matches in lexical
// order, and a file two patterns match is read once.
func TestIncludeOrder(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{
		"main.toml":     `include = ["conf.d/b*.toml", "conf.d/*.toml", "extra/z.toml"]` + mainWithInclude[len(`include = ["conf.d/*.toml"]`):],
		"conf.d/a.toml": customer("a"),
		"conf.d/b.toml": customer("b"),
		"conf.d/c.toml": customer("c"),
		"extra/z.toml":  customer("z"),
	})
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.TaskNames(), ","); got != "main,b,a,c,z" {
		t.Errorf("tasks in the order %s, want main,b,a,c,z", got)
	}
}

// A pattern that matches the main file leaves it out: its tasks are not
// defined twice.
func TestIncludeSkipsTheMainFile(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{
		"main.toml":  `include = ["*.toml"]` + mainWithInclude[len(`include = ["conf.d/*.toml"]`):],
		"other.toml": customer("other"),
	})
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.TaskNames(), ","); got != "main,other" {
		t.Errorf("tasks %s, want main,other", got)
	}
}

// An empty conf.d is a configuration without customers yet, not an error.
func TestIncludeMatchingNothing(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{"main.toml": mainWithInclude})
	cfg, err := Load(main)
	if err != nil || len(cfg.Included) != 0 || len(cfg.Tasks) != 1 {
		t.Fatalf("%v, %+v", err, cfg)
	}
}

// No task at all, with include, is a configuration without customers
// yet, or whose last customer's file went: valid, so that the daemon runs
// (and a reload removing the last file stops its task).
func TestIncludeWithoutTasks(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{"main.toml": "include = [\"conf.d/*.toml\"]\n", "conf.d/a.toml": "[accounts.x]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n"})
	cfg, err := Load(main)
	if err != nil || len(cfg.Tasks) != 0 || len(cfg.Accounts) != 1 {
		t.Fatalf("%v, %+v", err, cfg)
	}
}

func TestIncludeErrorsNameTheFile(t *testing.T) {
	const a, b = "conf.d/a.toml", "conf.d/b.toml"
	cases := []struct {
		name  string
		files map[string]string
		main  string // the main file's include, if not conf.d/*.toml
		want  []string
		not   []string
	}{
		{name: "a top-level setting", files: map[string]string{a: "state_dir = \"/x\"\nlog_level = \"debug\"\n" + customer("a")},
			want: []string{a + ": state_dir: is a setting of the main configuration file", a + ": log_level: is a setting"}},
		{name: "a [notify] table", files: map[string]string{a: customer("a") + "[notify]\naccount = \"a\"\n"},
			want: []string{a + ": notify: is a setting of the main configuration file"}},
		{name: "a cluster key", files: map[string]string{a: "state_store_env = \"X\"\n" + customer("a")},
			want: []string{a + ": state_store_env: is a setting of the main configuration file"}},
		{name: "a nested include", files: map[string]string{a: "include = [\"more/*.toml\"]\n" + customer("a")},
			want: []string{a + ": include: included files do not include others"}},
		{name: "an unknown key", files: map[string]string{a: customer("a") + "pasword = \"x\"\n", b: "bogus = 1\n" + customer("b")},
			want: []string{a + `: task "a": pasword: unknown key`, b + ": bogus: unknown key"}, not: []string{"is a setting of the main"}},
		{name: "a task without a name", files: map[string]string{a: "[[task]]\naccount = \"main\"\ndestination = \"d\"\nbogus = 1\n"},
			want: []string{a + ": task #2: name: missing", a + ": task #2: bogus: unknown key"}},
		{name: "an account defined twice", files: map[string]string{a: customer("a"), b: "[accounts.a]\nhost = \"h\"\n"},
			want: []string{b + `: account "a": is defined in ` + "DIR/" + a + " too"}},
		{name: "an account of the main file defined again", files: map[string]string{a: "[accounts.main]\nhost = \"h\"\n"},
			want: []string{a + `: account "main": is defined in DIR/main.toml too`}},
		{name: "a task defined twice", files: map[string]string{a: customer("a"), b: "[[task]]\nname = \"a\"\naccount = \"a\"\ndestination = \"d\"\n"},
			want: []string{b + `: task "a": name: is the name of a task in DIR/` + a + " too"}},
		{name: "an error in a task", files: map[string]string{a: customer("a") + "after = \"move\"\n"},
			want: []string{a + `: task "a": move_to: missing`}, not: []string{"main.toml: task"}},
		{name: "an error in an account", files: map[string]string{a: "[accounts.x]\nusername = \"u\"\npassword = \"p\"\n" + customer("a")},
			want: []string{a + `: account "x": host: missing`}},
		{name: "an undefined account", files: map[string]string{a: "[[task]]\nname = \"t\"\naccount = \"nope\"\ndestination = \"d\"\n"},
			want: []string{a + `: task "t": account: no account "nope" is defined (defined: main)`}},
		{name: "a syntax error", files: map[string]string{a: customer("a") + "[[task]\n", b: "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n"},
			want: []string{a + ": line 12:"}, not: []string{"no account"}},
		{name: "a missing file", main: `["conf.d/a.toml", "conf.d/missing.toml"]`, files: map[string]string{a: customer("a")},
			want: []string{`main.toml: include: "conf.d/missing.toml": no such file or directory`}},
		{name: "a folder", main: `["conf.d/*"]`, files: map[string]string{a: customer("a"), "conf.d/sub/x.toml": ""},
			want: []string{`main.toml: include: "conf.d/*" matches the folder DIR/conf.d/sub; include names files (e.g. "conf.d/*/*.toml")`}},
		{name: "a bad pattern", main: `["conf.d/[.toml"]`,
			want: []string{`main.toml: include: "conf.d/[.toml": syntax error in pattern`}},
		{name: "an empty pattern", main: `[""]`,
			want: []string{`main.toml: include: an empty pattern`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{"main.toml": mainWithInclude}
			if c.main != "" {
				files["main.toml"] = "include = " + c.main + "\n"
				files["main.toml"] += mainWithInclude[len(`include = ["conf.d/*.toml"]`):]
			}
			for k, v := range c.files {
				files[k] = v
			}
			_, err := Load(writeTree(t, dir, files))
			if err == nil {
				t.Fatal("loaded")
			}
			msg := strings.ReplaceAll(err.Error(), dir+"/", "")
			for _, w := range c.want {
				if w = strings.ReplaceAll(w, "DIR/", ""); !strings.Contains(msg, w) {
					t.Errorf("errors lack %q:\n%s", w, msg)
				}
			}
			for _, n := range c.not {
				if strings.Contains(msg, n) {
					t.Errorf("errors hold %q:\n%s", n, msg)
				}
			}
		})
	}
}

// A file the operator cannot read is named, here a link whose target is
// gone (root, who runs the tests here, reads files of any mode).
func TestIncludeUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	main := writeTree(t, dir, map[string]string{"main.toml": mainWithInclude, "conf.d/a.toml": customer("a")})
	if err := os.Symlink(filepath.Join(dir, "gone.toml"), filepath.Join(dir, "conf.d/b.toml")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(main)
	if want := filepath.Join(dir, "conf.d/b.toml") + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestHiddenNamesStayOutOfWildcards(t *testing.T) {
	for _, c := range []struct {
		pattern, match string
		hidden         bool
	}{
		{"/c/conf.d/*.toml", "/c/conf.d/a.toml", false},
		{"/c/conf.d/*.toml", "/c/conf.d/.#a.toml", true},
		{"/c/conf.d/*", "/c/conf.d/..data", true},
		{"/c/conf.d/.*.toml", "/c/conf.d/.a.toml", false},
		{"/c/conf.d/*/*.toml", "/c/conf.d/.git/a.toml", true},
		{"/c/.conf/*.toml", "/c/.conf/a.toml", false},
		{"/c/conf.d/?a.toml", "/c/conf.d/.a.toml", true},
	} {
		if got := hidden(c.pattern, c.match); got != c.hidden {
			t.Errorf("hidden(%q, %q) = %v", c.pattern, c.match, got)
		}
	}
}

// A message suggesting an account names the first few, not the thousands
// a file per mailbox makes.
func TestUndefinedAccountListsAFew(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"main.toml": mainWithInclude, "conf.d/typo.toml": "[[task]]\nname = \"t\"\naccount = \"c1\"\ndestination = \"d\"\n"}
	for i := range 12 {
		name := fmt.Sprintf("c%02d", i)
		files["conf.d/"+name+".toml"] = customer(name)
	}
	_, err := Load(writeTree(t, dir, files))
	want := `no account "c1" is defined (defined: main, c00, c01, c02, c03, c04, c05, c06, c07, c08 and 3 more)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}
