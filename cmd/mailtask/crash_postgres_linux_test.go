package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/internal/testmail/pgbouncer"
	"mailtask/internal/testmail/postgres"
)

// onPostgres moves td's state into a fresh database of the shared
// PostgreSQL: its configuration gains a state_store (the URL in the file
// state.url beside it) and a lease of an hour, which the suite makes run
// out after each kill (expireLeases). With pooled, mailtask reaches the
// database through a PgBouncer in transaction mode, and a kill leaves the
// pooler to end what the killed node had sent; the suite's own queries
// go straight to PostgreSQL (the URL in db.url).
func onPostgres(t *testing.T, td taskDir, pooled bool) {
	t.Helper()
	pg := postgres.Shared(t)
	url := pg.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	writeFile(t, td.dir, "db.url", url)
	if pooled {
		url = pgbouncer.Start(t, pg, pgbouncer.Transaction).Route(url)
	}
	writeFile(t, td.dir, "state.url", url)
	text, err := os.ReadFile(td.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, td.dir, filepath.Base(td.config), "state_store_file = \"state.url\"\nlease = \"1h\"\n"+string(text))
}

// database is the URL of td's database; "" for the file store.
func (td taskDir) database(t *testing.T) string {
	t.Helper()
	url, err := os.ReadFile(filepath.Join(td.dir, "db.url"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(url))
}

// expireLeases makes the leases of td's database (the task's, its
// account's connection slots and waits for them) run out now, as they
// would an hour after their holder was killed.
func (td taskDir) expireLeases(t *testing.T) {
	t.Helper()
	if url := td.database(t); url != "" {
		for table, column := range map[string]string{"tasks": "lease_until", "conn_slots": "lease_until", "conn_slot_waits": "wait_until"} {
			dbQuery(t, url, func(pgx.Rows) {}, "UPDATE "+table+" SET "+column+" = clock_timestamp() WHERE "+column+" > clock_timestamp()")
		}
	}
}

// stored returns task "t"'s state and the number of fingerprints in its
// ledger, from the files or the database.
func (td taskDir) stored(t *testing.T) (*state.State, int) {
	t.Helper()
	url := td.database(t)
	if url == "" {
		st, err := state.Load(td.state, "t")
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(td.state, "t.ledger"))
		if err != nil {
			t.Fatal(err)
		}
		return st, int(fi.Size() / 8)
	}
	return dbState(t, url)
}

// dbState returns task "t"'s state and the number of fingerprints in its
// ledger in the database at url.
func dbState(t *testing.T, url string) (*state.State, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := pgstore.Open(ctx, pgstore.Options{URL: url, Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.LoadState(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	ledger := 0
	dbQuery(t, url, func(r pgx.Rows) { r.Scan(&ledger) }, "SELECT count(*) FROM ledger WHERE task = 't'")
	return st, ledger
}

// dbQuery runs sql on the database at url, as an administrator would,
// handing each row to fn.
func dbQuery(t *testing.T, url string, fn func(pgx.Rows), sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	for rows.Next() {
		fn(rows)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
