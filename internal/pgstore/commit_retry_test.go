package pgstore

import (
	"errors"
	"os"
	"testing"
	"time"

	"mailtask/internal/state"
	"mailtask/internal/testmail/pgbouncer"
	"mailtask/internal/testmail/postgres"
)

// The database ends the node's connections (pg_terminate_backend; a
// restart or a failover does the same): each dead connection of the pool
// fails its next query once. A commit meeting one is sent again on
// another, whole, rather than failing the run; and the fence still
// refuses it once the lease is lost.
func TestACommitOutlivesConnectionsTheDatabaseEnded(t *testing.T) {
	url := migratedDB(t)
	s := openNode(t, url, "node-a")
	ctx := testContext(t)
	l := claim(t, s, "t", time.Minute)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.UIDValidity = 7
	if err := l.Commit(ctx, st, []state.Fingerprint{{1}}); err != nil {
		t.Fatal(err)
	}
	// Behind a pooler in transaction mode the node has no server
	// connection of its own: end all of the pooler's, from outside it.
	admin, whose := url, "application_name = 'mailtask node-a'"
	if os.Getenv(poolModeVar) == string(pgbouncer.Transaction) {
		admin, whose = postgres.Shared(t).URL(postgres.DatabaseOf(url)), "pid <> pg_backend_pid()"
	}
	endConnections := func() {
		t.Helper()
		if n := count(t, admin, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
			WHERE datname = current_database() AND `+whose+`) ended`); n == 0 {
			t.Fatal("the node had no connection to end")
		}
	}
	endConnections()
	st.Done.AddRange(1, 3)
	if err := l.Commit(ctx, st, []state.Fingerprint{{2}}); err != nil {
		t.Fatalf("commit after the database ended the node's connections: %v", err)
	}
	if n := count(t, url, "SELECT count(*) FROM ledger WHERE task = 't'"); n != 2 {
		t.Errorf("the ledger holds %d fingerprints, want 2", n)
	}
	if n := count(t, url, "SELECT count(*) FROM task_state WHERE task = 't' AND done_uids = '1:3'"); n != 1 {
		t.Errorf("the state was not committed")
	}

	sql(t, url, "UPDATE tasks SET lease_until = now() - interval '1 second' WHERE task = 't'")
	endConnections()
	st.Done.Add(4)
	if err := l.Commit(ctx, st, []state.Fingerprint{{3}}); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit of a lost lease over an ended connection: %v, want ErrFenced", err)
	}
	if n := count(t, url, "SELECT count(*) FROM ledger WHERE task = 't'"); n != 2 {
		t.Errorf("a fenced commit wrote to the ledger: %d fingerprints", n)
	}
}
