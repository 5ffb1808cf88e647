package cluster_test

import (
	"fmt"
	"testing"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
)

// The digest that tells nodes' configurations apart changes with what
// runs (tasks, accounts, lease), and not with what may differ between
// nodes without harm, nor with a secret's value, which it must not hold.
func TestConfigDigestIsOfTheWorkAlone(t *testing.T) {
	digest := func(top, password, task string) string {
		t.Helper()
		cfg, err := config.Parse("/etc/mailtask/mailtask.toml", fmt.Appendf(nil, `state_store_env = "DB"
%s
[accounts.a]
host = "imap.example.com"
username = "u"
password = %q
[[task]]
name = "t"
account = "a"
destination = "/srv/in"
%s`, top, password, task))
		if err != nil {
			t.Fatal(err)
		}
		return cluster.ConfigDigest(cfg)
	}
	base := digest(`lease = "1m"`, "hunter2", `schedule = "@every 5m"`)
	for _, c := range []struct {
		what, top, password, task string
		same                      bool
	}{
		{"another password", `lease = "1m"`, "correct horse", `schedule = "@every 5m"`, true},
		{"node settings", "lease = \"1m\"\nlisten = \"127.0.0.1:9464\"\nmax_concurrent_tasks = 48", "hunter2", `schedule = "@every 5m"`, true},
		{"another schedule", `lease = "1m"`, "hunter2", `schedule = "@every 10m"`, false},
		{"another lease", `lease = "2m"`, "hunter2", `schedule = "@every 5m"`, false},
		{"another task", `lease = "1m"`, "hunter2", "schedule = \"@every 5m\"\n[[task]]\nname = \"u\"\naccount = \"a\"\ndestination = \"/srv/u\"", false},
	} {
		if got := digest(c.top, c.password, c.task); (got == base) != c.same {
			t.Errorf("%s: digest %s, base %s; want the same: %v", c.what, got, base, c.same)
		}
	}
}

// Where the configuration files are, and which of them defines a task, is
// not the work either: nodes that keep the same configuration (absolute
// paths) in different folders agree.
func TestConfigDigestLeavesOutWhereTheFilesAre(t *testing.T) {
	text := []byte("state_store_env = \"DB\"\n[accounts.a]\nhost = \"imap.example.com\"\nusername = \"u\"\npassword_env = \"P\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"/srv/in\"\n")
	var digests []string
	for _, file := range []string{"/etc/mailtask/mailtask.toml", "/opt/mailtask/conf/mailtask.toml"} {
		cfg, err := config.Parse(file, text)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, cluster.ConfigDigest(cfg))
	}
	if digests[0] != digests[1] {
		t.Errorf("digests %s and %s of one configuration in two folders", digests[0], digests[1])
	}
}
