package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"mailtask/internal/pgstore"
	"mailtask/internal/testmail/postgres"
)

// A node started while the database is down (restarting, failing over)
// waits for it and starts once it answers, instead of exiting at once
// for its service manager to try again after a growing back-off.
func TestADaemonStartingWhileTheDatabaseIsDownWaitsForIt(t *testing.T) {
	t.Parallel()
	pg := postgres.Start(t) // its own: stopped and started again
	url := pg.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "db.url", url)
	cfg := writeFile(t, dir, "mailtask.toml", `state_dir = "state"
state_store_file = "db.url"
listen = "127.0.0.1:0"
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "dest"
schedule = "@every 1h"
`)
	pg.Stop()
	c := startChild(t, "run", "--config", cfg)
	c.waitLine(t, "the database does not answer")
	pg.Restart(t)
	c.waitLine(t, "the database answers")
	c.waitLine(t, "mailtask daemon started")
	c.signal(t, syscall.SIGTERM)
	if code, _ := c.wait(t); code != exitOK {
		t.Fatalf("exit %d after SIGTERM\n%s", code, c.output())
	}
}
