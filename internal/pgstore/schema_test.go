package pgstore

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/state"
	"mailtask/internal/testmail/postgres"
)

func TestMigrateFromEmptyThenOpen(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	ctx := testContext(t)
	_, err := Open(ctx, Options{URL: url})
	var se *SchemaError
	if !errors.As(err, &se) || se.Have != 0 || !strings.Contains(err.Error(), "mailtask db migrate") {
		t.Fatalf("Open before any migration: %v; want a SchemaError naming `mailtask db migrate`", err)
	}
	got, err := Migrate(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if got.From != 0 || got.To != SchemaVersion {
		t.Fatalf("Migrate from empty: %+v, want 0 -> %d", got, SchemaVersion)
	}
	again, err := Migrate(ctx, url)
	if err != nil || again.From != SchemaVersion || again.To != SchemaVersion {
		t.Fatalf("second Migrate: %+v, %v; want nothing to do", again, err)
	}
	s, err := Open(ctx, Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestOpenRefusesASchemaBehindOrAhead(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	sql(t, url, "DELETE FROM mailtask_schema WHERE version = $1", SchemaVersion)
	_, err := Open(ctx, Options{URL: url})
	var se *SchemaError
	if !errors.As(err, &se) || se.Have != SchemaVersion-1 || !strings.Contains(err.Error(), "mailtask db migrate") {
		t.Fatalf("Open with the schema one behind: %v", err)
	}
	sql(t, url, "INSERT INTO mailtask_schema (version, name) VALUES ($1, 'x'), ($2, 'from the future') ON CONFLICT DO NOTHING", SchemaVersion, SchemaVersion+1)
	_, err = Open(ctx, Options{URL: url})
	if !errors.As(err, &se) || se.Have != SchemaVersion+1 || !strings.Contains(err.Error(), "newer than this mailtask") {
		t.Fatalf("Open with a newer schema: %v", err)
	}
	if _, err := Migrate(ctx, url); !errors.As(err, &se) {
		t.Fatalf("Migrate of a newer schema: %v; want a SchemaError", err)
	}
}

func TestNodesMigratingAtOnceTakeTurns(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	if err := migrateAtOnce(t, url, 3); err != nil {
		t.Fatal(err)
	}
	if n := count(t, url, "SELECT count(*) FROM mailtask_schema"); n != SchemaVersion {
		t.Fatalf("%d schema versions recorded, want %d", n, SchemaVersion)
	}
}

// migrateAtOnce runs n migrations of the database at url at once, as
// nodes started together would, and returns their errors.
func migrateAtOnce(t *testing.T, url string, n int) error {
	t.Helper()
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range errs {
		wg.Go(func() { _, errs[i] = Migrate(ctx, url) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestErrorsHideTheDatabasePassword(t *testing.T) {
	ctx := testContext(t)
	for _, url := range []string{
		"postgres://mailtask:hunter2-secret@127.0.0.1:1/db?connect_timeout=1",
		"postgres://mailtask:hunter2-secret@127.0.0.1:notaport/db",
	} {
		_, err := Open(ctx, Options{URL: url})
		if err == nil || strings.Contains(err.Error(), "hunter2-secret") {
			t.Errorf("Open(%s): %v; want an error without the password", Redact(url), err)
		}
		_, err = Migrate(ctx, url)
		if err == nil || strings.Contains(err.Error(), "hunter2-secret") {
			t.Errorf("Migrate(%s): %v; want an error without the password", Redact(url), err)
		}
	}
}

// A node already running when a newer mailtask migrates the database (a
// rolling upgrade) takes no task from then on and keeps no lease, saying
// why; what it had committed stays.
func TestANodeOlderThanTheSchemaTakesAndKeepsNothing(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "old")
	if err := s.AddTasks(ctx, []string{"due", "idle"}); err != nil {
		t.Fatal(err)
	}
	held := claim(t, s, "running", time.Hour)
	st, fps := sampleState("running")
	if err := held.Commit(ctx, st, fps); err != nil {
		t.Fatal(err)
	}

	sql(t, url, "INSERT INTO mailtask_schema (version, name) VALUES ($1, 'from a newer mailtask')", SchemaVersion+1)
	var schemaErr *SchemaError
	if leases, _, err := s.Claim(ctx, 10, time.Hour); !errors.As(err, &schemaErr) || len(leases) > 0 || schemaErr.Have != SchemaVersion+1 {
		t.Fatalf("claim under a newer schema: %d leases, %v; want none and a *SchemaError naming version %d", len(leases), err, SchemaVersion+1)
	}
	if _, err := s.ClaimTask(ctx, "idle", time.Hour); !errors.As(err, &schemaErr) {
		t.Fatalf("claim of one task under a newer schema: %v, want a *SchemaError", err)
	}
	if err := held.Renew(ctx, time.Hour); !errors.Is(err, ErrLeaseLost) || !errors.As(err, &schemaErr) {
		t.Fatalf("renewal under a newer schema: %v, want ErrLeaseLost saying why", err)
	}
	if n := count(t, url, "SELECT count(*) FROM tasks WHERE holder = 'old' AND lease_until > now() AND task <> 'running'"); n != 0 {
		t.Fatalf("the node holds %d tasks under a newer schema", n)
	}
	if got, err := s.LoadState(ctx, "running"); err != nil || got.UIDValidity != st.UIDValidity {
		t.Fatalf("the committed state after the migration: %+v (err %v)", got, err)
	}
}

// Migration 13 (last_notice) applies to a database at 12 with a task's
// state in it, which loads as before with no notice, and then keeps one.
func TestMigratingToLastNoticeKeepsTheState(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	migrateTo(t, url, 12)
	sql(t, url, `INSERT INTO task_state (task, uid_validity, done_uids, last_run)
		VALUES ('t', 9, '1:40', '{"started": "2026-12-07T09:12:00Z", "outcome": "ok", "quarantine_notices": 1}')`)
	done, err := Migrate(testContext(t), url)
	if err != nil || done.From != 12 || done.To != SchemaVersion {
		t.Fatalf("migrate from 12: %+v, %v", done, err)
	}
	ctx := testContext(t)
	s := openNode(t, url, "n")
	st, err := s.LoadState(ctx, "t")
	if err != nil || st.UIDValidity != 9 || st.Done.String() != "1:40" || st.LastRun == nil || st.LastRun.QuarantineNotices != 1 || st.LastNotice != nil {
		t.Fatalf("the state after the migration: %+v, %v; want it as before, with no last notice", st, err)
	}
	l := claim(t, s, "t", time.Hour)
	st.LastNotice = &state.LastNotice{At: st.LastRun.Started, Notices: 1}
	if err := l.Commit(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	states, err := s.States(ctx)
	var got *state.LastNotice
	if back := states["t"].State; back != nil {
		got = back.LastNotice
	}
	if err != nil || got == nil || *got != *st.LastNotice {
		t.Fatalf("the last notice after a commit of one: %+v (err %v, %v), want %+v", got, err, states["t"].Err, st.LastNotice)
	}
}

// Migration 14 (settling_uids) applies to a database at 13 with a task's
// state in it, which loads as before with nothing settling, and then
// keeps what settles.
func TestMigratingToSettlingKeepsTheState(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	migrateTo(t, url, 13)
	sql(t, url, `INSERT INTO task_state (task, uid_validity, done_uids, last_notice)
		VALUES ('t', 9, '1:40', '{"at": "2026-12-07T09:12:00Z", "notices": 1}')`)
	done, err := Migrate(testContext(t), url)
	if err != nil || done.From != 13 || done.To != SchemaVersion || !slices.Equal(done.Applied, []string{"0014_settling_uids"}) {
		t.Fatalf("migrate from 13: %+v, %v", done, err)
	}
	ctx := testContext(t)
	s := openNode(t, url, "n")
	st, err := s.LoadState(ctx, "t")
	if err != nil || st.UIDValidity != 9 || st.Done.String() != "1:40" || st.LastNotice == nil || st.LastNotice.Notices != 1 || st.Settling != nil {
		t.Fatalf("the state after the migration: %+v, %v; want it as before, with nothing settling", st, err)
	}
	l := claim(t, s, "t", time.Hour)
	st.Settling.Append(41, st.LastNotice.At)
	st.Settling.Append(43, st.LastNotice.At)
	if err := l.Commit(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	states, err := s.States(ctx)
	var got state.Settling
	if back := states["t"].State; back != nil {
		got = back.Settling
	}
	if err != nil || !slices.Equal(got, st.Settling) {
		t.Fatalf("settling after a commit: %+v (err %v, %v), want %+v", got, err, states["t"].Err, st.Settling)
	}
}
