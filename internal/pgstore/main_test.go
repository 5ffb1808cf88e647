package pgstore

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/testmail/pgbouncer"
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

// poolModeVar, set to a PgBouncer pool mode (transaction, session), runs
// the tests of the package through a PgBouncer in that mode (make soak
// does); TestThroughPgBouncer runs a sample of them so in make test.
const poolModeVar = "MAILTASK_TEST_POOL_MODE"

// migratedDB returns the URL of a fresh database at SchemaVersion,
// through a PgBouncer if poolModeVar says so.
func migratedDB(t *testing.T) string {
	t.Helper()
	url := postgres.Shared(t).NewDatabase(t)
	if mode := os.Getenv(poolModeVar); mode != "" {
		url = pgbouncer.Start(t, postgres.Shared(t), pgbouncer.Mode(mode)).Route(url)
	}
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
	conn, err := adminConnect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// adminConnect connects to url as sql and count do: by the simple
// protocol, which leaves nothing on the session, so that it works through
// a pooler in transaction mode as well.
func adminConnect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}

// count returns the single integer query answers.
func count(t *testing.T, url, query string, args ...any) int {
	t.Helper()
	ctx := testContext(t)
	conn, err := adminConnect(ctx, url)
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
