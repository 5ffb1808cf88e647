package popimap

import (
	"sync/atomic"
	"testing"

	"mailtask/internal/testmail"
)

// A crash between a batch's commit and its after-action leaves the action
// recorded as pending; the next run carries it out, without fetching the
// messages again. The crash is simulated by marking committed messages
// pending, as the commit does, and then running with after = "move".
func TestPendingAfterActionsAreCompletedNextRun(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{Mailboxes: []string{"Processed"}})
	f.append(scan(1), scan(2), scan(3))
	if sum := f.mustRun(); sum.Files != 3 {
		t.Fatalf("first run: %+v", sum)
	}
	st := loadState(t, f)
	st.PendingUIDs = st.Done
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}

	f.writeConfig(f.srv.Addr, "implicit", testPassword, `after = "move"`, `move_to = "Processed"`)
	fetched := len(f.srv.FetchedUIDs())
	if sum := f.mustRun(); sum.Seen != 0 {
		t.Errorf("second run took %d messages again", sum.Seen)
	}
	if n := len(f.srv.FetchedUIDs()) - fetched; n != 0 {
		t.Errorf("second run fetched %d messages", n)
	}
	if inbox, processed := len(f.srv.Messages("INBOX")), len(f.srv.Messages("Processed")); inbox != 0 || processed != 3 {
		t.Errorf("inbox %d, Processed %d; want 0 and 3", inbox, processed)
	}
	if st := loadState(t, f); !st.PendingUIDs.IsZero() {
		t.Errorf("pending after a clean logout: %s", st.PendingUIDs.String())
	}
	if n := len(f.files()); n != 3 {
		t.Errorf("%d files, want 3", n)
	}
}

// The failure action of a quarantined message is pending in the same way:
// a crash after the commit leaves it recorded, and the next run moves the
// message without fetching or quarantining it again.
func TestPendingFailureActionsAreCompletedNextRun(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{Mailboxes: []string{"Failed"}})
	bad := f.appendUIDs(scan(1), []byte("\x00\x01 not mail"))[1]
	if sum := f.mustRun(); sum.Failed != 1 || sum.Files != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	st := loadState(t, f)
	st.PendingFailedUIDs.Add(bad)
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}

	f.writeConfig(f.srv.Addr, "implicit", testPassword, `after_failure = "move"`, `failure_move_to = "Failed"`)
	fetched := len(f.srv.FetchedUIDs())
	if sum := f.mustRun(); sum.Seen != 0 || sum.Failed != 0 {
		t.Errorf("second run: %+v, want nothing taken or quarantined again", sum)
	}
	if n := len(f.srv.FetchedUIDs()) - fetched; n != 0 {
		t.Errorf("second run fetched %d messages", n)
	}
	if inbox, failed := f.srv.Messages("INBOX"), f.srv.Messages("Failed"); len(inbox) != 1 || len(failed) != 1 {
		t.Errorf("inbox %d, Failed %d; want the good message left and the broken one moved", len(inbox), len(failed))
	}
	if st := loadState(t, f); !st.PendingFailedUIDs.IsZero() {
		t.Errorf("failure actions pending after a clean logout: %s", st.PendingFailedUIDs.String())
	}
	if n := len(st.Failed); n != 1 {
		t.Errorf("%d quarantined, want 1", n)
	}
}

// The commit records the failure action as pending: when the connection
// drops on it, the run fails, and the next one moves the message.
func TestFailureActionLostIsPending(t *testing.T) {
	var drop atomic.Bool
	drop.Store(true)
	fault := func(cmd string) error {
		if cmd == "MOVE" && drop.Load() {
			return testmail.ErrDrop
		}
		return nil
	}
	f := newFixture(t, testmail.IMAPOptions{Mailboxes: []string{"Failed"}, Fault: fault},
		`after_failure = "move"`, `failure_move_to = "Failed"`)
	bad := f.appendUIDs([]byte("\x00\x01 not mail"))[0]
	if _, err := f.run(); err == nil {
		t.Fatal("the run succeeded with its failure action dropped")
	}
	if st := loadState(t, f); !st.PendingFailedUIDs.Contains(bad) || !st.Done.Contains(bad) {
		t.Fatalf("state after the drop: done %s, failure actions pending %s; want %d in both",
			st.Done.String(), st.PendingFailedUIDs.String(), bad)
	}
	drop.Store(false)
	if sum := f.mustRun(); sum.Seen != 0 {
		t.Errorf("second run: %+v, want nothing new", sum)
	}
	if inbox, failed := len(f.srv.Messages("INBOX")), len(f.srv.Messages("Failed")); inbox != 0 || failed != 1 {
		t.Errorf("inbox %d, Failed %d; want the broken message moved", inbox, failed)
	}
}
