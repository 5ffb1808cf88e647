package pop3

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"mailtask/internal/mailbox"
)

// What a server lists is checked and bounded here. Before anything is
// marked deleted, a listing names every message of the maildrop (RFC
// 1939), numbered from 1 to how many there are, and numbers never change
// within a session: the first listing of a session is checked to be so,
// and later ones to name no number beyond it. No listing may name a
// number twice, or one beyond mailbox.MaxListing, so it holds at most
// that many lines; STAT is not asked, which would cost every poll a round
// trip. UIDLs are unique per maildrop (RFC 1939); a server that lists one
// twice has the messages that share it keyed as on a server without UIDL
// (distinct).

// numberBound is the highest message number a listing may name.
func (s *Session) numberBound() int {
	if s.counted {
		return s.count
	}
	return mailbox.MaxListing
}

// counts takes, from the session's first listing, of n messages whose
// highest number is highest, how many messages the maildrop holds.
func (s *Session) counts(n, highest int) error {
	if s.counted {
		return nil
	}
	if highest > n {
		return s.listError(&protocolError{fmt.Sprintf("message number %d listed in a maildrop of %d messages", highest, n)})
	}
	s.count, s.counted = n, true
	return nil
}

// uidlIndex finds the messages of a listing by UIDL: the listing's
// positions sorted by UIDL, a tenth of what a map of them costs.
type uidlIndex struct {
	listing []UIDL
	order   []int32
}

func newUIDLIndex(listing []UIDL) *uidlIndex {
	order := make([]int32, len(listing))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		return cmp.Or(strings.Compare(listing[a].ID, listing[b].ID), cmp.Compare(a, b))
	})
	return &uidlIndex{listing: listing, order: order}
}

// get returns the number of the message with uidl, unless it is not
// listed or forgotten.
func (x *uidlIndex) get(uidl string) (int, bool) {
	i, ok := slices.BinarySearchFunc(x.order, uidl, func(pos int32, uidl string) int {
		return strings.Compare(x.listing[pos].ID, uidl)
	})
	if !ok || x.listing[x.order[i]].Num == 0 {
		return 0, false
	}
	return x.listing[x.order[i]].Num, true
}

// forget makes get miss the message with uidl from now on: it is marked
// deleted.
func (x *uidlIndex) forget(uidl string) {
	if i, ok := slices.BinarySearchFunc(x.order, uidl, func(pos int32, uidl string) int {
		return strings.Compare(x.listing[pos].ID, uidl)
	}); ok {
		x.listing[x.order[i]].Num = 0
	}
}

// shared returns the positions in the listing of the messages whose UIDL
// another message has too, in listing order.
func (x *uidlIndex) shared() []int {
	var out []int
	for i := 0; i < len(x.order); {
		j := i + 1
		for j < len(x.order) && x.listing[x.order[j]].ID == x.listing[x.order[i]].ID {
			j++
		}
		if j-i > 1 {
			for _, pos := range x.order[i:j] {
				out = append(out, int(pos))
			}
		}
		i = j
	}
	slices.Sort(out)
	return out
}

// distinct returns listing with the messages that share a UIDL keyed by
// their headers instead (headerKeys), which loses none of them: by the
// shared UIDL one would be fetched twice and the other never, yet both
// recorded as taken. Should the keys still collide with a UIDL, the
// listing fails.
func (s *Session) distinct(ctx context.Context, listing []UIDL) ([]UIDL, *uidlIndex, error) {
	index := newUIDLIndex(listing)
	shared := index.shared()
	if len(shared) == 0 {
		return listing, index, nil
	}
	var ids []string
	for _, pos := range shared {
		if len(ids) < 5 && !slices.Contains(ids, listing[pos].ID) {
			ids = append(ids, listing[pos].ID)
		}
	}
	s.log.Warn("the POP3 server lists one UIDL for several messages, which RFC 1939 forbids; those messages are recognised by Message-ID, Date and size instead", "server", s.addr, "messages", len(shared), "uidls", ids)
	byNum := make(map[int]int, len(shared)) // message number → position in listing
	for _, pos := range shared {
		byNum[listing[pos].Num] = pos
	}
	keys, err := s.headerKeys(ctx, func(num int) bool { _, ok := byNum[num]; return ok })
	if err != nil {
		return nil, nil, err
	}
	if len(keys) != len(byNum) {
		return nil, nil, s.listError(&protocolError{"the server's LIST leaves out messages its UIDL lists"})
	}
	for _, k := range keys {
		listing[byNum[k.Num]].ID = k.ID
	}
	index = newUIDLIndex(listing)
	if again := index.shared(); len(again) > 0 {
		return nil, nil, s.listError(&protocolError{fmt.Sprintf("the server lists UIDL %q for more than one message, and keying them by their headers did not tell them apart", listing[again[0]].ID)})
	}
	return listing, index, nil
}

// uniqueKeys makes the header keys of a listing, in message number order,
// unique: the second message keyed K (a message sent twice, identical in
// Message-ID, Date and size) becomes K-2, the third K-3. A re-run gives
// each the same key as long as the copies stay; once an earlier copy is
// gone, a later one takes its key, and if that one was taken, the later
// copy counts as taken too (it has the same header and size) and is left
// on the server.
func uniqueKeys(keys []UIDL) {
	index := newUIDLIndex(keys)
	for i := 0; i < len(index.order); {
		j := i + 1
		for j < len(index.order) && keys[index.order[j]].ID == keys[index.order[i]].ID {
			j++
		}
		for n, pos := range index.order[i+1 : j] { // in listing order: the sort breaks ties by position
			keys[pos].ID = fmt.Sprintf("%s-%d", keys[pos].ID, n+2)
		}
		i = j
	}
}
