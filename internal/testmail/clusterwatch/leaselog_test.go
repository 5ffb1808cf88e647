//go:build unix

package clusterwatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/internal/testmail/postgres"
)

func TestMain(m *testing.M) { postgres.Main(m) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// loggedDB returns a migrated database with the log installed.
func loggedDB(t *testing.T) string {
	t.Helper()
	url := postgres.Shared(t).NewDatabase(t)
	ctx := testContext(t)
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	if err := Install(ctx, url); err != nil {
		t.Fatal(err)
	}
	return url
}

func openNode(t *testing.T, url, node string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(testContext(t), pgstore.Options{URL: url, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func admin(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func commit(t *testing.T, l *pgstore.Lease) error {
	t.Helper()
	st, _, err := l.Load(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return l.Commit(testContext(t), st, []state.Fingerprint{{byte(l.Epoch)}})
}

func read(t *testing.T, url string) []Entry {
	t.Helper()
	entries, err := Read(testContext(t), url)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func summary(entries []Entry) string {
	var parts []string
	for _, e := range entries {
		parts = append(parts, fmt.Sprintf("%s %s/%d %s", e.Kind, e.Task, e.Epoch, e.Holder))
	}
	return strings.Join(parts, ", ")
}

// The log follows claims and commits through pgstore as they happen; a
// commit the fence refuses leaves nothing, and the history of a stale
// node fenced out is no overlap.
func TestTheLogRecordsClaimsAndCommitsThePoolMakes(t *testing.T) {
	url := loggedDB(t)
	ctx := testContext(t)
	a, b := openNode(t, url, "node-a"), openNode(t, url, "node-b")
	if err := a.AddTasks(ctx, []string{"t"}); err != nil {
		t.Fatal(err)
	}
	leases, _, err := a.Claim(ctx, 10, time.Hour)
	if err != nil || len(leases) != 1 {
		t.Fatalf("claim: %v, %d leases", err, len(leases))
	}
	stale := leases[0]
	if err := commit(t, stale); err != nil {
		t.Fatal(err)
	}
	if err := stale.Renew(ctx, time.Hour); err != nil { // not logged
		t.Fatal(err)
	}
	// a pauses past its lease; b takes over and commits; a's late commit
	// is fenced.
	admin(t, url, "UPDATE tasks SET lease_until = now() - interval '1 second'")
	fresh, err := b.ClaimTask(ctx, "t", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := commit(t, fresh); err != nil {
		t.Fatal(err)
	}
	if err := commit(t, stale); !errors.Is(err, pgstore.ErrFenced) {
		t.Fatalf("stale commit: %v, want ErrFenced", err)
	}
	if err := fresh.Release(ctx, time.Now().Add(time.Hour)); err != nil { // not logged
		t.Fatal(err)
	}

	entries := read(t, url)
	if got, want := summary(entries), "claim t/1 node-a, commit t/1 node-a, write t/1 node-a, claim t/2 node-b, commit t/2 node-b, write t/2 node-b"; got != want {
		t.Fatalf("log: %s\nwant: %s", got, want)
	}
	if !entries[0].Due.Before(entries[0].At) || entries[1].Due != (time.Time{}) {
		t.Errorf("due times: claim %v (at %v), commit %v", entries[0].Due, entries[0].At, entries[1].Due)
	}
	if problems := Overlaps(entries); len(problems) != 0 {
		t.Errorf("a fenced stale node reported as an overlap: %v", problems)
	}
	// Both claims came after the task was due: next_due stays where it
	// was until a release moves it on.
	if d := ClaimDelays(entries); len(d) != 2 || d[0] < 0 || d[0] > time.Minute {
		t.Errorf("claim delays %v", d)
	}
}

// adminAs runs sql over a connection named as node's, as a node's own
// commit would be.
func adminAs(t *testing.T, url, node, sql string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "mailtask " + node
	ctx := testContext(t)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Commits a broken fence lets through are found. They are forged here
// with the statements such fences run, over a connection named as the
// stale node's: one without the holder and epoch conditions after
// another node has claimed the task, one without the time condition
// after the lease ran out; and a state write without any fence.
func TestOverlapsFindsWhatABrokenFenceLetsThrough(t *testing.T) {
	url := loggedDB(t)
	ctx := testContext(t)
	a, b := openNode(t, url, "node-a"), openNode(t, url, "node-b")
	if _, err := a.ClaimTask(ctx, "t", time.Hour); err != nil {
		t.Fatal(err)
	}
	admin(t, url, "UPDATE tasks SET lease_until = now() - interval '1 second'")
	adminAs(t, url, "node-a", "UPDATE tasks SET committed_at = clock_timestamp() WHERE task = 't' AND holder = 'node-a'")
	if _, err := b.ClaimTask(ctx, "t", time.Hour); err != nil {
		t.Fatal(err)
	}
	adminAs(t, url, "node-a", "UPDATE tasks SET committed_at = clock_timestamp() WHERE task = 't'")
	adminAs(t, url, "node-a", "INSERT INTO task_state (task) VALUES ('t')")

	problems := Overlaps(read(t, url))
	want := []string{
		`task "t": commit by "mailtask node-a" at`, // after its lease ran out
		`task "t": commit by "mailtask node-a" at`, // while node-b held it
		`task "t": write by "mailtask node-a" at`,
	}
	if len(problems) != len(want) {
		t.Fatalf("found %d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
	}
	for i, p := range problems {
		if !strings.HasPrefix(p, want[i]) {
			t.Errorf("problem %d: %s\nwant it to start %s", i, p, want[i])
		}
	}
	for i, ending := range []string{"had run out", "overlapping leases", "overlapping leases"} {
		if !strings.HasSuffix(problems[i], ending) {
			t.Errorf("problem %d does not end %q: %s", i, ending, problems[i])
		}
	}
}

// A commit that passed its fence with the lease live and then stood still
// past the lease before writing (a node paused inside its commit) held
// the lease row all along: no other node could claim the task, and its
// write is no overlap.
func TestAWriteBehindALiveFenceIsNoOverlap(t *testing.T) {
	url := loggedDB(t)
	a := openNode(t, url, "node-a")
	if _, err := a.ClaimTask(testContext(t), "t", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	adminAs(t, url, "node-a", `BEGIN;
		UPDATE tasks SET committed_at = clock_timestamp() WHERE task = 't' AND holder = 'node-a' AND lease_until > clock_timestamp();
		SELECT pg_sleep(extract(epoch FROM lease_until - clock_timestamp()) + 0.2) FROM tasks WHERE task = 't';
		INSERT INTO task_state (task) VALUES ('t');
		COMMIT`)
	entries := read(t, url)
	if got := summary(entries); !strings.Contains(got, "commit") || !strings.Contains(got, "write") {
		t.Fatalf("the log has no commit and write: %s", got)
	}
	if problems := Overlaps(entries); len(problems) > 0 {
		t.Errorf("a write behind a fence passed while the lease was live: %s", strings.Join(problems, "\n"))
	}
}

func TestClaimDelaysLeaveOutClaimsBeforeTheirDueTime(t *testing.T) {
	due := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := []Entry{
		{Kind: Claim, Due: due, At: due.Add(3 * time.Second)},
		{Kind: Claim, Due: due, At: due.Add(-time.Second)}, // run-task, early
		{Kind: Commit, At: due.Add(time.Hour)},
		{Kind: Claim, Due: due, At: due.Add(time.Second)},
	}
	got := ClaimDelays(entries)
	if len(got) != 2 || got[0] != 3*time.Second || got[1] != time.Second {
		t.Errorf("delays %v, want [3s 1s]", got)
	}
}
