package popimap

import (
	"slices"
	"time"

	"mailtask/internal/mailbox"
	"mailtask/internal/state"
)

// A server whose SEARCH goes through an index can answer from an index
// that has not caught up with a message that just arrived: Exchange
// answers an empty SEARCH for a message just delivered and finds it in a
// later, identical search; Gmail's search lags until the folder is
// opened again. Recording at once as done every UID the rules' search
// leaves out would then lose a matching message that arrived a second
// before the run. So a UID left out stays new, searched again by each
// run (the rules' search over the range of new UIDs covers it: no
// download, no header fetch), and becomes done only once a search at
// least the account's search_settle after mailtask first saw it left out
// still leaves it out. One the index then selects is taken as any other.

// settleLeft records as done the messages of left, those the rules'
// search left out, that it has left out since at least settle ago, and
// keeps the others settling, with when they were first seen left out. It
// returns those done now. The settling UIDs it does not list again
// (gone, or taken since) are forgotten: st.Settling holds only left.
func settleLeft(st *state.State, left []mailbox.Message, settle time.Duration, now time.Time) (settled []mailbox.Message) {
	var next state.Settling
	for _, m := range left {
		seen, ok := st.Settling.Seen(m.UID)
		if !ok || seen.After(now) { // a clock set back starts the wait again
			seen = now
		}
		if now.Sub(seen) >= settle {
			st.Done.Add(m.UID)
			settled = append(settled, m)
			continue
		}
		next.Append(m.UID, seen)
	}
	st.Settling = next
	return settled
}

// settledWatched is those of watched, the quarantine notices among what
// the rules' search left out, that settled now. A notice is warned of
// when it settles, not when first seen: the notice search goes through
// the same index as the rules' search and may miss a notice at first
// sight, while a warning at each run until it settles would repeat it.
func settledWatched(watched, settled []mailbox.Message) []mailbox.Message {
	var kept []mailbox.Message
	for _, m := range watched {
		if _, ok := slices.BinarySearchFunc(settled, m, byUID); ok {
			kept = append(kept, m)
		}
	}
	return kept
}
