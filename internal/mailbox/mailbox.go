package mailbox

import (
	"context"
	"fmt"
	"io"
	"slices"

	"mailtask/internal/state"
)

// Message identifies one message on the server.
type Message struct {
	UID  uint32 // IMAP UID; 0 on POP3
	Num  int    // POP3 message number in this session; 0 on IMAP
	UIDL string // POP3 unique ID; "" on IMAP
	Size int64  // as the server reports it, for progress
}

// Key names the message in logs, failure records and file metadata:
// "uid:123" or "uidl:AAQkAD...".
func (m Message) Key() string {
	if m.UIDL != "" {
		return "uidl:" + m.UIDL
	}
	return fmt.Sprintf("uid:%d", m.UID)
}

// MarkDone records in st that the message needs no further work.
func (m Message) MarkDone(st *state.State) {
	if m.UIDL != "" {
		st.UIDLs.Add(m.UIDL)
		return
	}
	st.Done.Add(m.UID)
}

// MarkPending records in st that m's after-action is due, or with
// failed its failure action.
func (m Message) MarkPending(st *state.State, failed bool) {
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

// Pending returns the messages whose after-action st records as due, and
// those whose failure action it does.
func Pending(st *state.State) (taken, failed []Message) {
	return pending(st.PendingUIDs, st.PendingUIDLs), pending(st.PendingFailedUIDs, st.PendingFailedUIDLs)
}

func pending(uids state.UIDSet, uidls []string) []Message {
	var msgs []Message
	for uid := range uids.All() {
		msgs = append(msgs, Message{UID: uid})
	}
	for _, uidl := range uidls {
		msgs = append(msgs, Message{UIDL: uidl})
	}
	return msgs
}

// PendingRemoval returns the messages moved by a copy the server
// confirmed whose removal from the folder it has not confirmed (see
// RefusedError.Copied): only that removal is still due.
func PendingRemoval(st *state.State) []Message {
	return pending(st.PendingRemovalUIDs, nil)
}

// Settled is what the server said of the actions due: the messages whose
// after-action (Taken), failure action (Failed) or removal (Removed) it
// confirmed, and those whose move it copied and refused to remove.
type Settled struct {
	Taken, Failed, Removed    []Message
	CopiedTaken, CopiedFailed []Message
}

// Settle records in st what the server said. With confirmed false (the
// session did not end cleanly, so a POP3 server applied no DELE) only the
// copies are recorded: the rest stays due.
func Settle(st *state.State, s Settled, confirmed bool) {
	for _, m := range s.CopiedTaken {
		st.PendingUIDs.Remove(m.UID)
		st.PendingRemovalUIDs.Add(m.UID)
	}
	for _, m := range s.CopiedFailed {
		st.PendingFailedUIDs.Remove(m.UID)
		st.PendingRemovalUIDs.Add(m.UID)
	}
	if !confirmed {
		return
	}
	clear := func(uids *state.UIDSet, uidls *[]string, msgs []Message) {
		for _, m := range msgs {
			if m.UIDL != "" {
				*uidls = slices.DeleteFunc(*uidls, func(u string) bool { return u == m.UIDL })
				continue
			}
			uids.Remove(m.UID)
		}
	}
	clear(&st.PendingUIDs, &st.PendingUIDLs, s.Taken)
	clear(&st.PendingFailedUIDs, &st.PendingFailedUIDLs, s.Failed)
	clear(&st.PendingRemovalUIDs, new([]string), s.Removed)
}

// After is what happens on the server to a message once its files are
// durable and the state that records it is saved.
type After struct {
	Action  string // one of the config.After* values
	MoveTo  string // with "move"
	Keyword string // with "keyword"
	// Failure is the action for messages that could not be parsed; Select
	// checks that the server can carry it out too.
	Failure *After
}

// Session is one authenticated connection to a task's mailbox.
type Session interface {
	// Select opens the folder, read-only when the after-action changes
	// nothing, and fails if the server cannot carry the after-action out, so
	// that nothing is taken that could not then be moved or deleted. It
	// returns the folder's UIDVALIDITY (0 for POP3).
	Select(ctx context.Context, folder string, after After) (uidValidity uint32, err error)
	// New returns the messages st has not recorded as done, oldest first.
	// It may record in st what it learns for free (IMAP UIDs that no longer
	// exist, POP3 UIDLs that left the server).
	New(ctx context.Context, st *state.State) ([]Message, error)
	// Fetch streams each of msgs to deliver, in order. The reader is valid
	// only during the call. Every requested message is delivered or Fetch
	// fails: a message the server silently leaves out is an error. When
	// Fetch fails, the caller discards what it delivered.
	Fetch(ctx context.Context, msgs []Message, deliver func(Message, io.Reader) error) error
	// Apply performs the after-action on msgs, which may include messages
	// of an earlier session (by UID or UIDL) that are already gone. It
	// returns nil when the server confirmed it for every message (a POP3
	// DELE takes effect only at Logout), a *RefusedError when the server
	// refused it for some (the others have it done), and any other error
	// when it is unknown what the server did.
	Apply(ctx context.Context, after After, msgs []Message) error
	// Logout ends the session politely. Only when it succeeds are the
	// after-actions confirmed: for POP3, QUIT is what makes deletions
	// take effect.
	Logout(ctx context.Context) error
	// Close drops the connection without logging out.
	Close() error
}
