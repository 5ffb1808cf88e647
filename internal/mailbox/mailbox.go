package mailbox

import (
	"context"
	"fmt"
	"io"

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

// ClearPending records that the server has confirmed every due action.
func ClearPending(st *state.State) {
	st.PendingUIDs, st.PendingFailedUIDs = state.UIDSet{}, state.UIDSet{}
	st.PendingUIDLs, st.PendingFailedUIDLs = nil, nil
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
	// fails: a message the server silently leaves out is an error.
	Fetch(ctx context.Context, msgs []Message, deliver func(Message, io.Reader) error) error
	// Apply performs the after-action on msgs, which may include messages
	// of an earlier session (by UID or UIDL) that are already gone.
	Apply(ctx context.Context, after After, msgs []Message) error
	// Logout ends the session politely. Only when it succeeds are the
	// after-actions confirmed: for POP3, QUIT is what makes deletions
	// take effect.
	Logout(ctx context.Context) error
	// Close drops the connection without logging out.
	Close() error
}
