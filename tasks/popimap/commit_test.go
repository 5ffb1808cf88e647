//go:build unix

package popimap

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"mailtask/internal/state"
	"mailtask/internal/testmail/dovecot"
)

// failFirstBatch is a Held whose first commit of a batch fails, as a
// commit does when the database ends the connection under it; the rest
// goes through.
type failFirstBatch struct {
	Held
	failed bool
}

func (f *failFirstBatch) Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	if len(fps) > 0 && !f.failed {
		f.failed = true
		return errors.New("FATAL: terminating connection due to administrator command (SQLSTATE 57P01)")
	}
	return f.Held.Commit(ctx, st, fps)
}

// A batch whose commit failed is not in the state the run records at its
// end: recording it would mark its messages taken, their move due, and
// leave their fingerprints out of the ledger.
func TestARunRecordsNoBatchItFailedToCommit(t *testing.T) {
	const n = 3
	d := invoicesToMove(t, n)
	c := newCluster(t, d, "dest", fileStore, `after = "move"`, `move_to = "Processed"`, "connections = 1")
	f, err := holdFiles(c.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Run(ctx, Options{Config: c.cfg, Task: c.cfg.Tasks[0], Held: &failFirstBatch{Held: f}})
	f.release()
	if err == nil {
		t.Fatal("the run whose commit failed succeeded")
	}
	st, err := state.Load(c.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if st.Done.Len() != 0 || !st.PendingUIDs.IsZero() || st.LastRun == nil {
		t.Errorf("after a failed commit the state records UIDs done %s, moves due %s, last run %v; want none, none, the failed run",
			st.Done.String(), st.PendingUIDs.String(), st.LastRun)
	}
	if n, _ := d.Count(d.User, "Processed"); n != 0 {
		t.Errorf("%d messages moved without a commit", n)
	}
}

// invoicesToMove starts a Dovecot whose INBOX holds n invoices, m0 with
// scan-0.pdf and so on, and whose Processed folder is empty.
func invoicesToMove(t *testing.T, n int) *dovecot.Server {
	t.Helper()
	d := dovecot.Start(t, dovecot.Options{})
	var msgs [][]byte
	for i := range n {
		msgs = append(msgs, invoice(fmt.Sprintf("m%d", i), fmt.Sprintf("scan-%d.pdf", i), pdf(fmt.Sprint(i))))
	}
	d.Seed(t, d.User, "INBOX", msgs...)
	d.Seed(t, d.User, "Processed")
	return d
}

// countCommits is a Held that counts the commits sent to it.
type countCommits struct {
	Held
	commits int
}

func (c *countCommits) Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	c.commits++
	return c.Held.Commit(ctx, st, fps)
}

// A run of a mailbox with nothing new writes its state once, with its
// record: in cluster mode every write is a fenced transaction, and the
// first runs of thousands of empty mailboxes paid for two. What the run
// learned (the UIDVALIDITY) is kept all the same.
func TestAnEmptyMailboxsRunWritesItsStateOnce(t *testing.T) {
	d := invoicesToMove(t, 0)
	c := newCluster(t, d, "dest", fileStore)
	f, err := holdFiles(c.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	counted := &countCommits{Held: f}
	_, err = Run(ctx, Options{Config: c.cfg, Task: c.cfg.Tasks[0], Held: counted})
	f.release()
	if err != nil {
		t.Fatal(err)
	}
	if counted.commits != 0 {
		t.Errorf("the run of an empty mailbox committed %d batches besides its record", counted.commits)
	}
	st, err := state.Load(c.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDValidity == 0 || st.LastRun == nil {
		t.Errorf("after the run the state holds UIDVALIDITY %d and last run %v; want the mailbox's and the run", st.UIDValidity, st.LastRun)
	}
}
