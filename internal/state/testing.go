package state

import "time"

// Backdate marks every UIDL in s as missing from the server since since,
// as if every poll from then on had not listed it: for tests of pruning
// across the grace period without waiting for it.
func (s *UIDLSet) Backdate(since time.Time) {
	for h := range s.missing {
		s.set(h, max(dayOf(since), 1))
	}
}
