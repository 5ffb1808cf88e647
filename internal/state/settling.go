package state

import (
	"sort"
	"time"
)

// Settling are the IMAP UIDs that the rules' server search left out but
// that are not done yet, each with when this task first saw it left out
// (mailtask's clock: not the message's INTERNALDATE, which a message
// moved into the folder keeps from before, nor the server's clock). A
// server whose search goes through an index (Exchange, Gmail) can leave
// out a message that arrived just before, until the index catches up;
// such a UID is searched again by later runs and becomes done only once
// a search at least the account's search_settle after Seen still leaves
// it out (tasks/popimap). It is kept as ascending ranges of consecutive
// UIDs first seen at once, so a run's worth of non-matching mail costs
// one entry: what a run can list bounds it.
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
func (s *Settling) Append(uid uint32, seen time.Time) {
	if n := len(*s); n > 0 {
		last := &(*s)[n-1]
		if last.Last+1 == uid && last.Seen.Equal(seen) {
			last.Last = uid
			return
		}
	}
	*s = append(*s, SettlingRange{First: uid, Last: uid, Seen: seen})
}

// Len counts the UIDs settling.
func (s Settling) Len() int {
	n := 0
	for _, r := range s {
		n += int(r.Last-r.First) + 1
	}
	return n
}
