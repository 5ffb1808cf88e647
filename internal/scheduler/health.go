package scheduler

import (
	"fmt"
	"slices"
	"time"
)

// Health returns one line per scheduled task that has not succeeded for
// unhealthy_after of its schedule intervals (plus its jitter), counted from
// its last success or, if that is older, from when this daemon started
// scheduling it: a restart gives every task a fresh allowance, so that a
// probe restarting an unhealthy daemon does not loop. A task with idle is
// also unhealthy while its IDLE connection has failed unhealthy_after
// times in a row, and one without a schedule when its last unhealthy_after
// runs failed. No lines: healthy.
func (s *Scheduler) Health() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	var problems []string
	for name, e := range s.entries {
		if st, ok := s.idle[name]; ok && st.Unhealthy(s.cfg.UnhealthyAfter) {
			problems = append(problems, fmt.Sprintf("task %q: its IDLE connection failed %d times in a row (last: %s); reconnecting with backoff",
				name, st.Failures, st.LastError))
		}
		if e.sched == nil {
			if n := s.failures[name]; n >= s.cfg.UnhealthyAfter {
				problems = append(problems, fmt.Sprintf("task %q: its last %d runs failed", name, n))
			}
			continue
		}
		from := s.since[name]
		ok, hadSuccess := s.lastOK[name]
		if ok.After(from) {
			from = ok
		}
		due := from
		for range s.cfg.UnhealthyAfter {
			due = e.sched.Next(due)
		}
		if due.IsZero() || !now.After(due.Add(e.task.Jitter.Std())) {
			continue
		}
		last := "none recorded"
		if hadSuccess {
			last = ok.Format(time.RFC3339)
		}
		problems = append(problems, fmt.Sprintf("task %q: no successful run in %d schedule intervals (%s) since %s; last success: %s",
			name, s.cfg.UnhealthyAfter, e.task.Schedule, from.Format(time.RFC3339), last))
	}
	slices.Sort(problems)
	return problems
}
