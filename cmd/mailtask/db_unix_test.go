//go:build unix

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pgstore"
	"mailtask/internal/testmail/postgres"
)

func clusterConfig(stateStore string) string {
	return stateStore + `
token_key_env = "MAILTASK_TEST_TOKEN_KEY"
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "s3://invoices-bucket/mail/{yyyy}"
schedule = "@every 5m"
`
}

func TestDBMigrateCreatesTheSchemaOnce(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	dir := t.TempDir()
	writeFile(t, dir, "db.url", url)
	cfg := writeFile(t, dir, "cluster.toml", clusterConfig(`state_store_file = "db.url"`))

	code, out, errOut := run(t, "db", "migrate", "--config", cfg)
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("schema migrated from version 0 to %d", pgstore.SchemaVersion)) {
		t.Fatalf("db migrate: exit %d\n%s%s", code, out, errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := pgstore.Open(ctx, pgstore.Options{URL: url})
	if err != nil {
		t.Fatalf("the migrated database does not open: %v", err)
	}
	s.Close()
	code, out, _ = run(t, "db", "migrate", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "schema already at version") {
		t.Fatalf("second db migrate: exit %d\n%s", code, out)
	}

	// A database at schema 13, as the release before left it: the
	// migration to 14 is named.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "ALTER TABLE task_state DROP COLUMN settling_uids; DELETE FROM mailtask_schema WHERE version = 14")
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "db", "migrate", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "schema migrated from version 13 to 14 (0014_settling_uids)") {
		t.Fatalf("db migrate from 13: exit %d\n%s%s", code, out, errOut)
	}

	// The database refuses: the error says where, without the password.
	writeFile(t, dir, "db.url", "postgres://mailtask:pw-not-shown@127.0.0.1:1/x?connect_timeout=2")
	code, _, errOut = run(t, "db", "migrate", "--config", cfg)
	if code != exitFailed || strings.Contains(errOut, "pw-not-shown") || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Fatalf("db migrate against nothing: exit %d\n%s", code, errOut)
	}
}

func TestClusterKeysNeedAStateStore(t *testing.T) {
	dir := t.TempDir()
	cluster := writeFile(t, dir, "cluster.toml", clusterConfig(`state_store_env = "MAILTASK_TEST_DB"`))
	s3only := writeFile(t, dir, "s3.toml", clusterConfig(""))
	fileStore := writeFile(t, dir, "file.toml", strings.Replace(clusterConfig(""), `token_key_env = "MAILTASK_TEST_TOKEN_KEY"`, "", 1))
	if code, out, errOut := run(t, "validate", "--config", cluster); code != exitOK {
		t.Fatalf("validate of a cluster config: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, "validate", "--config", s3only); code != exitUsage || !strings.Contains(errOut, "token_key_env: is only used with state_store") {
		t.Errorf("validate with a token key and no state_store: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, "db", "migrate", "--config", fileStore); code != exitUsage || !strings.Contains(errOut, "sets no state_store") {
		t.Errorf("db migrate without state_store: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run(t, "state", "import", "--config", fileStore, "t"); code != exitUsage || !strings.Contains(errOut, "sets no state_store") {
		t.Errorf("state import without state_store: exit %d\n%s", code, errOut)
	}
}
