package main

import (
	"syscall"
	"testing"

	"mailtask/internal/testmail/postgres"
)

// A node started while the database is down (restarting, failing over)
// waits for it and starts once it answers, instead of exiting at once
// for its service manager to try again after a growing back-off.
func TestADaemonStartingWhileTheDatabaseIsDownWaitsForIt(t *testing.T) {
	t.Parallel()
	pg := postgres.Start(t) // its own: stopped and started again
	cfg, _ := clusterTaskOn(t, pg.NewDatabase(t), `listen = "127.0.0.1:0"`, `schedule = "@every 1h"`)
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
