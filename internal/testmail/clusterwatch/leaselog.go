package clusterwatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kind is what an Entry records.
type Kind string

const (
	Claim  Kind = "claim"  // a node took the lease under a new epoch
	Commit Kind = "commit" // a node's fenced commit went through
	// Write is a change to the task's state (task_state), which only a
	// commit's transaction, behind its fence, should make.
	Write Kind = "write"
)

// appPrefix is what pgstore puts before a node's name in its
// connections' application_name (pgstore's setSessionParams).
const appPrefix = "mailtask "

// Entry is one claim or commit of a task's lease, in the order the lease
// row saw them (ID).
type Entry struct {
	ID     int64
	Task   string
	Kind   Kind
	Epoch  int64
	Holder string // who held the lease then
	// Writer is, for a commit or write, the application_name of the
	// session that made it: "mailtask " and a node's name.
	Writer string
	// Live is, for a commit or write, whether the lease was unexpired
	// then, by the database's clock.
	Live bool
	// Due is, for a claim, when the task was due (its next_due before the
	// claim); zero for a commit.
	Due time.Time
	At  time.Time // by the database's clock
}

// schema is the log and the triggers that fill it. A trigger runs in
// the claim's or commit's own transaction, under the row lock both take,
// so a claim or commit that rolls back leaves no entry, and the IDs of one
// task's entries follow the order the lease row changed in.
//
// A state write is judged live by the fence its transaction passed (the
// transaction updated the lease row: committed_at is then its fence's
// time), not by the clock when it wrote: from its fence to its end a
// commit holds the lease row locked, so no other node can claim the task
// in between, however long the committing node stands still there. A
// write in a transaction that passed no fence is judged by the clock.
const schema = claimsSchema + `
CREATE FUNCTION lease_log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO lease_log (task, kind, epoch, holder, writer, live, at)
	VALUES (NEW.task, 'commit', NEW.epoch, coalesce(NEW.holder, ''), current_setting('application_name'),
		coalesce(NEW.lease_until > NEW.committed_at, false), NEW.committed_at);
	RETURN NULL;
END $$;
CREATE TRIGGER lease_log_commit AFTER UPDATE OF committed_at ON tasks
	FOR EACH ROW WHEN (NEW.committed_at IS DISTINCT FROM OLD.committed_at) EXECUTE FUNCTION lease_log_commit();
CREATE FUNCTION lease_log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO lease_log (task, kind, epoch, holder, writer, live, at)
	SELECT NEW.task, 'write', t.epoch, coalesce(t.holder, ''), current_setting('application_name'),
		coalesce(t.lease_until > CASE WHEN t.xmin::text = (pg_current_xact_id()::text::bigint % 4294967296)::text
			THEN t.committed_at ELSE clock_timestamp() END, false), clock_timestamp()
	FROM tasks t WHERE t.task = NEW.task;
	RETURN NULL;
END $$;
CREATE TRIGGER lease_log_write AFTER INSERT OR UPDATE ON task_state
	FOR EACH ROW EXECUTE FUNCTION lease_log_write();
`

// logTable is the log itself.
const logTable = `
CREATE TABLE lease_log (
	id     bigserial PRIMARY KEY,
	task   text NOT NULL,
	kind   text NOT NULL,
	epoch  bigint NOT NULL,
	holder text NOT NULL DEFAULT '',
	writer text NOT NULL DEFAULT '',
	live   boolean NOT NULL DEFAULT false,
	due    timestamptz,
	at     timestamptz NOT NULL
);
`

// claimsSchema logs the claims alone (Kind Claim), for the benchmarks:
// the commits and writes the chaos test judges cost every run two more
// inserts by triggers, which a cluster without the log does not pay.
// (Triggers of one event fire in the order of their names: a claim's
// entry would come before a commit's of the same update.)
const claimsSchema = logTable + `
CREATE FUNCTION lease_log_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO lease_log (task, kind, epoch, holder, due, at)
	VALUES (NEW.task, 'claim', NEW.epoch, coalesce(NEW.holder, ''), OLD.next_due, coalesce(NEW.claimed_at, clock_timestamp()));
	RETURN NULL;
END $$;
CREATE TRIGGER lease_log_claim AFTER UPDATE OF epoch ON tasks
	FOR EACH ROW WHEN (NEW.epoch <> OLD.epoch) EXECUTE FUNCTION lease_log_claim();
`

// Install adds the log to the database at url, whose schema pgstore has
// migrated (mailtask db migrate).
func Install(ctx context.Context, url string) error { return install(ctx, url, schema) }

// InstallClaims adds a log of the claims alone to the database at url.
func InstallClaims(ctx context.Context, url string) error { return install(ctx, url, claimsSchema) }

func install(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("lease log: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("lease log: %w", err)
	}
	return nil
}

// Read returns the whole log, in order.
func Read(ctx context.Context, url string) ([]Entry, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("lease log: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT id, task, kind, epoch, holder, writer, live, due, at FROM lease_log ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("lease log: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var (
			e   Entry
			due *time.Time
		)
		err := r.Scan(&e.ID, &e.Task, &e.Kind, &e.Epoch, &e.Holder, &e.Writer, &e.Live, &due, &e.At)
		if due != nil {
			e.Due = *due
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("lease log: %w", err)
	}
	return entries, nil
}

// Overlaps describes every commit or state write in entries that a
// correct fence keeps from happening: one made by a node other than the
// one holding the task's lease at that moment (a node paused past its
// lease, resumed while another held it), or made after the lease had run
// out by the database's clock. None means no two committing runs of any
// task overlapped, as far as the database can tell: a node that lost a
// task's lease and claimed it again holds the new epoch, and a commit by
// its old run that a fence without the epoch condition let through would
// look like one by the new (pgstore's own tests cover that fence).
func Overlaps(entries []Entry) []string {
	var problems []string
	for _, e := range entries {
		switch {
		case e.Kind == Claim:
		case e.Writer != nodeApp(e.Holder):
			problems = append(problems, fmt.Sprintf("task %q: %s by %q at %s (entry %d) while %q held the lease under epoch %d: two runs committed with overlapping leases",
				e.Task, e.Kind, e.Writer, e.At.Format(time.RFC3339Nano), e.ID, e.Holder, e.Epoch))
		case !e.Live:
			problems = append(problems, fmt.Sprintf("task %q: %s by %q at %s (entry %d) after its lease of epoch %d had run out",
				e.Task, e.Kind, e.Writer, e.At.Format(time.RFC3339Nano), e.ID, e.Epoch))
		}
	}
	return problems
}

// nodeApp is the application_name of node's connections, as pgstore sets
// it: "mailtask " and the name, cut to PostgreSQL's 63 bytes.
func nodeApp(node string) string {
	app := appPrefix + node
	if len(app) > 63 {
		app = app[:63]
	}
	return app
}

// ClaimDelays returns, for every claim of a task that was due, how long
// after its due time the claim came; claims before the due time (a
// `mailtask run-task` takes a task whenever it is asked) are left out.
func ClaimDelays(entries []Entry) []time.Duration {
	var delays []time.Duration
	for _, e := range entries {
		if e.Kind == Claim && !e.Due.IsZero() && !e.At.Before(e.Due) {
			delays = append(delays, e.At.Sub(e.Due))
		}
	}
	return delays
}

// WaitingAtFence returns the application_name of a session whose commit
// waits at the fence for a lock that conn holds (conn's transaction has
// the task's lease row), or "" if none does. A commit waiting for some
// other session's lock does not count: under load a fence can wait a
// while on a row its own node is renewing, and that commit is not the one
// the caller caught. conn may be inside a transaction, as it is while it
// holds the lock: PostgreSQL keeps one snapshot of pg_stat_activity per
// transaction, so it is cleared first to see the sessions as they are
// now.
func WaitingAtFence(ctx context.Context, conn *pgx.Conn) (string, error) {
	if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return "", err
	}
	var app string
	err := conn.QueryRow(ctx, `SELECT application_name FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1
		  AND pg_backend_pid() = ANY(pg_blocking_pids(pid))
		LIMIT 1`, FenceStatement).Scan(&app)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return app, err
}
