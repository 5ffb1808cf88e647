package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestErrorsComeInFileOrder parses a file with many broken accounts a
// number of times: the errors must name them in the order the file does,
// the same on every run (ranging over the accounts map gave a new order
// each time).
func TestErrorsComeInFileOrder(t *testing.T) {
	names := []string{"zulu", "alpha", "mike", "bravo", "yankee", "charlie", "xray", "delta", "whiskey", "echo", "victor", "foxtrot"}
	var file strings.Builder
	for _, n := range names {
		// No host, no username, and an unknown protocol and TLS mode: each
		// account fails the account checks; an out-of-range
		// max_connections fails the daemon's checks of it too.
		fmt.Fprintf(&file, "[accounts.%s]\nprotocol = \"smtp\"\ntls = \"maybe\"\npassword = \"p\"\nmax_connections = 1000\n\n", n)
	}
	file.WriteString("[[task]]\nname = \"t\"\naccount = \"nope\"\ndestination = \"d\"\n")

	var first string
	for run := range 20 {
		_, err := Parse("/cfg/m.toml", []byte(file.String()))
		if err == nil {
			t.Fatal("no error for a file of broken accounts")
		}
		msg := err.Error()
		if run == 0 {
			first = msg
			checkAccountOrder(t, msg, names)
			if !strings.Contains(msg, "(defined: zulu, alpha, mike,") {
				t.Errorf("the accounts a task may name are not listed in file order:\n%s", msg)
			}
			continue
		}
		if msg != first {
			t.Fatalf("run %d reported the errors in another order:\n%s\nfirst run:\n%s", run, msg, first)
		}
	}
}

// checkAccountOrder checks that, within each group of account errors, the
// accounts come in the order of names.
func checkAccountOrder(t *testing.T, msg string, names []string) {
	t.Helper()
	var seen []string
	for line := range strings.Lines(msg) {
		_, rest, ok := strings.Cut(line, `: account "`)
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, `"`)
		if len(seen) == 0 || seen[len(seen)-1] != name {
			seen = append(seen, name)
		}
	}
	// The account checks, then the daemon's connection limits: the file's
	// order twice.
	want := append(append([]string(nil), names...), names...)
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("accounts reported in the order\n  %s\nwant\n  %s\n%s", strings.Join(seen, ","), strings.Join(want, ","), msg)
	}
}

// TestOAuth2LeftoverPasswordsInKeyOrder: an OAuth2 account that still sets
// every password key gets one error per key, always in the same order.
func TestOAuth2LeftoverPasswordsInKeyOrder(t *testing.T) {
	file := `
[accounts.o]
host = "h"
username = "u"
auth = "oauth2"
password = "p"
password_env = "E"
password_file = "f"
[accounts.o.oauth2]
client_id = "c"
[[task]]
name = "t"
account = "o"
destination = "d"
`
	for range 20 {
		_, err := Parse("/cfg/m.toml", []byte(file))
		if err == nil {
			t.Fatal("no error for password keys on an OAuth2 account")
		}
		var keys []string
		for line := range strings.Lines(err.Error()) {
			for _, k := range []string{"password:", "password_env:", "password_file:"} {
				if strings.Contains(line, `account "o": `+k) {
					keys = append(keys, strings.TrimSuffix(k, ":"))
				}
			}
		}
		if got := strings.Join(keys, ","); got != "password,password_env,password_file" {
			t.Fatalf("password keys reported as %s, want password,password_env,password_file:\n%v", got, err)
		}
	}
}
