//go:build unix

package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/testmail/child"
)

var shared = child.Shared[*Server]{Name: "postgres", Start: start}

// Shared returns the cluster of the test binary, starting it on first use;
// tests keep apart by database (NewDatabase). The package's TestMain must
// be Main (or call StopShared), which stops it after the last test.
// Without PostgreSQL it skips t, or fails it under CI=true.
func Shared(t testing.TB) *Server {
	t.Helper()
	return shared.Get(t)
}

// Main runs a package's tests and then stops the shared cluster, if one
// was started, and removes its directory:
//
//	func TestMain(m *testing.M) { postgres.Main(m) }
//
// A package that shares several harnesses' servers calls StopShared of
// each after m.Run instead.
func Main(m *testing.M) { shared.Main(m) }

// StopShared stops the shared cluster, if one was started, and removes its
// directory.
func StopShared() { shared.Stop() }

const adminTimeout = 30 * time.Second

var (
	dbSeq      atomic.Int64
	unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)
)

// NewDatabase creates an empty database for t, dropped (with whatever
// connections are left to it) when t ends, and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	return s.createDatabase(t, "")
}

// CopyDatabase creates a database for t holding a copy of the one at url,
// dropped when t ends, and returns its URL: a snapshot, which
// RestoreDatabase puts back. Nothing may be connected to the database at
// url (PostgreSQL waits a few seconds for connections that are closing).
func (s *Server) CopyDatabase(t testing.TB, url string) string {
	t.Helper()
	return s.createDatabase(t, " TEMPLATE "+pgx.Identifier{DatabaseOf(url)}.Sanitize())
}

// RestoreDatabase makes the database at url a copy of the one at
// snapshot (CopyDatabase's) again, under the same name, ending the
// connections left to it.
func (s *Server) RestoreDatabase(t testing.TB, url, snapshot string) {
	t.Helper()
	name := pgx.Identifier{DatabaseOf(url)}.Sanitize()
	s.admin(t, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	s.admin(t, "CREATE DATABASE "+name+" TEMPLATE "+pgx.Identifier{DatabaseOf(snapshot)}.Sanitize())
}

// createDatabase creates a database for t with the options of CREATE
// DATABASE after its name, dropped when t ends, and returns its URL.
func (s *Server) createDatabase(t testing.TB, options string) string {
	t.Helper()
	name := unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)
	s.admin(t, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+options)
	t.Cleanup(func() {
		// FORCE ends the connections a failed test left open.
		s.admin(t, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return s.URL(name)
}

// admin runs a statement in the maintenance database.
func (s *Server) admin(t testing.TB, sql string, args ...any) {
	t.Helper()
	s.maintenance(t, func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		return nil
	})
}

// maintenance calls do with a connection to the maintenance database,
// within adminTimeout, and fails t if either fails.
func (s *Server) maintenance(t testing.TB, do func(ctx context.Context, conn *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer conn.Close(context.Background())
	if err := do(ctx, conn); err != nil {
		t.Fatalf("postgres: %v", err)
	}
}

// TerminateConnections ends, with pg_terminate_backend, the connections
// to database db whose application_name is app (every connection to db if
// app is ""), as an administrator or a network failure would, and returns
// how many it ended.
func (s *Server) TerminateConnections(t testing.TB, db, app string) int {
	t.Helper()
	var n int
	s.maintenance(t, func(ctx context.Context, conn *pgx.Conn) error {
		err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
			FROM pg_stat_activity
			WHERE datname = $1 AND ($2 = '' OR application_name = $2) AND pid <> pg_backend_pid()`, db, app).Scan(&n)
		if err != nil {
			return fmt.Errorf("terminate connections to %s: %w", db, err)
		}
		return nil
	})
	return n
}

// DatabaseOf returns the database name of a URL NewDatabase returned.
func DatabaseOf(url string) string {
	rest := url[strings.LastIndexByte(url, '/')+1:]
	name, _, _ := strings.Cut(rest, "?")
	return name
}
