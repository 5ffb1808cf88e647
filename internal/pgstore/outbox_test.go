package pgstore

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A sender holding the window's row and never letting go (its node
// stopped, or cut off from the database with its transaction open) kept
// another waiting as long as the other's context allowed, leaving it no
// time for its own mails. It waits at most what it is told, the error
// names the row, and the mails stay due.
func TestAWaitForAHungSenderIsBounded(t *testing.T) {
	url := migratedDB(t)
	s := openNode(t, url, "n")
	ctx := testContext(t)
	sql(t, url, `INSERT INTO outbox (task, kind, at, class, error, hint, since, failures, mailed)
		VALUES ('t', 'failed', now(), 'c', 'boom', '', now(), 1, 1)`)
	conn, err := adminConnect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	hung, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Rollback(context.Background())
	if _, err := hung.Exec(ctx, "SELECT 1 FROM outbox_window FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second) // the old wait ran to the context's end
	defer cancel()
	claimed, err := s.SendDue(waitCtx, time.Now(), 3, 200*time.Millisecond, func([]Mail, int) (int, int, error) {
		t.Error("sent while another sender held the window")
		return 0, 0, nil
	}, func(error) string { return "" })
	if claimed || err == nil || !strings.Contains(err.Error(), "outbox_window") || waitCtx.Err() != nil {
		t.Errorf("waiting for a hung sender: claimed %v, %v (context: %v); want an error naming outbox_window within the wait", claimed, err, waitCtx.Err())
	}
	if n := count(t, url, "SELECT count(*) FROM outbox"); n != 1 {
		t.Errorf("%d mails due after the wait, want the one", n)
	}
}
