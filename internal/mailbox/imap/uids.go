package imap

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/mailbox"
)

// UID sets the server sends (SEARCH answers, COPYUID) are read here, never
// with go-imap's Nums or SearchData.AllUIDs: those loop for ever, growing a
// slice, on a range that ends at 4294967295 (a valid UID), and panic on a
// "*", which go-imap makes of a 0 in a SEARCH answer.

// errDynamic is a UID set from the server that holds "*": the server
// answered "0" or "n:*", which name no message.
var errDynamic = errors.New(`the server answered with "*" or 0 among the UIDs, which name no message`)

// serverUIDs returns the UIDs of a UID SEARCH answer, checked.
func serverUIDs(data *imap.SearchData) (imap.UIDSet, error) {
	if data.All == nil {
		return nil, nil
	}
	set, ok := data.All.(imap.UIDSet)
	if !ok {
		return nil, errors.New("the server answered UID SEARCH with message numbers, not UIDs")
	}
	return set, checkStatic(set)
}

// checkStatic fails for a set holding "*" or "n:*".
func checkStatic(set imap.UIDSet) error {
	for _, r := range set {
		if r.Start == 0 || r.Stop == 0 {
			return errDynamic
		}
	}
	return nil
}

// uidRange is the UIDs from lo to hi, both included.
type uidRange struct{ lo, hi uint32 }

// within returns the UIDs of set (static) in r, in ascending order, at
// most limit of them, and how many more of set's UIDs lie in r.
func within(set imap.UIDSet, r uidRange, limit int) (uids []uint32, more uint64) {
	ranges := slices.Clone(set)
	slices.SortFunc(ranges, func(a, b imap.UIDRange) int { return cmpUID(a.Start, b.Start) })
	next := uint64(r.lo) // the lowest UID not yet passed, as a server may send overlapping ranges
	for _, rg := range ranges {
		lo, hi := max(uint64(rg.Start), next), min(uint64(rg.Stop), uint64(r.hi))
		if lo > hi {
			continue
		}
		for u := lo; u <= hi; u++ {
			if len(uids) == limit {
				more += hi - u + 1
				break
			}
			uids = append(uids, uint32(u))
		}
		next = hi + 1
	}
	return uids, more
}

// count returns how many UIDs of set (static) lie in r.
func count(set imap.UIDSet, r uidRange) uint64 {
	_, n := within(set, r, 0)
	return n
}

func cmpUID(a, b imap.UID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// listed returns, ascending, the UIDs of set (static) from first on that
// may exist: those below the UIDNEXT SELECT reported (any other is a
// server bug, or mail that arrived since, which the next run takes), at
// most mailbox.MaxListing (later runs take the rest). Nothing is recorded
// for the UIDs left out, so they cannot be taken for gone.
func (s *Session) listed(set imap.UIDSet, first uint32) []uint32 {
	below := uidRange{first, math.MaxUint32}
	if s.uidNext > 0 {
		below.hi = s.uidNext - 1
		if beyond := count(set, uidRange{max(first, s.uidNext), math.MaxUint32}); beyond > 0 && !s.grown(beyond) {
			s.log.Warn("the server listed UIDs at or above the UIDNEXT it announced; they name no message yet and are left out", "server", s.addr, "uids", beyond, "uidnext", s.uidNext)
		}
	}
	uids, more := within(set, below, mailbox.MaxListing)
	if more > 0 {
		s.log.Info(fmt.Sprintf("the folder holds more than %d new messages; this run lists the first, later runs the rest", mailbox.MaxListing), "server", s.addr, "left", more)
	}
	return uids
}

// grown reports whether as many messages as n arrived since SELECT: their
// UIDs are at or above the UIDNEXT it reported.
func (s *Session) grown(n uint64) bool {
	mb := s.client.Mailbox()
	return mb != nil && mb.NumMessages > s.exists && uint64(mb.NumMessages-s.exists) >= n
}

// SetLogger gives the session where to warn of what a server got wrong
// and mailtask worked around (UIDs it cannot have); by default nowhere.
func (s *Session) SetLogger(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.log = log
}
