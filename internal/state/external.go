package state

import "iter"

// What follows serves a store other than the state directory (cluster
// mode's PostgreSQL store, internal/pgstore), which keeps a State's parts
// in tables of its own and commits them itself: it loads a State without
// a directory (whose Save then refuses), restores the UIDLs it kept, and
// writes only the UIDL changes each commit made.

// UIDLChange is one change to a UIDLSet: a UIDL known (listed by the
// server, or missing from its listings since MissingDay), or forgotten.
type UIDLChange struct {
	Hash uint64 // the first 8 bytes of the UIDL's SHA-256, big-endian
	// MissingDay is the day (since the Unix epoch, UTC) of the first
	// listing that lacked the UIDL; 0 while the server lists it.
	MissingDay uint32
	Forget     bool
}

// Changes returns the changes the set has had since it was loaded or its
// changes were last saved, in the order they happened. A set migrated
// from an old state file has all its UIDLs as changes.
func (s *UIDLSet) Changes() []UIDLChange {
	if s.rewrite {
		var all []UIDLChange
		for h, day := range s.missing {
			all = append(all, UIDLChange{Hash: uint64(h), MissingDay: day})
		}
		return all
	}
	var changes []UIDLChange
	// The journal holds only records appendRecord and forget wrote.
	_ = eachRecord(s.journal, func(c UIDLChange) { changes = append(changes, c) })
	return changes
}

// ChangesSaved tells the set that its Changes are committed elsewhere, so
// that the next Changes starts from here.
func (s *UIDLSet) ChangesSaved() {
	s.journal, s.rewrite = nil, false
}

// Restore adds a UIDL's hash as a store kept it, without counting it as a
// change.
func (s *UIDLSet) Restore(hash uint64, missingDay uint32) {
	if s.missing == nil {
		s.missing = map[uidlHash]uint32{}
	}
	s.missing[uidlHash(hash)] = missingDay
}

// All yields every UIDL's hash with its MissingDay, in no order.
func (s *UIDLSet) All() iter.Seq2[uint64, uint32] {
	return func(yield func(uint64, uint32) bool) {
		for h, day := range s.missing {
			if !yield(uint64(h), day) {
				return
			}
		}
	}
}

// Rewrite makes the set's next save (State.Save, Changes) write every
// UIDL it holds, as a set restored from another store must be when it is
// moved into a state directory (`mailtask state export`).
func (s *UIDLSet) Rewrite() { s.rewrite = true }
