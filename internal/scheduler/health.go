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
// probe restarting an unhealthy daemon does not loop. No lines: healthy.
func (s *Scheduler) Health() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	var problems []string
	for name, e := range s.entries {
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
