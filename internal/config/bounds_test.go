package config

import (
	"strings"
	"testing"
	"time"
)

// Every duration and count of the file has bounds, and a value outside
// them is refused with the file, the section and the key.
func TestBoundsOnEveryDurationAndCount(t *testing.T) {
	file := func(top, account, task, notify string) string {
		return top + "\n[accounts.a]\nhost = \"mail.example.com\"\nusername = \"u\"\npassword_env = \"P\"\n" + account +
			"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"/d\"\n" + task +
			"\n[notify]\naccount = \"a\"\nfrom = \"u\"\nto = [\"ops@example.com\"]\n" + notify
	}
	cases := []struct {
		name, file, want string
	}{
		{"account timeout too short", file("", `timeout = "1ns"`, "", ""), `/cfg/m.toml: account "a": timeout: 1ns is outside 1s..1h`},
		{"account timeout too long", file("", `timeout = "2h"`, "", ""), `account "a": timeout: 2h0m0s is outside 1s..1h`},
		{"negative search_settle", file("", `search_settle = "-1m"`, "", ""), `account "a": search_settle: -1m0s is outside 0s..168h ("0s" records what the search leaves out as done at once)`},
		{"search_settle too long", file("", `search_settle = "200h"`, "", ""), `account "a": search_settle: 200h0m0s is outside 0s..168h`},
		{"run timeout too short", file("", "", `timeout = "1ns"`, ""), `task "t": timeout: 1ns is outside 1s..168h`},
		{"run timeout too long", file("", "", `timeout = "200h"`, ""), `task "t": timeout: 200h0m0s is outside 1s..168h`},
		{"hook timeout", file("", "", "run_after_file = [\"/bin/true\"]\nhook_timeout = \"1ms\"", ""), `task "t": hook_timeout: 1ms is outside 1s..24h`},
		{"notify timeout", file("", "", "", `timeout = "1ns"`), `[notify]: timeout: 1ns is outside 1s..1h`},
		{"negative max_messages", file("", "", "max_messages = -1", ""), `task "t": max_messages: -1 is outside 0..10000000`},
		{"huge max_messages", file("", "", "max_messages = 20000000", ""), `task "t": max_messages: 20000000 is outside 0..10000000`},
		{"batch_size", file("", "", "batch_size = 5000", ""), `task "t": batch_size: 5000 is outside 1..1000`},
		{"connections", file("", "", "connections = -3", ""), `task "t": connections: -3 is outside 1..100`},
		{"tiny max_message_size", file("", "", `max_message_size = "100KB"`, ""), `task "t": max_message_size: 100000 is outside 1048576..68719476736 (1MiB..65536MiB)`},
		{"huge max_message_size", file("", "", `max_message_size = 100000000000`, ""), `task "t": max_message_size: 100000000000 is outside 1048576..68719476736`},
		{"huge unhealthy_after", file("unhealthy_after = 100000000", "", "", ""), `/cfg/m.toml: unhealthy_after: 100000000 is outside 1..10000`},
		{"huge jitter", file("", "", "schedule = \"@every 72h\"\njitter = \"25h\"", ""), `task "t": jitter: 25h0m0s is longer than 24h`},
		{"tiny max_age", file("", "", "[task.match]\nmax_age = \"1s\"", ""), `task "t": match.max_age: 1s is outside 1m..876000h`},
		{"destination at the root", strings.Replace(file("", "", "", ""), `destination = "/d"`, `destination = "/"`, 1), `task "t": destination: "/" puts files at the filesystem's root`},
		{"destination template at the root", strings.Replace(file("", "", "", ""), `destination = "/d"`, `destination = "/{yyyy}"`, 1), `task "t": destination: "/{yyyy}" puts files at the filesystem's root`},
		{"state_dir at the root", file(`state_dir = "/"`, "", "", ""), `/cfg/m.toml: state_dir: "/" is the filesystem's root`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("/cfg/m.toml", []byte(c.file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error\n%v\ndoes not contain %q", err, c.want)
			}
		})
	}
	// The bounds themselves are accepted.
	edge := file("unhealthy_after = 10000", "timeout = \"1s\"\nsearch_settle = \"168h\"", "timeout = \"168h\"\nmax_messages = 10000000\nmax_message_size = \"64GiB\"\nrun_after_file = [\"/bin/true\"]\nhook_timeout = \"24h\"", `timeout = "1h"`)
	if _, err := Parse("/cfg/m.toml", []byte(edge)); err != nil {
		t.Errorf("the bounds themselves are refused: %v", err)
	}
}

// search_settle defaults to an hour; "0s" turns settling off.
func TestSearchSettle(t *testing.T) {
	for text, want := range map[string]time.Duration{"": DefaultSearchSettle, `search_settle = "0s"`: 0, `search_settle = "5m"`: 5 * time.Minute} {
		cfg, err := Parse("/cfg/m.toml", []byte("[accounts.a]\nhost = \"mail.example.com\"\nusername = \"u\"\npassword_env = \"P\"\n"+text+
			"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"/d\"\n"))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if got := cfg.Accounts["a"].Settle(); got != want {
			t.Errorf("%q: settle %v, want %v", text, got, want)
		}
	}
}

// server_search defaults to the flags alone; "all" trusts the server with
// every rule it can express; anything else is refused, naming the
// account and the key.
func TestServerSearch(t *testing.T) {
	parse := func(text string) (*Config, error) {
		return Parse("/cfg/m.toml", []byte("[accounts.a]\nhost = \"mail.example.com\"\nusername = \"u\"\npassword_env = \"P\"\n"+text+
			"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"/d\"\n"))
	}
	for text, want := range map[string]bool{"": false, `server_search = "flags"`: false, `server_search = "all"`: true} {
		cfg, err := parse(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if got := cfg.Accounts["a"].SearchesAll(); got != want {
			t.Errorf("%q: searches all %v, want %v", text, got, want)
		}
	}
	_, err := parse(`server_search = "everything"`)
	if err == nil || !strings.Contains(err.Error(), `account "a": server_search: "everything" is not one of flags`) {
		t.Errorf("server_search = \"everything\": %v, want it refused naming the account and the key", err)
	}
}
