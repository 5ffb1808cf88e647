package popimap

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// refusal is an IMAPOptions.Fault that answers the commands named in on
// with reply while it is armed.
type refusal struct {
	armed atomic.Bool
	on    []string
	reply *imap.Error
}

func refuse(reply string, code imap.ResponseCode, on ...string) *refusal {
	r := &refusal{on: on, reply: &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: reply}}
	r.armed.Store(true)
	return r
}

func (r *refusal) fault(cmd string) error {
	if !r.armed.Load() {
		return nil
	}
	for _, on := range r.on {
		if cmd == on {
			return r.reply
		}
	}
	return nil
}

// refusedBed is a mailbox of three messages to take and a bystander of
// another client, marked \Deleted but not expunged, which no action of the
// task may touch.
type refusedBed struct {
	*fixture
	taken     [][]byte
	bystander uint32
}

func newRefusedBed(t *testing.T, opts testmail.IMAPOptions, taskTOML ...string) *refusedBed {
	t.Helper()
	opts.Mailboxes = append(opts.Mailboxes, "Processed")
	f := newFixture(t, opts, append(taskTOML, "[task.match]", `subject = ["scan*"]`)...)
	b := &refusedBed{fixture: f, taken: [][]byte{scan(1), scan(2), scan(3)}}
	f.append(b.taken...)
	var err error
	b.bystander, err = f.srv.Append("INBOX", mail{subject: "not ours"}.raw(), imap.FlagDeleted)
	mustT(t, err)
	return b
}

// refusedRun runs the task while the server refuses, and checks that the
// messages were taken and their action is due, with the refusal named.
func (b *refusedBed) refusedRun(t *testing.T, due func(*state.State) uint64) {
	t.Helper()
	sum, err := b.run()
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("run error %v, want the refusal named", err)
	}
	if sum.Saved != len(b.taken) || sum.Due.After != len(b.taken) {
		t.Errorf("summary %+v: want %d saved and their actions due", sum, len(b.taken))
	}
	st := loadState(t, b.fixture)
	if n := due(st); n != uint64(len(b.taken)) {
		t.Errorf("state after the refusal: %d actions due, want %d (pending %s, removal %s)", n, len(b.taken), st.PendingUIDs.String(), st.PendingRemovalUIDs.String())
	}
	if st.ActionRefused == "" || st.LastRun == nil || st.LastRun.Outcome != "failed" {
		t.Errorf("state does not say why: refused %q, last run %+v", st.ActionRefused, st.LastRun)
	}
}

// completed checks that a run after the refusal completed the action and
// that a further one finds nothing due.
func (b *refusedBed) completed(t *testing.T) {
	t.Helper()
	if sum := b.mustRun(); sum.Seen != 0 || sum.Due.After != 0 {
		t.Errorf("run with the cause gone: %+v, want nothing new and nothing due", sum)
	}
	st := loadState(t, b.fixture)
	if n := st.Due().After; n != 0 || st.ActionRefused != "" {
		t.Errorf("still due after the server confirmed: %d (%q)", n, st.ActionRefused)
	}
	if n := len(b.files()); n != len(b.taken) {
		t.Errorf("%d files, want %d", n, len(b.taken))
	}
}

// checkMoved checks that Processed holds exactly the taken messages, once
// each, and the inbox only the bystander.
func (b *refusedBed) checkMoved(t *testing.T) {
	t.Helper()
	inbox := b.srv.Messages("INBOX")
	if len(inbox) != 1 || inbox[0].UID != b.bystander || !hasFlag(inbox[0].Flags, imap.FlagDeleted) {
		var uids []uint32
		for _, m := range inbox {
			uids = append(uids, m.UID)
		}
		t.Errorf("inbox holds UIDs %v, want only %d, the other client's deleted message", uids, b.bystander)
	}
	processed := b.srv.Messages("Processed")
	if len(processed) != len(b.taken) {
		t.Fatalf("Processed holds %d messages, want the %d taken, once each", len(processed), len(b.taken))
	}
	for i, m := range processed {
		if !bytes.Equal(m.Raw, b.taken[i]) {
			t.Errorf("Processed message %d is not taken message %d", m.UID, i+1)
		}
	}
}

// checkUntouched checks that the refused run changed nothing on the server.
func (b *refusedBed) checkUntouched(t *testing.T) {
	t.Helper()
	if inbox, processed := len(b.srv.Messages("INBOX")), len(b.srv.Messages("Processed")); inbox != len(b.taken)+1 || processed != 0 {
		t.Fatalf("after the refusal: inbox %d, Processed %d; want %d and 0: a refused copy must not cost mail", inbox, processed, len(b.taken)+1)
	}
}

func pendingUIDs(st *state.State) uint64        { return st.PendingUIDs.Len() }
func pendingRemovalUIDs(st *state.State) uint64 { return st.PendingRemovalUIDs.Len() }

// On a server with UIDPLUS but no MOVE (Courier), a move is a COPY that
// must be confirmed before anything is flagged or expunged: a refused COPY
// (Courier's reply to a folder over quota or without the insert right)
// leaves every message in the inbox and the move due; once the cause is
// gone, the next run moves exactly the taken messages. (The real Courier
// does the same in courier_test.go.)
func TestRefusedCopyKeepsMessagesAndStaysDue(t *testing.T) {
	r := refuse("Access denied for COPY", "", "COPY")
	b := newRefusedBed(t, testmail.IMAPOptions{NoMove: true, Fault: r.fault}, `after = "move"`, `move_to = "Processed"`)
	b.refusedRun(t, pendingUIDs)
	b.checkUntouched(t)
	r.armed.Store(false)
	b.completed(t)
	b.checkMoved(t)
}

// The same for after_failure = "move".
func TestRefusedFailureCopyStaysDue(t *testing.T) {
	r := refuse("Access denied for COPY", "", "COPY")
	f := newFixture(t, testmail.IMAPOptions{NoMove: true, Fault: r.fault, Mailboxes: []string{"Failed"}},
		`after_failure = "move"`, `failure_move_to = "Failed"`)
	bad := f.appendUIDs(scan(1), []byte("\x00\x01 not mail"))[1]
	sum, err := f.run()
	if err == nil || sum.Failed != 1 || sum.Due.Failure != 1 {
		t.Fatalf("run: %+v, %v; want the failure action refused and due", sum, err)
	}
	if st := loadState(t, f); !st.PendingFailedUIDs.Contains(bad) {
		t.Fatalf("failure action of %d not due: %s", bad, st.PendingFailedUIDs.String())
	}
	if inbox, failed := len(f.srv.Messages("INBOX")), len(f.srv.Messages("Failed")); inbox != 2 || failed != 0 {
		t.Fatalf("inbox %d, Failed %d after the refusal; want 2 and 0", inbox, failed)
	}
	r.armed.Store(false)
	if sum := f.mustRun(); sum.Seen != 0 || sum.Due.Failure != 0 {
		t.Errorf("run with the cause gone: %+v", sum)
	}
	if inbox, failed := len(f.srv.Messages("INBOX")), len(f.srv.Messages("Failed")); inbox != 1 || failed != 1 {
		t.Errorf("inbox %d, Failed %d; want the broken message moved", inbox, failed)
	}
}

// Cyrus answers UID MOVE into a folder over quota with a tagged NO, with
// no response code (the real Cyrus in cyrus_test.go). The run's LOGOUT,
// which succeeds, must not count as the server's consent.
func TestRefusedMoveStaysDue(t *testing.T) {
	r := refuse("Over quota", "", "MOVE")
	b := newRefusedBed(t, testmail.IMAPOptions{Fault: r.fault}, `after = "move"`, `move_to = "Processed"`)
	b.refusedRun(t, pendingUIDs)
	b.checkUntouched(t)
	// Still refused: the next run retries, and the actions stay due.
	b.refusedRetry(t)
	r.armed.Store(false)
	b.completed(t)
	b.checkMoved(t)
}

// refusedRetry runs again while the server still refuses: nothing new is
// taken, the action is retried and stays due.
func (b *refusedBed) refusedRetry(t *testing.T) {
	t.Helper()
	sum, err := b.run()
	if err == nil || sum.Seen != 0 || sum.Due.After != len(b.taken) {
		t.Errorf("run while still refused: %+v, %v; want an error and the actions still due", sum, err)
	}
}

// A refused STORE (after = "seen") stays due in the same way.
func TestRefusedStoreStaysDue(t *testing.T) {
	r := refuse("Permission denied", "NOPERM", "STORE")
	b := newRefusedBed(t, testmail.IMAPOptions{Fault: r.fault}, `after = "seen"`)
	b.refusedRun(t, pendingUIDs)
	r.armed.Store(false)
	b.completed(t)
	for _, m := range b.srv.Messages("INBOX") {
		if seen := hasFlag(m.Flags, imap.FlagSeen); seen != (m.UID != b.bystander) {
			t.Errorf("message %d: seen %v", m.UID, seen)
		}
	}
}

// A server that copies and then refuses to flag the originals \Deleted
// leaves only their removal due: the next run must not copy them twice.
func TestCopiedButNotRemovedIsNotCopiedTwice(t *testing.T) {
	r := refuse("Permission denied", "NOPERM", "STORE")
	b := newRefusedBed(t, testmail.IMAPOptions{NoMove: true, Fault: r.fault}, `after = "move"`, `move_to = "Processed"`)
	b.refusedRun(t, pendingRemovalUIDs)
	if st := loadState(t, b.fixture); !st.PendingUIDs.IsZero() {
		t.Errorf("the move itself is still due: %s", st.PendingUIDs.String())
	}
	r.armed.Store(false)
	b.completed(t)
	b.checkMoved(t)
}

// A POP3 server that answers DELE with -ERR refuses that deletion only:
// the others take effect at QUIT, and the refused one stays due until a
// later session deletes it.
func TestRefusedDeleStaysDue(t *testing.T) {
	var log commandLog
	log.set("DELE 2", "-ERR [SYS/PERM] message cannot be deleted")
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1), scan(2), scan(3)}, `after = "delete"`)
	sum, err := f.run()
	if err == nil || !strings.Contains(err.Error(), "refused") || sum.Saved != 3 || sum.Due.After != 1 {
		t.Fatalf("run: %+v, %v; want three taken and one deletion due", sum, err)
	}
	if st := loadState(t, f); len(st.PendingUIDLs) != 1 || st.ActionRefused == "" {
		t.Fatalf("deletions due %v (%q), want the refused one", st.PendingUIDLs, st.ActionRefused)
	}
	if n := len(f.pop.Messages()); n != 1 {
		t.Fatalf("server holds %d messages, want only the one whose DELE was refused", n)
	}
	log.set("DELE 2", "")
	if sum := f.mustRun(); sum.Seen != 0 || sum.Due.After != 0 {
		t.Errorf("run with the cause gone: %+v", sum)
	}
	if n := len(f.pop.Messages()); n != 0 {
		t.Errorf("server holds %d messages, want none", n)
	}
}

// A run that fails before it reaches the mailbox (here, its sign-in
// refused) still reports the actions the state holds due: the daemon's
// mailtask_actions_due is set from each run's summary and must not fall
// to 0 while they wait.
func TestActionsStayDueWhenARunCannotSignIn(t *testing.T) {
	r := refuse("Over quota", "OVERQUOTA", "MOVE")
	var signIn atomic.Bool
	fault := func(cmd string) error {
		if cmd == "LOGIN" && signIn.Load() {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Invalid credentials"}
		}
		return r.fault(cmd)
	}
	b := newRefusedBed(t, testmail.IMAPOptions{Fault: fault}, `after = "move"`, `move_to = "Processed"`)
	b.refusedRun(t, pendingUIDs)
	signIn.Store(true)
	sum, err := b.run()
	if err == nil || sum.Due.After != len(b.taken) {
		t.Errorf("run whose sign-in was refused: %+v, %v; want an error and the %d actions still due", sum, err, len(b.taken))
	}
}
