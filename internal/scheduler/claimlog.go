package scheduler

import (
	"context"
	"time"
)

// claimLogEvery is how often a node whose claims keep failing logs it
// again: it tries every claimPoll, and a database down for an hour would
// otherwise leave 3,600 identical warnings per node.
const claimLogEvery = time.Minute

// claimFailed counts a failed claim, or registration of the tasks (what
// failed, worded for the log), for the health check, and logs it: the
// first of a row, then once every claimLogEvery while they go on, unless
// ctx ended (the failure is then the daemon's stop).
func (s *Scheduler) claimFailed(ctx context.Context, what string, err error) {
	now := s.clk.Now()
	s.mu.Lock()
	s.claimFailures++
	n := s.claimFailures
	if n == 1 {
		s.claimFailingSince = now
	}
	log := n == 1 || now.Sub(s.claimLogged) >= claimLogEvery
	if log {
		s.claimLogged = now
	}
	s.mu.Unlock()
	if log && ctx.Err() == nil {
		s.log.Warn("could not "+what+"; trying again every second, logged once a minute", "failures", n, "err", err)
	}
}

// claimWorked ends a row of failed claims, and says that claims work again
// after failures in a row; a single failure (a connection the database
// ended, met once) was its own line.
func (s *Scheduler) claimWorked() {
	s.mu.Lock()
	failures := s.claimFailures
	s.claimFailures = 0
	lasted := s.clk.Now().Sub(s.claimFailingSince).Round(time.Second)
	s.mu.Unlock()
	if failures > 1 {
		s.log.Info("the database answers again; claiming due tasks", "failures", failures, "for", lasted)
	}
}
