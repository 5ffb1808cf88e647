package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validConfig = `
state_dir = "./state"

[accounts.shared-inbox]
protocol = "imap"
host = "outlook.office365.com"
port = 993
tls = "implicit"
ca_file = ""
insecure_skip_verify = false
username = "invoices@contoso.com"
auth = "password"
password_env = "SHARED_INBOX_PASSWORD"

[[task]]
name = "invoices"
account = "shared-inbox"
schedule = "*/5 * * * *"
mailbox = "INBOX"
destination = "/srv/drop/invoices"
after = "move"
move_to = "Processed"
`

func TestParseTheDocumentedShape(t *testing.T) {
	cfg, err := Parse("/etc/mailtask/mailtask.toml", []byte(validConfig))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/etc/mailtask/state" {
		t.Errorf("state_dir = %q, want it resolved beside the config file", cfg.StateDir)
	}
	task := cfg.Task("invoices")
	if task == nil || task.Destination != "/srv/drop/invoices" || task.MoveTo != "Processed" || task.BatchSize != DefaultBatchSize {
		t.Fatalf("task = %+v", task)
	}
	a := cfg.Accounts["shared-inbox"]
	if a.Name != "shared-inbox" || a.Port != 993 || a.Timeout.Std() != DefaultTimeout {
		t.Errorf("account = %+v", a)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse("/cfg/m.toml", []byte(`
[accounts.a]
host = "127.0.0.1"
username = "u"
password = "p"
[accounts.p]
protocol = "pop3"
tls = "starttls"
host = "pop.example.net"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "out"
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/cfg/state" {
		t.Errorf("state_dir default = %q", cfg.StateDir)
	}
	if a := cfg.Accounts["a"]; a.Protocol != "imap" || a.TLS != "implicit" || a.Port != 993 || a.Auth != "password" {
		t.Errorf("imap defaults = %+v", a)
	}
	if p := cfg.Accounts["p"]; p.Port != 110 {
		t.Errorf("pop3 starttls port = %d, want 110", p.Port)
	}
	if task := cfg.Tasks[0]; task.Mailbox != "INBOX" || task.After != "none" || task.Destination != "/cfg/out" {
		t.Errorf("task defaults = %+v", task)
	}
}

// Each bad file must be refused with an error naming where and what.
func TestErrorsNameTheKeyAndSection(t *testing.T) {
	base := func(account, task string) string {
		return "[accounts.a]\nhost = \"mail.example.com\"\nusername = \"u\"\npassword_env = \"P\"\n" + account +
			"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"/d\"\n" + task
	}
	cases := []struct {
		name, file string
		want       []string
	}{
		{"unknown task key", base("", "destinaton = \"/x\""), []string{`task "t": destinaton: unknown key`}},
		{"unknown account key", base("pasword = \"x\"", ""), []string{`account "a": pasword: unknown key`}},
		{"unknown top-level key", "statedir = \"x\"\n" + base("", ""), []string{"statedir: unknown key"}},
		{"unknown account", strings.Replace(base("", ""), `account = "a"`, `account = "b"`, 1), []string{`task "t": account: no account "b" is defined (defined: a)`}},
		{"duplicate task", base("", "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"/e\""), []string{`task "t": name: task #1 already has this name`}},
		{"missing destination", strings.Replace(base("", ""), "destination = \"/d\"", "", 1), []string{`task "t": destination: missing`}},
		{"missing host", strings.Replace(base("", ""), "host = \"mail.example.com\"", "", 1), []string{`account "a": host: missing`}},
		{"no password", strings.Replace(base("", ""), "password_env = \"P\"", "", 1), []string{`account "a": password_env: no password given`}},
		{"two passwords", base("password = \"x\"", ""), []string{`account "a": password: set only one`}},
		{"cleartext to remote", base("tls = \"none\"", ""), []string{`account "a": tls: "none" sends the password in clear text`}},
		{"bad protocol", base("protocol = \"smtp\"", ""), []string{`account "a": protocol: "smtp" is not one of imap, pop3`}},
		{"bad after", base("", "after = \"archive\""), []string{`task "t": after: "archive" is not one of`}},
		{"move without folder", base("", "after = \"move\""), []string{`task "t": move_to: missing`}},
		{"folder without move", base("", "move_to = \"X\""), []string{`task "t": move_to: is only used with after = "move"`}},
		{"seen on pop3", base("protocol = \"pop3\"", "after = \"seen\""), []string{`task "t": after: "seen" needs IMAP`}},
		{"bad schedule", base("", "schedule = \"every five minutes\""), []string{`task "t": schedule: "every five minutes" is not a valid schedule`}},
		{"never firing schedule", base("", "schedule = \"0 0 31 2 *\""), []string{`task "t": schedule: "0 0 31 2 *" never fires`}},
		{"panicking schedule", base("", "schedule = \"CRON_TZ=UTC\""), []string{`task "t": schedule: "CRON_TZ=UTC" is not a valid schedule`}},
		{"bad task name", strings.Replace(base("", ""), `name = "t"`, `name = "../x"`, 1), []string{`name: "../x" may hold only`}},
		{"missing ca file", base("ca_file = \"nope.pem\"", ""), []string{`account "a": ca_file: stat /cfg/nope.pem`}},
		{"bad timeout", base("timeout = \"soon\"", ""), []string{`"soon" is not a duration`}},
		{"no tasks", "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n", []string{"no [[task]] defined"}},
		{"syntax error", "state_dir = \n", []string{"/cfg/m.toml: line 1"}},
		{"several problems at once", base("pasword = \"x\"", "after = \"x\""), []string{"pasword: unknown key", `after: "x" is not one of`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("/cfg/m.toml", []byte(c.file))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg, err := Parse("/cfg/m.toml", []byte(strings.Replace(validConfig, `password_env = "SHARED_INBOX_PASSWORD"`, `password = "hunter2-secret"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts["shared-inbox"]
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, a); strings.Contains(s, "hunter2") {
			t.Errorf("%s of account prints the password: %s", format, s)
		}
	}
	if p, _ := a.ResolvePassword(); p.Reveal() != "hunter2-secret" {
		t.Errorf("Reveal = %q", p.Reveal())
	}
}

func TestResolvePasswordSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAILTASK_TEST_PW", "from-env")
	cases := []struct {
		acct    Account
		want    string
		wantErr string
	}{
		{Account{Name: "a", PasswordEnv: "MAILTASK_TEST_PW"}, "from-env", ""},
		{Account{Name: "a", PasswordEnv: "MAILTASK_TEST_UNSET"}, "", `account "a": password_env: environment variable MAILTASK_TEST_UNSET is not set`},
		{Account{Name: "a", PasswordFile: file}, "from-file", ""},
		{Account{Name: "a", PasswordFile: filepath.Join(dir, "none")}, "", `account "a": password_file:`},
		{Account{Name: "a", Password: "inline"}, "inline", ""},
	}
	for _, c := range cases {
		got, err := c.acct.ResolvePassword()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%+v: err = %v, want %q", c.acct, err, c.wantErr)
			}
			continue
		}
		if err != nil || got.Reveal() != c.want {
			t.Errorf("%+v: got %q, %v", c.acct, got.Reveal(), err)
		}
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := Load("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tasks) != 2 || len(cfg.Accounts) != 5 {
		t.Errorf("example has %d tasks, %d accounts", len(cfg.Tasks), len(cfg.Accounts))
	}
}

func TestFindOrder(t *testing.T) {
	t.Setenv(EnvConfig, "/from/env.toml")
	if got := Find("/from/flag.toml"); got != "/from/flag.toml" {
		t.Errorf("flag: %s", got)
	}
	if got := Find(""); got != "/from/env.toml" {
		t.Errorf("env: %s", got)
	}
	t.Setenv(EnvConfig, "")
	if got := Find(""); got != DefaultFile {
		t.Errorf("default: %s", got)
	}
}

func TestScheduleForms(t *testing.T) {
	for _, spec := range []string{"*/5 * * * *", "30 */5 * * * *", "@every 5m", "@hourly", "CRON_TZ=Europe/Berlin 0 7 * * 1-5"} {
		if _, err := ParseSchedule(spec); err != nil {
			t.Errorf("%q: %v", spec, err)
		}
	}
}
