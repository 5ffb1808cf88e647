package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const daemonBase = `
[accounts.a]
host = "outlook.office365.com"
username = "u"
password_env = "P"
`

func TestDaemonKeys(t *testing.T) {
	cfg, err := Parse("/etc/mailtask/m.toml", []byte(`
max_concurrent_tasks = 8
log_format = "json"
log_level = "debug"
listen = "127.0.0.1:9464"
unhealthy_after = 5
stop_grace = "20s"
`+daemonBase+`
max_connections = 5
[[task]]
name = "t"
account = "a"
destination = "d"
schedule = "@every 5m"
jitter = "30s"
timeout = "10m"
retries = 0
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrentTasks != 8 || cfg.LogFormat != LogFormatJSON || cfg.Level() != slog.LevelDebug || cfg.Listen != "127.0.0.1:9464" || cfg.UnhealthyAfter != 5 || cfg.StopGrace.Std() != 20*time.Second {
		t.Errorf("daemon = %+v", cfg.Daemon)
	}
	if a := cfg.Accounts["a"]; a.MaxConnections != 5 {
		t.Errorf("max_connections = %d", a.MaxConnections)
	}
	task := cfg.Tasks[0]
	if task.Jitter.Std() != 30*time.Second || task.Timeout.Std() != 10*time.Minute || task.RetryLimit() != 0 {
		t.Errorf("run limits = %+v (retries %d)", task.RunLimits, task.RetryLimit())
	}
}

func TestDaemonDefaults(t *testing.T) {
	cfg, err := Parse("/etc/mailtask/m.toml", []byte(daemonBase+`
[[task]]
name = "t"
account = "a"
destination = "d"
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConcurrentTasks != 4 || cfg.LogFormat != "text" || cfg.Level() != slog.LevelInfo || cfg.Listen != "" || cfg.UnhealthyAfter != 3 || cfg.StopGrace.Std() != 45*time.Second {
		t.Errorf("daemon defaults = %+v", cfg.Daemon)
	}
	if a := cfg.Accounts["a"]; a.MaxConnections != 2 {
		t.Errorf("max_connections default = %d", a.MaxConnections)
	}
	// The run deadline is the task's own, distinct from the account's
	// per-operation timeout.
	task := cfg.Tasks[0]
	if task.Timeout.Std() != 30*time.Minute || task.RetryLimit() != 3 || task.Jitter != 0 || cfg.Accounts["a"].Timeout.Std() != DefaultTimeout {
		t.Errorf("run limit defaults = %+v", task.RunLimits)
	}
}

func TestDaemonKeysInvalid(t *testing.T) {
	_, err := Parse("/m.toml", []byte(`
max_concurrent_tasks = -1
log_format = "xml"
log_level = "loud"
listen = "metrics.example.com:9464"
unhealthy_after = -2
stop_grace = "2h"
`+daemonBase+`
max_connections = 0
[[task]]
name = "manual"
account = "a"
destination = "d"
jitter = "1m"
retries = 11
[[task]]
name = "scheduled"
account = "a"
destination = "d2"
schedule = "0 0 31 2 *"
[[task]]
name = "jittery"
account = "a"
destination = "d3"
schedule = "0 8,9 * * *"
jitter = "1h"
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"/m.toml: max_concurrent_tasks: -1 is outside 1..1000",
		`/m.toml: log_format: "xml" is not one of text, json`,
		`/m.toml: log_level: "loud" is not one of debug, info, warn, error`,
		`/m.toml: listen: "metrics.example.com:9464": give an IP address or localhost`,
		"/m.toml: unhealthy_after: -2 is outside 1..10000",
		"/m.toml: stop_grace: 2h0m0s is outside 1s..1h",
		`/m.toml: task "manual": jitter: is only used with schedule`,
		`/m.toml: task "manual": retries: 11 is outside 0..10`,
		`/m.toml: task "scheduled": schedule: "0 0 31 2 *" never fires`,
		`/m.toml: task "jittery": jitter: 1h0m0s is not shorter than the schedule's interval (1h0m0s)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// max_connections = 0 means the default, like every other absent number.
	if strings.Contains(err.Error(), "max_connections") {
		t.Errorf("max_connections = 0 rejected:\n%v", err)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Errorf("not a *config.Error: %T", err)
	}
}

func TestDaemonListenForms(t *testing.T) {
	for _, listen := range []string{":9464", "127.0.0.1:9464", "[::1]:9464", "localhost:0", "0.0.0.0:9464"} {
		_, err := Parse("/m.toml", []byte(`listen = "`+listen+`"`+daemonBase+`
[[task]]
name = "t"
account = "a"
destination = "d"
`))
		if err != nil {
			t.Errorf("listen %q: %v", listen, err)
		}
	}
	for _, listen := range []string{"9464", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000"} {
		_, err := Parse("/m.toml", []byte(`listen = "`+listen+`"`+daemonBase+`
[[task]]
name = "t"
account = "a"
destination = "d"
`))
		if err == nil || !strings.Contains(err.Error(), "listen") {
			t.Errorf("listen %q accepted: %v", listen, err)
		}
	}
}
