package config

import (
	"strings"
	"testing"
	"time"
)

func TestIdleKeys(t *testing.T) {
	cfg, err := Parse("/etc/mailtask/m.toml", []byte(daemonBase+`
[[task]]
name = "push"
account = "a"
destination = "d"
idle = true
[[task]]
name = "push-and-poll"
account = "a"
destination = "d2"
idle = true
idle_reissue = "10m"
schedule = "@hourly"
`))
	if err != nil {
		t.Fatal(err)
	}
	push, both := cfg.Tasks[0], cfg.Tasks[1]
	if !push.Idle || push.IdleReissue.Std() != DefaultIdleReissue || !push.Scheduled() {
		t.Errorf("push = %+v", push.Push)
	}
	if both.IdleReissue.Std() != 10*time.Minute {
		t.Errorf("idle_reissue = %s", both.IdleReissue.Std())
	}
}

func TestIdleKeysInvalid(t *testing.T) {
	_, err := Parse("/m.toml", []byte(daemonBase+`
max_connections = 1
[accounts.pop]
protocol = "pop3"
host = "outlook.office365.com"
username = "u"
password_env = "P"
[[task]]
name = "pop"
account = "pop"
destination = "d"
idle = true
[[task]]
name = "stray"
account = "a"
destination = "d2"
schedule = "@hourly"
idle_reissue = "10m"
[[task]]
name = "fast"
account = "a"
destination = "d3"
idle = true
idle_reissue = "30s"
[[task]]
name = "slow"
account = "a"
destination = "d4"
idle = true
idle_reissue = "29m"
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`/m.toml: task "pop": idle: POP3 has no IDLE (RFC 2177 is an IMAP extension), and account "pop" is POP3`,
		`/m.toml: task "stray": idle_reissue: is only used with idle = true`,
		`/m.toml: task "fast": idle_reissue: 30s is outside 1m0s..28m0s`,
		`/m.toml: task "slow": idle_reissue: 29m0s is outside 1m0s..28m0s`,
		`/m.toml: account "a": max_connections: 1 is fewer than the tasks with idle = true on this account ("fast", "slow"), each of which holds a connection: raise it to at least 2`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// An account whose connections the IDLE connections take all leaves the
// runs of its other scheduled tasks waiting forever; one idle task alone
// on a single connection is fine, its runs borrow the watcher's.
func TestIdleConnectionsLeaveRoomForOtherTasks(t *testing.T) {
	tasks := `
[[task]]
name = "push"
account = "a"
destination = "d"
idle = true
`
	other := `
[[task]]
name = "poll"
account = "a"
destination = "d2"
schedule = "@every 5m"
`
	manual := `
[[task]]
name = "manual"
account = "a"
destination = "d3"
`
	if _, err := Parse("/m.toml", []byte(daemonBase+"max_connections = 1\n"+tasks+manual)); err != nil {
		t.Errorf("one idle task and a manual one on one connection: %v", err)
	}
	_, err := Parse("/m.toml", []byte(daemonBase+"max_connections = 1\n"+tasks+other))
	want := `/m.toml: account "a": max_connections: 1 is all taken by the IDLE connections of "push", leaving none for the runs of "poll": raise it to 2`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, err := Parse("/m.toml", []byte(daemonBase+"max_connections = 2\n"+tasks+other)); err != nil {
		t.Errorf("an idle and a scheduled task on two connections: %v", err)
	}
}
