package config

import (
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Daemon holds the top-level keys of `mailtask run`, the scheduler daemon.
type Daemon struct {
	// MaxConcurrentTasks bounds how many task runs are in flight at once.
	MaxConcurrentTasks int `toml:"max_concurrent_tasks"`
	// LogFormat is "text" or "json"; LogLevel debug, info, warn or error.
	LogFormat string `toml:"log_format"`
	LogLevel  string `toml:"log_level"`
	// Listen, when set, is the host:port serving /metrics and /healthz.
	Listen string `toml:"listen"`
	// UnhealthyAfter is how many of its schedule intervals a task may go
	// without a successful run before /healthz reports it.
	UnhealthyAfter int `toml:"unhealthy_after"`
	// StopGrace is how long runs in progress get, after SIGTERM, to commit
	// the message in hand and log out before they are abandoned.
	StopGrace Duration `toml:"stop_grace"`
}

// RunLimits are the task keys that bound each run.
type RunLimits struct {
	// Jitter delays each scheduled run by a random amount up to this, so
	// that many tasks on one schedule do not all connect in the same second.
	Jitter Duration `toml:"jitter"`
	// Timeout is the deadline of a whole run, retries included. (An
	// account's timeout bounds each network operation instead.)
	Timeout Duration `toml:"timeout"`
	// Retries is how many times a run that failed for a transient reason
	// (network, throttling, server busy) is tried again. Default 3.
	Retries *int `toml:"retries"`
}

// Log formats.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// Defaults of the daemon and run keys.
const (
	DefaultMaxConcurrentTasks = 4
	// Microsoft 365 allows about 20 concurrent IMAP connections per
	// mailbox, shared with every other client of it.
	DefaultMaxConnections = 2
	DefaultRunTimeout     = 30 * time.Minute
	DefaultRetries        = 3
	DefaultUnhealthyAfter = 3
	DefaultLogLevel       = "info"
	// DefaultStopGrace leaves a service manager's usual stop timeout
	// (systemd's 90 s, Kubernetes' 30 s raised to 60 in contrib/) room to
	// spare.
	DefaultStopGrace = 45 * time.Second
)

// Level returns log_level as a slog level; the value was validated on load.
func (d *Daemon) Level() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(d.LogLevel))
	return l
}

// RetryLimit returns how many times a transiently failed run is retried.
func (r *RunLimits) RetryLimit() int {
	if r.Retries == nil {
		return DefaultRetries
	}
	return *r.Retries
}

func (c *Config) applyDaemonDefaults() {
	if c.MaxConcurrentTasks == 0 {
		c.MaxConcurrentTasks = DefaultMaxConcurrentTasks
	}
	if c.LogFormat == "" {
		c.LogFormat = LogFormatText
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.UnhealthyAfter == 0 {
		c.UnhealthyAfter = DefaultUnhealthyAfter
	}
	if c.StopGrace == 0 {
		c.StopGrace = Duration(DefaultStopGrace)
	}
	for _, a := range c.Accounts {
		if a.MaxConnections == 0 {
			a.MaxConnections = DefaultMaxConnections
		}
	}
	for _, t := range c.Tasks {
		if t.Timeout == 0 {
			t.Timeout = Duration(DefaultRunTimeout)
		}
		if t.Retries == nil {
			t.Retries = new(DefaultRetries)
		}
	}
}

// validateDaemon checks the daemon's keys, the accounts' connection limits
// and the tasks' run limits.
func (c *Config) validateDaemon(fail failFunc) {
	checkCount(fail, "", "max_concurrent_tasks", c.MaxConcurrentTasks, 1, 1000)
	switch c.LogFormat {
	case LogFormatText, LogFormatJSON:
	default:
		fail("", "log_format", "%q is not one of text, json", c.LogFormat)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		fail("", "log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.Listen != "" {
		host, port, err := net.SplitHostPort(c.Listen)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			fail("", "listen", "%q is not host:port (e.g. \"127.0.0.1:9464\", or \":9464\" for every interface)", c.Listen)
		} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
			fail("", "listen", "%q: give an IP address or localhost, not a host name", c.Listen)
		}
	}
	checkCount(fail, "", "unhealthy_after", c.UnhealthyAfter, 1, MaxUnhealthyAfter)
	checkDuration(fail, "", "stop_grace", c.StopGrace.Std(), time.Second, time.Hour, "set the service manager's stop timeout a little longer")
	for _, name := range c.AccountNames() {
		checkCount(fail, "account "+strconv.Quote(name), "max_connections", c.Accounts[name].MaxConnections, 1, 100)
	}
	for i, t := range c.Tasks {
		at := taskLabel(i, t.Name)
		switch {
		case t.Jitter != 0 && t.Schedule == "":
			fail(at, "jitter", "is only used with schedule, and this task has none")
		case t.Jitter.Std() > MaxJitter:
			fail(at, "jitter", "%s is longer than %s", t.Jitter.Std(), short(MaxJitter))
		case t.Jitter != 0:
			if gap := shortestInterval(t.Schedule); gap > 0 && t.Jitter.Std() >= gap {
				fail(at, "jitter", "%s is not shorter than the schedule's interval (%s): runs would be skipped", t.Jitter.Std(), gap)
			}
		}
		checkCount(fail, at, "retries", t.RetryLimit(), 0, 10)
		checkDuration(fail, at, "timeout", t.Timeout.Std(), MinTimeout, MaxRunTimeout, "")
	}
}

// shortestInterval returns the shortest gap between the next few firings
// of spec, or 0 if it does not parse (that is reported on its own).
func shortestInterval(spec string) time.Duration {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return 0
	}
	var shortest time.Duration
	at := sched.Next(time.Now())
	for range 24 {
		next := sched.Next(at)
		if gap := next.Sub(at); shortest == 0 || gap < shortest {
			shortest = gap
		}
		at = next
	}
	return shortest
}
