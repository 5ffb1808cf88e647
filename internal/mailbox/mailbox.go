package mailbox

import (
	"context"
	"fmt"
	"io"
)

// Message identifies one message on the server.
type Message struct {
	UID  uint32 // IMAP UID; 0 on POP3
	Num  int    // POP3 message number in this session; 0 on IMAP
	UIDL string // POP3 unique ID; "" on IMAP
	// Size is as the server announces it before the message is asked for
	// (POP3 LIST, IMAP RFC822.SIZE), 0 if it does not.
	Size int64
}

// Key names the message in logs, failure records and file metadata:
// "uid:123" or "uidl:AAQkAD...".
func (m Message) Key() string {
	if m.UIDL != "" {
		return "uidl:" + m.UIDL
	}
	return fmt.Sprintf("uid:%d", m.UID)
}

// Taken is what a task has taken, as New needs it to tell the new
// messages from the others. The pipeline keeps it, in the task's state.
type Taken interface {
	// FirstUID is the lowest UID not taken (IMAP): New searches from there.
	FirstUID() uint32
	// HasUID reports whether the message with uid is taken (IMAP).
	HasUID(uid uint32) bool
	// HasUIDLs reports which of listed, every UIDL a listing of the server
	// holds, are taken (POP3). New calls it once per listing, so that the
	// taker also learns which of those it took have left the server.
	HasUIDLs(listed []string) []bool
}

// NoneTaken is a Taken that has taken nothing: New finds every message.
var NoneTaken Taken = noneTaken{}

type noneTaken struct{}

func (noneTaken) FirstUID() uint32                { return 1 }
func (noneTaken) HasUID(uint32) bool              { return false }
func (noneTaken) HasUIDLs(listed []string) []bool { return make([]bool, len(listed)) }

// Found is what New found on the server.
type Found struct {
	// New are the messages not taken yet, oldest first.
	New []Message
	// Done are UIDs (IMAP) that need no taking: below the highest UID on
	// the server and not on it, so gone for good (UIDs are not reused
	// within a UIDVALIDITY). Recording them as taken keeps the record a
	// few ranges, and the next search starts higher.
	Done []UIDRange
	// Left are, from NewMatching, the new messages its query leaves out,
	// oldest first. None matches as the server's search stands now; a
	// search that goes through an index may not have caught up with the
	// newest yet, so the caller decides when they are done.
	Left []Message
	// Watched are, from NewMatching, the messages of Left that its watch
	// terms select, oldest first: none is taken, but what their header
	// says the caller must hear of (a quarantine notice).
	Watched []Message
}

// UIDRange is the UIDs from First to Last, both included.
type UIDRange struct{ First, Last uint32 }

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
	// New finds the messages not taken, oldest first, and what else it
	// learns for free (Found.Done).
	New(ctx context.Context, taken Taken) (Found, error)
	// Fetch streams each of msgs to deliver, in order. The reader is valid
	// only during the call. Every requested message is delivered or Fetch
	// fails: a message the server leaves out or refuses is a
	// *NotDeliveredError, for which the caller keeps the others, delivered
	// whole, and the session goes on. After any other failure the caller
	// discards what Fetch delivered.
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
