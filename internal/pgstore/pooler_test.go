package pgstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mailtask/internal/diagnose"
	"mailtask/internal/state"
	"mailtask/internal/testmail/pgbouncer"
	"mailtask/internal/testmail/postgres"
)

// Operators put a connection pooler between the nodes and the database
// (PgBouncer, or a managed database's pooled port), most often in
// transaction mode, where each transaction gets whichever server
// connection is free. Everything a node does works through one: nodes
// migrating at once, leases and fenced commits, connection slots, token
// updates and the dedupe index. make soak runs every test of the package
// through PgBouncer, in both modes.
func TestThroughPgBouncerInTransactionMode(t *testing.T) {
	pg := postgres.Shared(t)
	direct := pg.NewDatabase(t)
	url := pgbouncer.Start(t, pg, pgbouncer.Transaction).Route(direct)
	ctx := testContext(t)

	if err := migrateAtOnce(t, url, 3); err != nil {
		t.Fatalf("nodes migrating at once through the pooler: %v", err)
	}
	if n := count(t, direct, "SELECT count(*) FROM mailtask_schema"); n != SchemaVersion {
		t.Fatalf("%d schema versions recorded, want %d", n, SchemaVersion)
	}
	// A lock of a session would stay behind on a server connection of
	// the pool, and the next upgrade's migration would wait for it
	// forever.
	if n := count(t, direct, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"); n != 0 {
		t.Fatalf("%d advisory locks held after the migrations", n)
	}

	a, b := openNode(t, url, "node-a"), openNode(t, url, "node-b")
	l := claim(t, a, "inbox", time.Hour)
	var held *HeldError
	if _, err := b.ClaimTask(ctx, "inbox", time.Hour); !errors.As(err, &held) || held.Holder != "node-a" {
		t.Fatalf("a second node's claim of a held task: %v, want held by node-a", err)
	}
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.UIDValidity = 7
	if err := l.Commit(ctx, st, []state.Fingerprint{{1}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	expire(t, direct, "inbox")
	if err := l.Commit(ctx, st, []state.Fingerprint{{2}}); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit past the lease through the pooler: %v, want ErrFenced", err)
	}
	l = claim(t, b, "inbox", time.Hour)
	st, ledger, err := l.Load(ctx)
	if err != nil || st.UIDValidity != 7 || ledger.Len() != 1 {
		t.Fatalf("the second node loaded %+v with %d fingerprints (err %v), want UIDVALIDITY 7 and 1", st, ledger.Len(), err)
	}
	if err := l.CommitRun(ctx, st, state.Run{Started: time.Now(), Outcome: "ok"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	slot, err := a.TryAcquireSlot(ctx, "acct", 1, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryAcquireSlot(ctx, "acct", 1, time.Hour, nil); !errors.Is(err, ErrNoSlot) {
		t.Fatalf("a second slot of an account of one: %v, want ErrNoSlot", err)
	}
	if err := slot.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AcquireSlot(ctx, "acct", 1, time.Hour, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}

	if err := a.UpdateToken(ctx, "acct", func([]byte) ([]byte, error) { return []byte("refresh-1"), nil }); err != nil {
		t.Fatal(err)
	}
	if tok, err := b.Token(ctx, "acct"); err != nil || string(tok) != "refresh-1" {
		t.Fatalf("the other node reads the token %q (err %v)", tok, err)
	}
	index := a.DedupeIndex("s3://bucket/p")
	sum := [32]byte{9}
	if err := index.Record(ctx, sum, "p/a.pdf"); err != nil {
		t.Fatal(err)
	}
	if key, err := b.DedupeIndex("s3://bucket/p").Lookup(ctx, sum); err != nil || key != "p/a.pdf" {
		t.Fatalf("dedupe lookup on the other node: %q (err %v)", key, err)
	}
}

// A URL that names a query mode gets it, pgx's prepared statements
// (its own default) included: behind a pooler in transaction mode the
// statements one client prepared on a server connection meet the next
// client that is handed it, which is why mailtask does not use them
// unless asked.
func TestTheURLChoosesTheQueryMode(t *testing.T) {
	pg := postgres.Shared(t)
	url := pgbouncer.Start(t, pg, pgbouncer.Transaction).Route(pg.NewDatabase(t)) + "&default_query_exec_mode=cache_statement"
	ctx := testContext(t)
	if _, err := Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	// Migrate prepared the schema's query on a server connection, which
	// the pooler hands the store's first connection.
	s, err := Open(ctx, Options{URL: url, Node: "n"})
	if err == nil {
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "prepared statement") {
		t.Fatalf("prepared statements through a pooler in transaction mode: %v, want pgx's error about them", err)
	}
	if hint := diagnose.Hint(err); !strings.Contains(hint, "Remove default_query_exec_mode") {
		t.Errorf("the hint for %v does not name the URL's setting: %q", err, hint)
	}
}
