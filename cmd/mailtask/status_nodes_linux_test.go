package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pgstore"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/version"
)

// `mailtask status` shows the nodes of a cluster from the database: a
// daemon records itself as it starts, and nodes older than the schema,
// not seen for a lease, or configured unlike the others are named so.
func TestStatusShowsTheNodes(t *testing.T) {
	t.Parallel()
	url := postgres.Shared(t).NewDatabase(t)
	cfg, _ := clusterTaskOn(t, url, `listen = "127.0.0.1:0"`, `schedule = "@every 1h"`)
	daemon := startChild(t, "run", "--config", cfg)
	daemon.waitLine(t, "mailtask daemon started")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	self := fmt.Sprintf("%s:%d", host, daemon.cmd.Process.Pid)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Others beside it: its twin, one of an older release with another
	// configuration, and one gone.
	var selfConfig string
	for _, n := range []string{"node-twin", "node-old", "node-gone"} {
		s, err := pgstore.Open(ctx, pgstore.Options{URL: url, Node: n})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if selfConfig == "" {
			nodes, err := s.Nodes(ctx)
			if err != nil || len(nodes) != 1 || nodes[0].Node != self {
				t.Fatalf("the nodes table once the daemon started: %+v, %v; want the daemon, %s", nodes, err, self)
			}
			selfConfig = nodes[0].Config
		}
		a := pgstore.Announcement{Version: "v1.4.0", Config: selfConfig, Tasks: 1}
		if n == "node-old" {
			a = pgstore.Announcement{Version: "v1.3.0", Config: "0123456789ab", Tasks: 2}
		}
		if err := s.Announce(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{
		"UPDATE nodes SET schema_known = schema_known - 1 WHERE node = 'node-old'",
		"UPDATE nodes SET last_seen = now() - interval '2 hours' WHERE node = 'node-gone'",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := run(t, "status", "--config", cfg)
	for _, want := range []string{
		"NODES (database schema ",
		fmt.Sprintf("node-old: older than the schema (knows %d): takes no task", pgstore.SchemaVersion-1),
		"node-old: configuration differs from the others' (0123456789ab, 2 tasks)",
		"node-gone: not seen for 2h0m",
		"nodes up: 1 at " + version.String() + ", 1 at v1.3.0, 1 at v1.4.0",
	} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("status: exit %d, want %q\n%s%s", code, want, out, errOut)
		}
	}
	if strings.Contains(out, "node-twin: ") || strings.Contains(out, self+": ") {
		t.Errorf("status flags a node that runs as the others do\n%s", out)
	}

	code, out, errOut = run(t, "status", "--config", cfg, "--nodes", "--json")
	var nodes []nodeStatus
	if err := json.Unmarshal([]byte(out), &nodes); code != exitOK || err != nil || len(nodes) != 4 {
		t.Fatalf("status --nodes --json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	for _, n := range nodes {
		if n.Node == self && (n.Version != version.String() || n.SchemaKnown != pgstore.SchemaVersion || n.Config != selfConfig || n.Tasks != 1) {
			t.Errorf("the daemon's row: %+v; want version %s, schema %d, one task", n, version.String(), pgstore.SchemaVersion)
		}
		if n.TooOld != (n.Node == "node-old") || n.Gone != (n.Node == "node-gone") || n.Drift != (n.Node == "node-old") {
			t.Errorf("%s: %+v", n.Node, n)
		}
	}

	daemon.signal(t, syscall.SIGTERM)
	if code, _ := daemon.wait(t); code != exitOK {
		t.Fatalf("exit %d after SIGTERM\n%s", code, daemon.output())
	}
}
