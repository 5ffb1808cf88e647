package popimap

import (
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
