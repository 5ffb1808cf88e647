//go:build unix

package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, url, app string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = app
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestDatabasesAreSeparate(t *testing.T) {
	s := Shared(t)
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	ctx := context.Background()
	ca := connect(t, a, "a")
	if _, err := ca.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	cb := connect(t, b, "b")
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table created in one test's database is visible in another's")
	}
	if got := DatabaseOf(a); got == "" || got == DatabaseOf(b) {
		t.Fatalf("DatabaseOf(%q) = %q", a, got)
	}
}

// A snapshot keeps what its database held when it was taken; a restore
// puts that back under the database's own URL, whatever was changed or
// left connected since.
func TestRestoreDatabasePutsTheSnapshotBack(t *testing.T) {
	s := Shared(t)
	url := s.NewDatabase(t)
	ctx := context.Background()
	setup, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Exec(ctx, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	setup.Close(ctx)
	snapshot := s.CopyDatabase(t, url)
	if _, err := connect(t, url, "later").Exec(ctx, "UPDATE kept SET x = 2"); err != nil {
		t.Fatal(err)
	}
	s.RestoreDatabase(t, url, snapshot)
	var x int
	if err := connect(t, url, "after").QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil || x != 1 {
		t.Errorf("after the restore the row holds %d (%v); want 1, as in the snapshot", x, err)
	}
}

func TestTerminateConnectionsEndsOnlyThatApplication(t *testing.T) {
	s := Shared(t)
	url := s.NewDatabase(t)
	victim := connect(t, url, "node-1")
	bystander := connect(t, url, "node-2")
	if n := s.TerminateConnections(t, DatabaseOf(url), "node-1"); n != 1 {
		t.Fatalf("terminated %d connections, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := victim.Ping(ctx); err == nil {
		t.Fatal("the terminated connection still answers")
	}
	if err := bystander.Ping(ctx); err != nil {
		t.Fatalf("another application's connection was cut: %v", err)
	}
}

func TestRestartKeepsCommittedData(t *testing.T) {
	s := Start(t)
	url := s.URL("postgres")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := connect(t, url, "before")
	if _, err := before.Exec(ctx, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	s.Restart(t)
	if err := before.Ping(ctx); err == nil {
		t.Fatal("a connection from before the restart still answers")
	}
	after := connect(t, url, "after")
	var x int
	if err := after.QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil || x != 42 {
		t.Fatalf("after restart: x = %d, %v; want 42", x, err)
	}
}

// Clusters are copies of one initdb (the same system identifier), each
// with data of its own.
func TestClustersAreCopiesOfOneTemplate(t *testing.T) {
	shared, own := Shared(t), Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := connect(t, shared.URL("postgres"), "a"), connect(t, own.URL("postgres"), "b")
	var idA, idB int64
	if err := a.QueryRow(ctx, "SELECT system_identifier FROM pg_control_system()").Scan(&idA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, "SELECT system_identifier FROM pg_control_system()").Scan(&idB); err != nil {
		t.Fatal(err)
	}
	if idA != idB {
		t.Errorf("system identifiers %d and %d: each cluster ran initdb", idA, idB)
	}
	if _, err := b.Exec(ctx, "CREATE TABLE only_in_own (x int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_own'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table created in one cluster is visible in another")
	}
}
