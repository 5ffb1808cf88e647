package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Push holds the task keys of push delivery: under `mailtask run`, a task
// with Idle keeps a connection to its folder in IMAP IDLE (RFC 2177) and
// runs as soon as the server reports new mail.
type Push struct {
	Idle bool `toml:"idle"`
	// IdleReissue is how often IDLE is ended and sent again, so that the
	// server never sees the connection inactive for long enough to drop it
	// (Exchange Online drops it after 30 minutes).
	IdleReissue Duration `toml:"idle_reissue"`
}

const (
	DefaultIdleReissue = 25 * time.Minute
	// MaxIdleReissue stays under RFC 2177's 29 minutes, and under the 28
	// minutes after which go-imap re-issues IDLE on its own.
	MinIdleReissue = time.Minute
	MaxIdleReissue = 28 * time.Minute
	// IdlePoll is how often the daemon runs an idle task that has no
	// schedule when its server turns out not to offer IDLE.
	IdlePoll = 5 * time.Minute
)

func (t *Task) applyPushDefaults() {
	if t.Idle && t.IdleReissue == 0 {
		t.IdleReissue = Duration(DefaultIdleReissue)
	}
}

// validatePush checks the tasks' idle keys, and that each account's
// max_connections leaves room beside the connections its idle tasks hold.
func (c *Config) validatePush(fail func(section, key, format string, args ...any)) {
	idle := map[string][]string{}      // account -> its idle tasks
	scheduled := map[string][]string{} // account -> its other tasks the daemon runs
	for i, t := range c.Tasks {
		at := taskLabel(i, t.Name)
		if !t.Idle {
			if t.IdleReissue != 0 {
				fail(at, "idle_reissue", "is only used with idle = true")
			}
			if t.Schedule != "" {
				scheduled[t.Account] = append(scheduled[t.Account], strconv.Quote(t.Name))
			}
			continue
		}
		acct, ok := c.Accounts[t.Account]
		if !ok {
			continue // reported with the account key
		}
		if acct.Protocol == ProtocolPOP3 {
			fail(at, "idle", "POP3 has no IDLE (RFC 2177 is an IMAP extension), and account %q is POP3: remove idle and set a schedule, or use IMAP", t.Account)
			continue
		}
		if r := t.IdleReissue.Std(); r < MinIdleReissue || r > MaxIdleReissue {
			fail(at, "idle_reissue", "%s is outside %s..%s (servers may drop a connection idle for 30 minutes)", r, MinIdleReissue, MaxIdleReissue)
		}
		idle[t.Account] = append(idle[t.Account], strconv.Quote(t.Name))
	}
	for _, name := range slices.Sorted(maps.Keys(idle)) {
		a, tasks := c.Accounts[name], idle[name]
		at := "account " + strconv.Quote(name)
		switch {
		case len(tasks) > a.MaxConnections:
			fail(at, "max_connections", "%d is fewer than the tasks with idle = true on this account (%s), each of which holds a connection: raise it to at least %d",
				a.MaxConnections, strings.Join(tasks, ", "), len(tasks))
		case len(tasks) == a.MaxConnections && len(scheduled[name]) > 0:
			fail(at, "max_connections", "%d is all taken by the IDLE connections of %s, leaving none for the runs of %s: raise it to %d",
				a.MaxConnections, strings.Join(tasks, ", "), strings.Join(scheduled[name], ", "), a.MaxConnections+1)
		}
	}
}

// Scheduled reports whether `mailtask run` runs t: on its schedule, or on
// new mail.
func (t *Task) Scheduled() bool { return t.Schedule != "" || t.Idle }
