package popimap

import (
	"slices"
	"time"

	"mailtask/internal/mailbox"
	"mailtask/internal/state"
)

// The task's state records what it has taken and what the server still
// has to do; the sessions know messages only by UID or UIDL. This file
// is the bookkeeping between the two.

// taken is the task's state as a session's New asks it (mailbox.Taken).
type taken struct {
	st *state.State
	// prune lets a listing of POP3 UIDLs stamp those that left the server
	// at now and forget them after state.UIDLGrace; without it (a check)
	// the state is only read.
	prune bool
	now   time.Time
}

func (t taken) FirstUID() uint32       { return t.st.Done.FirstMissing() }
func (t taken) HasUID(uid uint32) bool { return t.st.Done.Contains(uid) }

func (t taken) HasUIDLs(listed []string) []bool {
	if t.prune {
		return t.st.PruneUIDLs(listed, t.now, state.UIDLGrace)
	}
	known := make([]bool, len(listed))
	for i, uidl := range listed {
		known[i] = t.st.UIDLs.Has(uidl)
	}
	return known
}

// markFound records what New found that needs no taking.
func markFound(st *state.State, found mailbox.Found) {
	for _, r := range found.Done {
		st.Done.AddRange(r.First, r.Last)
	}
}

// markDone records that m needs no further work.
func markDone(st *state.State, m mailbox.Message) {
	delete(st.Undelivered, m.Key())
	if m.UIDL != "" {
		st.UIDLs.Add(m.UIDL)
		return
	}
	st.Done.Add(m.UID)
}

// markPending records that m's after-action is due, or with failed its
// failure action.
func markPending(st *state.State, m mailbox.Message, failed bool) {
	uids, uidls := &st.PendingUIDs, &st.PendingUIDLs
	if failed {
		uids, uidls = &st.PendingFailedUIDs, &st.PendingFailedUIDLs
	}
	if m.UIDL != "" {
		*uidls = append(*uidls, m.UIDL)
		return
	}
	uids.Add(m.UID)
}

// pending returns the messages whose after-action st records as due, and
// those whose failure action it does.
func pending(st *state.State) (taken, failed []mailbox.Message) {
	return pendingOf(st.PendingUIDs, st.PendingUIDLs), pendingOf(st.PendingFailedUIDs, st.PendingFailedUIDLs)
}

func pendingOf(uids state.UIDSet, uidls []string) []mailbox.Message {
	var msgs []mailbox.Message
	for uid := range uids.All() {
		msgs = append(msgs, mailbox.Message{UID: uid})
	}
	for _, uidl := range uidls {
		msgs = append(msgs, mailbox.Message{UIDL: uidl})
	}
	return msgs
}

// pendingRemoval returns the messages moved by a copy the server
// confirmed whose removal from the folder it has not confirmed (see
// mailbox.RefusedError.Copied): only that removal is still due.
func pendingRemoval(st *state.State) []mailbox.Message {
	return pendingOf(st.PendingRemovalUIDs, nil)
}

// settle records in st what the server said of the actions due (applied).
// With confirmed false (the session did not end cleanly, so a POP3 server
// applied no DELE) only the copies are recorded: the rest stays due.
func settle(st *state.State, a applied, confirmed bool) {
	for _, m := range a.copiedTaken {
		st.PendingUIDs.Remove(m.UID)
		st.PendingRemovalUIDs.Add(m.UID)
	}
	for _, m := range a.copiedFailed {
		st.PendingFailedUIDs.Remove(m.UID)
		st.PendingRemovalUIDs.Add(m.UID)
	}
	if !confirmed {
		return
	}
	drop := func(uids *state.UIDSet, uidls *[]string, msgs []mailbox.Message) {
		for _, m := range msgs {
			if m.UIDL != "" {
				*uidls = slices.DeleteFunc(*uidls, func(u string) bool { return u == m.UIDL })
				continue
			}
			uids.Remove(m.UID)
		}
	}
	drop(&st.PendingUIDs, &st.PendingUIDLs, a.taken)
	drop(&st.PendingFailedUIDs, &st.PendingFailedUIDLs, a.failed)
	drop(&st.PendingRemovalUIDs, new([]string), a.removed)
}
