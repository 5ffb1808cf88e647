package state

import (
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// UIDSet is a set of IMAP UIDs kept as sorted, merged, inclusive ranges, so a
// mailbox of a million messages taken in order costs a few bytes. Its JSON
// form is an IMAP sequence set without '*': "1:500,502,510:9000".
//
// UID 0 is not a valid IMAP UID and is never a member.
type UIDSet struct {
	r []uidRange // sorted; neither overlapping nor adjacent
}

type uidRange struct{ lo, hi uint32 }

// Add puts uid in the set.
func (s *UIDSet) Add(uid uint32) { s.AddRange(uid, uid) }

// AddRange puts every UID from lo to hi inclusive in the set; lo and hi may
// come in either order, as in IMAP.
func (s *UIDSet) AddRange(lo, hi uint32) {
	if lo > hi {
		lo, hi = hi, lo
	}
	if hi == 0 {
		return
	}
	lo = max(lo, 1)
	// Ranges i..j-1 overlap or touch [lo, hi] and merge with it. uint64
	// keeps hi+1 from wrapping at the top of the UID space.
	i := sort.Search(len(s.r), func(k int) bool { return uint64(s.r[k].hi)+1 >= uint64(lo) })
	j := sort.Search(len(s.r), func(k int) bool { return uint64(s.r[k].lo) > uint64(hi)+1 })
	if i < j {
		lo = min(lo, s.r[i].lo)
		hi = max(hi, s.r[j-1].hi)
	}
	s.r = slices.Replace(s.r, i, j, uidRange{lo, hi})
}

// Remove takes uid out of the set.
func (s *UIDSet) Remove(uid uint32) {
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].hi >= uid })
	if i == len(s.r) || s.r[i].lo > uid {
		return
	}
	r := s.r[i]
	var rest []uidRange
	if r.lo < uid {
		rest = append(rest, uidRange{r.lo, uid - 1})
	}
	if uid < r.hi {
		rest = append(rest, uidRange{uid + 1, r.hi})
	}
	s.r = slices.Replace(s.r, i, i+1, rest...)
}

// Contains reports whether uid is in the set.
func (s *UIDSet) Contains(uid uint32) bool {
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].hi >= uid })
	return i < len(s.r) && s.r[i].lo <= uid
}

// Len returns the number of UIDs in the set.
func (s *UIDSet) Len() uint64 {
	var n uint64
	for _, r := range s.r {
		n += uint64(r.hi-r.lo) + 1
	}
	return n
}

// CountIn returns how many UIDs from lo to hi, both included, are in the
// set.
func (s *UIDSet) CountIn(lo, hi uint32) uint64 {
	var n uint64
	for i := sort.Search(len(s.r), func(k int) bool { return s.r[k].hi >= lo }); i < len(s.r) && s.r[i].lo <= hi; i++ {
		n += uint64(min(s.r[i].hi, hi)-max(s.r[i].lo, lo)) + 1
	}
	return n
}

// All yields the UIDs in the set in ascending order.
func (s *UIDSet) All() iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for _, r := range s.r {
			for uid := r.lo; ; uid++ {
				if !yield(uid) {
					return
				}
				if uid == r.hi {
					break
				}
			}
		}
	}
}

// IsZero reports whether the set is empty, for JSON's omitzero.
func (s UIDSet) IsZero() bool { return len(s.r) == 0 }

// FirstMissing returns the smallest UID (at least 1) not in the set, or 0 if
// the set holds every UID there is.
func (s *UIDSet) FirstMissing() uint32 {
	switch {
	case len(s.r) == 0 || s.r[0].lo > 1:
		return 1
	case s.r[0].hi == math.MaxUint32:
		return 0
	default:
		return s.r[0].hi + 1
	}
}

// String returns the set in IMAP sequence-set syntax, "" when empty.
func (s *UIDSet) String() string {
	var b []byte
	for i, r := range s.r {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(r.lo), 10)
		if r.hi != r.lo {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(r.hi), 10)
		}
	}
	return string(b)
}

// ParseUIDSet reads IMAP sequence-set syntax without '*'. Elements may come
// in any order and overlap; the result is normalised.
func ParseUIDSet(text string) (UIDSet, error) {
	var s UIDSet
	if text == "" {
		return s, nil
	}
	for elem := range strings.SplitSeq(text, ",") {
		loText, hiText, isRange := strings.Cut(elem, ":")
		lo, err := parseUID(loText)
		if err != nil {
			return UIDSet{}, fmt.Errorf("invalid UID set %q: element %q: %w", text, elem, err)
		}
		hi := lo
		if isRange {
			if hi, err = parseUID(hiText); err != nil {
				return UIDSet{}, fmt.Errorf("invalid UID set %q: element %q: %w", text, elem, err)
			}
		}
		s.AddRange(lo, hi)
	}
	return s, nil
}

func parseUID(text string) (uint32, error) {
	n, err := strconv.ParseUint(text, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a UID (a number from 1 to 4294967295)", text)
	}
	if n == 0 {
		return 0, fmt.Errorf("UID 0 does not exist")
	}
	return uint32(n), nil
}

// MarshalJSON encodes the set as a JSON string in sequence-set syntax.
func (s UIDSet) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.String())
}

// UnmarshalJSON decodes a JSON string in sequence-set syntax; null is the
// empty set.
func (s *UIDSet) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err != nil {
		return fmt.Errorf("invalid UID set: want a string like \"1:500,502\": %w", err)
	}
	set, err := ParseUIDSet(text)
	if err != nil {
		return err
	}
	*s = set
	return nil
}
