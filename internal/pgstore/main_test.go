package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/testmail/postgres"
)

func TestMain(m *testing.M) { postgres.Main(m) }

// testKey is a token key for tests: 32 bytes, as config's
// ResolveTokenKey returns them.
var testKey = []byte("0123456789abcdef0123456789abcdef")

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// migratedDB returns the URL of a fresh database at SchemaVersion.
func migratedDB(t *testing.T) string {
	t.Helper()
	url := postgres.Shared(t).NewDatabase(t)
	if _, err := Migrate(testContext(t), url); err != nil {
		t.Fatal(err)
	}
	return url
}

// openNode opens the store at url as node.
func openNode(t *testing.T, url, node string) *Store {
	t.Helper()
	s, err := Open(testContext(t), Options{URL: url, Node: node, TokenKey: testKey, TokenKeySetting: "token_key_env TEST_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// sql runs a statement directly, as an administrator would, to arrange
// what a test needs (a lease run out, say) or look at the tables.
func sql(t *testing.T, url, query string, args ...any) {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// count returns the single integer query answers.
func count(t *testing.T, url, query string, args ...any) int {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// claim leases task to s for leaseFor, as a node's run would hold it.
func claim(t *testing.T, s *Store, task string, leaseFor time.Duration) *Lease {
	t.Helper()
	l, err := s.ClaimTask(testContext(t), task, leaseFor)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
