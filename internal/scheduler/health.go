package scheduler

import (
	"fmt"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
)

// Health returns one line per scheduled task that has not succeeded for
// unhealthy_after of its schedule intervals (plus its jitter), counted from
// its last success or, if that is older, from when this daemon started
// scheduling it: a restart gives every task a fresh allowance, so that a
// probe restarting an unhealthy daemon does not loop. A task with idle is
// also unhealthy while its IDLE connection has failed unhealthy_after
// times in a row, and one without a schedule when its last unhealthy_after
// runs failed. No lines: healthy.
//
// In cluster mode the lines are this node's: its claims failing
// unhealthy_after times in a row, and the IDLE connections it keeps.
//
// It holds the scheduler's lock only to copy what it needs: working out a
// task's due time walks its schedule, and a probe must never hold up a run.
func (s *Scheduler) Health() []string {
	type check struct {
		name, spec string
		sched      cron.Schedule
		jitter     time.Duration
		from, ok   time.Time
		hadSuccess bool
		intervals  int
	}
	var problems []string
	s.mu.Lock()
	now := s.clk.Now()
	checks := make([]check, 0, len(s.entries))
	if s.clustered() && s.claimFailures >= s.cfg.UnhealthyAfter {
		problems = append(problems, fmt.Sprintf("this node could not claim due tasks from the database %d times in a row", s.claimFailures))
	}
	for name, e := range s.entries {
		if st, ok := s.idle[name]; ok && st.Unhealthy(s.cfg.UnhealthyAfter) {
			problems = append(problems, fmt.Sprintf("task %q: its IDLE connection failed %d times in a row (last: %s); reconnecting with backoff",
				name, st.Failures, st.LastError))
		}
		if s.clustered() {
			// Any node may run the task: whether it succeeds lately is
			// the cluster's to tell (mailtask status), not this node's.
			continue
		}
		if e.sched == nil {
			if n := s.failures[name]; n >= s.cfg.UnhealthyAfter {
				problems = append(problems, fmt.Sprintf("task %q: its last %d runs failed", name, n))
			}
			continue
		}
		c := check{name: name, spec: e.task.Schedule, sched: e.sched, jitter: e.task.Jitter.Std(), from: s.since[name], intervals: s.cfg.UnhealthyAfter}
		c.ok, c.hadSuccess = s.lastOK[name]
		if c.ok.After(c.from) {
			c.from = c.ok
		}
		checks = append(checks, c)
	}
	s.mu.Unlock()

	for _, c := range checks {
		if !overdue(c.sched, c.from, c.intervals, now.Add(-c.jitter)) {
			continue
		}
		last := "none recorded"
		if c.hadSuccess {
			last = c.ok.Format(time.RFC3339)
		}
		problems = append(problems, fmt.Sprintf("task %q: no successful run in %d schedule intervals (%s) since %s; last success: %s",
			c.name, c.intervals, c.spec, c.from.Format(time.RFC3339), last))
	}
	slices.Sort(problems)
	return problems
}

// overdue reports whether the intervals-th firing of sched after from came
// before at. It walks no further than at: a task that ran recently is
// healthy after a step or two, whatever unhealthy_after says.
func overdue(sched cron.Schedule, from time.Time, intervals int, at time.Time) bool {
	due := from
	for range intervals {
		due = sched.Next(due)
		if due.IsZero() || !due.Before(at) {
			return false
		}
	}
	return true
}
