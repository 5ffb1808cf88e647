package scheduler

import "time"

// claimLogEvery is how often a node whose claims keep failing logs it
// again: it tries every claimPoll, and a database down for an hour would
// otherwise leave 3,600 identical warnings per node.
const claimLogEvery = time.Minute

// claimFailed counts a failed claim (or registration of the tasks) and
// tells whether to log it: the first of a row, then once every
// claimLogEvery while they go on. s.mu is held.
func (s *Scheduler) claimFailed() bool {
	now := s.clk.Now()
	s.claimFailures++
	if s.claimFailures == 1 {
		s.claimFailingSince = now
	}
	if s.claimFailures > 1 && now.Sub(s.claimLogged) < claimLogEvery {
		return false
	}
	s.claimLogged = now
	return true
}

// claimWorked ends a row of failed claims: it returns how many there
// were and for how long, 0 if none. s.mu is held.
func (s *Scheduler) claimWorked() (failures int, lasted time.Duration) {
	failures, s.claimFailures = s.claimFailures, 0
	if failures == 0 {
		return 0, 0
	}
	return failures, s.clk.Now().Sub(s.claimFailingSince).Round(time.Second)
}

// logClaimsBack says that claims work again after failures in a row; a
// single failure (a connection the database ended, met once) was its own
// line.
func (s *Scheduler) logClaimsBack(failures int, lasted time.Duration) {
	if failures > 1 {
		s.log.Info("the database answers again; claiming due tasks", "failures", failures, "for", lasted)
	}
}
