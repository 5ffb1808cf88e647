package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/pgstore"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/versitygw"
)

func TestMain(m *testing.M) {
	code := m.Run()
	postgres.StopShared()
	versitygw.StopShared()
	os.Exit(code)
}

// tokenKey is what `openssl rand -base64 32` prints, for tests.
const tokenKey = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// migratedDB returns the URL of a fresh database at the schema version
// this mailtask needs.
func migratedDB(t *testing.T) string {
	t.Helper()
	url := postgres.Shared(t).NewDatabase(t)
	if _, err := pgstore.Migrate(testContext(t), url); err != nil {
		t.Fatal(err)
	}
	return url
}

// clusterConfig loads a configuration of cluster mode on the database at
// url: top-level lines, then body (accounts and tasks).
func clusterConfig(t *testing.T, url, top, body string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	env := fmt.Sprintf("MAILTASK_CLUSTER_TEST_DB_%p", t)
	t.Setenv("MAILTASK_CLUSTER_TEST_KEY", tokenKey)
	t.Setenv(env, url)
	text := fmt.Sprintf("state_dir = \"state\"\nstate_store_env = %q\ntoken_key_env = \"MAILTASK_CLUSTER_TEST_KEY\"\n%s\n%s", env, top, body)
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// openNode opens cfg's node as name.
func openNode(t *testing.T, cfg *config.Config, name string) *cluster.Node {
	t.Helper()
	n, err := cluster.Open(testContext(t), cfg, cluster.Options{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// waitForLockWaiter returns once some session of the database at url
// waits on a lock, or after 20 s (without the row lock nobody ever
// waits, and the test sees what that costs).
func waitForLockWaiter(ctx context.Context, url string) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	for ctx.Err() == nil {
		var waiting int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil || waiting > 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// query runs a query as an administrator would, handing fn the first
// column of each row.
func query(t *testing.T, url string, fn func([]byte), sql string, args ...any) {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var v []byte
	if _, err := pgx.ForEachRow(rows, []any{&v}, func() error { fn(v); return nil }); err != nil {
		t.Fatal(err)
	}
}
