package state

import (
	"sort"
	"time"
)

// Settling are the IMAP UIDs that the rules' server search left out but
// that are not done yet, with when this task first saw each (mailtask's
// clock: not the message's INTERNALDATE, which a message moved into the
// folder keeps from before, nor the server's clock). A server whose
// search goes through an index (Exchange, Gmail) can leave out a message
// that arrived just before, until the index catches up; such a UID is
// searched again by later runs and becomes done only once a search at
// least the account's search_settle after it was first seen still leaves
// it out (tasks/popimap).
//
// It is kept as ascending ranges, each with the time its UIDs were first
// seen, so that what one run left out costs one range however the
// matching mail interleaves with it: the UIDs of a range that are not
// settling (taken, or gone) are done, and never asked of it. That time
// holds for every UID of a range that exists: UIDs are given out in
// ascending order, so one below the range's last existed when that was
// first seen, and the run that saw it listed it.
type Settling []SettlingRange

// SettlingRange is the UIDs from First to Last, both included, first
// seen left out at Seen.
type SettlingRange struct {
	First uint32    `json:"first"`
	Last  uint32    `json:"last"`
	Seen  time.Time `json:"seen"`
}

// Seen reports when uid was first seen left out, if it is settling.
func (s Settling) Seen(uid uint32) (time.Time, bool) {
	i := sort.Search(len(s), func(k int) bool { return s[k].Last >= uid })
	if i == len(s) || s[i].First > uid {
		return time.Time{}, false
	}
	return s[i].Seen, true
}

// Append adds uid, first seen at seen; uid must be above every UID in s.
// It extends the last range when that was first seen at the same time.
func (s *Settling) Append(uid uint32, seen time.Time) {
	if n := len(*s); n > 0 && (*s)[n-1].Seen.Equal(seen) {
		(*s)[n-1].Last = uid
		return
	}
	*s = append(*s, SettlingRange{First: uid, Last: uid, Seen: seen})
}

// SettlingCount is what a state's Settling holds, as far as the state
// can count it.
type SettlingCount struct {
	Ranges int `json:"ranges"`
	// UIDsAtMost counts the UIDs of the ranges that Done does not hold:
	// the settling ones, and any the search selected that no run has
	// taken yet (a run cut short, or max_messages), which the state does
	// not tell apart from them.
	UIDsAtMost uint64 `json:"uids_at_most"`
	// OldestSeen is when the UIDs first seen the longest ago were.
	OldestSeen time.Time `json:"oldest_seen"`
}

// CountSettling counts what is settling; nil when nothing is.
func (st *State) CountSettling() *SettlingCount {
	if len(st.Settling) == 0 {
		return nil
	}
	c := &SettlingCount{Ranges: len(st.Settling), OldestSeen: st.Settling[0].Seen}
	for _, r := range st.Settling {
		c.UIDsAtMost += uint64(r.Last-r.First) + 1 - st.Done.CountIn(r.First, r.Last)
		if r.Seen.Before(c.OldestSeen) { // a clock set back
			c.OldestSeen = r.Seen
		}
	}
	return c
}
