package pgstore

import (
	"errors"
	"testing"
	"time"

	"mailtask/internal/testmail/postgres"
)

// openAnnounced opens the store at url as node, a `mailtask run` saying a.
func openAnnounced(t *testing.T, url, node string, a Announcement) *Store {
	t.Helper()
	s, err := Open(testContext(t), Options{URL: url, Node: node, MaxConns: 1, Announce: &a})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// nodeRow returns node's row among s.Nodes.
func nodeRow(t *testing.T, s *Store, node string) (NodeInfo, bool) {
	t.Helper()
	nodes, err := s.Nodes(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Node == node {
			return n, true
		}
	}
	return NodeInfo{}, false
}

// A node is in the nodes table once it opens, and its claims move its
// last_seen forward in their one round trip; a claim soon after another
// writes nothing, so that a poll that claims nothing stays a read.
func TestANodeIsRecordedAndSeenByItsClaims(t *testing.T) {
	db := migratedDB(t)
	url, trips := countRoundTrips(t, db)
	ctx := testContext(t)
	s := openAnnounced(t, url, "n1", Announcement{Version: "v1.2.0", Config: "abc123", Tasks: 3})
	n, ok := nodeRow(t, s, "n1")
	if !ok || n.Version != "v1.2.0" || n.Config != "abc123" || n.Tasks != 3 || n.SchemaKnown != SchemaVersion || n.TooOld() || n.Unseen() > time.Minute {
		t.Fatalf("the node's row once it opened: %+v (found %v)", n, ok)
	}
	if _, _, err := s.Claim(ctx, 5, time.Minute); err != nil { // its statement described
		t.Fatal(err)
	}
	sql(t, db, "UPDATE nodes SET last_seen = now() - interval '1 hour', started_at = now() - interval '2 hours'")
	var err error
	if rt := trips.during(func() { _, _, err = s.Claim(ctx, 5, time.Minute) }); err != nil || rt != 1 {
		t.Fatalf("a claim: %d round trips, %v; want 1", rt, err)
	}
	n, _ = nodeRow(t, s, "n1")
	if n.Unseen() > time.Minute || n.Now.Sub(n.StartedAt) < time.Hour {
		t.Fatalf("after a claim the node was last seen %s ago, started %s ago; want seen now, started as before", n.Unseen(), n.Now.Sub(n.StartedAt))
	}
	before := count(t, db, "SELECT xmin::text::bigint FROM nodes")
	if _, _, err := s.Claim(ctx, 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	if after := count(t, db, "SELECT xmin::text::bigint FROM nodes"); after != before {
		t.Fatal("a claim right after another wrote the node's row")
	}
}

// A node older than the database's schema takes no task, but is seen all
// the same, and shows as too old: by its claims while it runs, and as it
// starts, though the database refuses it.
func TestANodeOlderThanTheSchemaIsSeenAsTooOld(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	a := Announcement{Version: "v1.2.0", Config: "abc123", Tasks: 1}
	running := openAnnounced(t, url, "running", a)
	sql(t, url, "INSERT INTO mailtask_schema (version, name) VALUES ($1, 'from a newer mailtask')", SchemaVersion+1)
	sql(t, url, "UPDATE nodes SET last_seen = now() - interval '1 hour'")
	var se *SchemaError
	if _, _, err := running.Claim(ctx, 5, time.Minute); !errors.As(err, &se) {
		t.Fatalf("a claim under a newer schema: %v, want a *SchemaError", err)
	}
	n, _ := nodeRow(t, running, "running")
	if !n.TooOld() || n.Schema != SchemaVersion+1 || n.Unseen() > time.Minute {
		t.Fatalf("the running node under a newer schema: %+v; want seen now, too old", n)
	}
	_, err := Open(ctx, Options{URL: url, Node: "restarted", Announce: &a})
	if !errors.As(err, &se) {
		t.Fatalf("a node starting under a newer schema: %v, want a *SchemaError", err)
	}
	if n, ok := nodeRow(t, running, "restarted"); !ok || !n.TooOld() || n.Version != "v1.2.0" {
		t.Fatalf("the node refused at start: %+v (found %v); want it recorded as too old", n, ok)
	}
}

// Commands are not nodes; a reload's new configuration replaces the
// node's, which keeps its start; a node not seen for nodesKept goes when
// another records itself.
func TestNodesComeGoAndChange(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	openNode(t, url, "a command")
	sql(t, url, `INSERT INTO nodes (node, version, schema_known, config, tasks, last_seen) VALUES
		('gone', 'v1.0.0', 7, 'x', 1, now() - $1 * interval '1 millisecond' - interval '1 minute'),
		('away', 'v1.0.0', 7, 'x', 1, now() - $1 * interval '1 millisecond' + interval '1 minute')`, interval(nodesKept))
	s := openAnnounced(t, url, "n1", Announcement{Version: "v1.2.0", Config: "abc123", Tasks: 3})
	var names []string
	nodes, err := s.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		names = append(names, n.Node)
	}
	if len(names) != 2 || names[0] != "away" || names[1] != "n1" {
		t.Fatalf("nodes %q, want away (not seen for less than %s) and n1", names, nodesKept)
	}

	sql(t, url, "UPDATE nodes SET started_at = now() - interval '1 hour' WHERE node = 'n1'")
	if err := s.Announce(ctx, Announcement{Version: "v1.2.0", Config: "def456", Tasks: 4}); err != nil {
		t.Fatal(err)
	}
	n, _ := nodeRow(t, s, "n1")
	if n.Config != "def456" || n.Tasks != 4 || n.Now.Sub(n.StartedAt) < time.Hour {
		t.Fatalf("after a reload: %+v; want the new configuration, started as before", n)
	}
}

// The migration to the nodes table leaves what schema 7 held as it was:
// a node of the release before holds its lease on.
func TestMigratingToNodesKeepsWhatWasThere(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	migrateTo(t, url, 7)
	sql(t, url, `INSERT INTO tasks (task, holder, epoch, lease_until, claimed_at) VALUES ('t', 'old', 3, now() + interval '1 hour', now())`)
	sql(t, url, `INSERT INTO task_state (task, uid_validity) VALUES ('t', 9)`)
	got, err := Migrate(testContext(t), url)
	if err != nil || got.From != 7 || got.To != SchemaVersion {
		t.Fatalf("migrate from 7: %+v, %v", got, err)
	}
	if n := count(t, url, "SELECT count(*) FROM tasks WHERE task = 't' AND holder = 'old' AND epoch = 3 AND lease_until > now()"); n != 1 {
		t.Fatal("the lease held before the migration is gone")
	}
	s := openAnnounced(t, url, "new", Announcement{Version: "v1.2.0", Config: "abc123", Tasks: 1})
	if st, err := s.LoadState(testContext(t), "t"); err != nil || st.UIDValidity != 9 {
		t.Fatalf("the state after the migration: %+v, %v", st, err)
	}
	if _, ok := nodeRow(t, s, "new"); !ok {
		t.Fatal("a node opening after the migration is not recorded")
	}
}

// migrateTo applies the migrations up to version to the new database at
// url, as a mailtask of that schema's release would have.
func migrateTo(t *testing.T, url string, version int) {
	t.Helper()
	sql(t, url, "CREATE TABLE mailtask_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
	for _, m := range migrations[:version] {
		sql(t, url, m.sql)
		sql(t, url, "INSERT INTO mailtask_schema (version, name) VALUES ($1, $2)", m.version, m.name)
	}
}
