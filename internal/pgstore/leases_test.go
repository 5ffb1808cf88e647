package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

func taskNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("task-%03d", i)
	}
	return names
}

func TestConcurrentClaimsNeverGiveATaskToTwoHolders(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	names := taskNames(60)
	nodes := []*Store{openNode(t, url, "node-a"), openNode(t, url, "node-b"), openNode(t, url, "node-c")}
	if err := nodes[0].AddTasks(ctx, names); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		holders = map[string][]string{} // task -> nodes that claimed it
		wg      sync.WaitGroup
		errs    []error
	)
	// Every lease lasts the whole test, so each task can be claimed once.
	for _, n := range nodes {
		for range 3 {
			wg.Go(func() {
				for {
					leases, _, err := n.Claim(ctx, 2, time.Hour)
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					if len(leases) == 0 {
						return
					}
					mu.Lock()
					for _, l := range leases {
						holders[l.Task] = append(holders[l.Task], n.Node())
						if l.Epoch != 1 {
							errs = append(errs, fmt.Errorf("%s: first claim has epoch %d", l.Task, l.Epoch))
						}
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if h := holders[name]; len(h) != 1 {
			t.Errorf("task %s was claimed by %v, want exactly one holder", name, h)
		}
	}
}

func TestClaimTakesOnlyDueAndFreeTasks(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	names := []string{"due", "later", "held"}
	if err := a.AddTasks(ctx, names); err != nil {
		t.Fatal(err)
	}
	sql(t, url, "UPDATE tasks SET next_due = now() + interval '1 hour' WHERE task = 'later'")
	if _, err := a.ClaimTask(ctx, "held", time.Hour); err != nil {
		t.Fatal(err)
	}
	leases, _, err := b.Claim(ctx, 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != 1 || leases[0].Task != "due" {
		t.Fatalf("claimed %v, want only the task due and free", leaseTasks(leases))
	}
	_, err = b.ClaimTask(ctx, "held", time.Hour)
	var held *HeldError
	if !errors.As(err, &held) || held.Holder != "a" {
		t.Fatalf("ClaimTask of a held task: %v, want a HeldError naming a", err)
	}
}

// A node hands back at once a task it does not run by its schedule (not
// in its configuration, or watched with idle): its claims must pass that
// task over from then on, or it would claim and hand it back on every
// poll, while other nodes still get it; a change of its configuration
// (Skip) makes it claim the task again.
func TestClaimPassesOverTasksTheNodeSkips(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	if err := a.AddTasks(ctx, []string{"theirs", "watched"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Skip(ctx, []string{"watched"}); err != nil {
		t.Fatal(err)
	}
	leases, _, err := a.Claim(ctx, 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != 1 || leases[0].Task != "theirs" {
		t.Fatalf("a claimed %v, want theirs only: it skips watched", leaseTasks(leases))
	}
	if err := leases[0].Skip(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _, err := a.Claim(ctx, 10, time.Hour); err != nil || len(again) != 0 {
		t.Fatalf("a claimed %v (err %v) after skipping both, want nothing", leaseTasks(again), err)
	}
	got, _, err := b.Claim(ctx, 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if tasks := leaseTasks(got); len(tasks) != 2 {
		t.Fatalf("b claimed %v, want both tasks a skips", tasks)
	}
	for _, l := range got {
		if err := l.Release(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// A's configuration changes: it has theirs now, and watches nothing.
	if err := a.Skip(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if back, _, err := a.Claim(ctx, 10, time.Hour); err != nil || len(back) != 2 {
		t.Fatalf("a claimed %v (err %v) once it skips nothing, want both", leaseTasks(back), err)
	}
}

// The nodes a row remembers as skipping it are bounded: nodes come back
// under new names (their PIDs) when they restart.
func TestSkippersAreBounded(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	for i := range skippersKept + 5 {
		n := openNode(t, url, fmt.Sprintf("node-%02d", i))
		if err := n.AddTasks(ctx, []string{"gone"}); err != nil {
			t.Fatal(err)
		}
		leases, _, err := n.Claim(ctx, 1, time.Hour)
		if err != nil || len(leases) != 1 {
			t.Fatalf("node %d claimed %d (err %v), want gone", i, len(leases), err)
		}
		if err := leases[0].Skip(ctx); err != nil {
			t.Fatal(err)
		}
		n.Close()
	}
	if n := count(t, url, "SELECT cardinality(skipped_by) FROM tasks WHERE task = 'gone'"); n != skippersKept {
		t.Fatalf("skipped_by holds %d nodes, want the newest %d", n, skippersKept)
	}
	newest := fmt.Sprintf("node-%02d", skippersKept+4)
	if count(t, url, "SELECT count(*) FROM tasks WHERE task = 'gone' AND skipped_by[cardinality(skipped_by)] = $1", newest) != 1 {
		t.Fatalf("the newest skipper, %s, is not last in skipped_by", newest)
	}
}

func leaseTasks(ls []*Lease) []string {
	var names []string
	for _, l := range ls {
		names = append(names, l.Task)
	}
	return names
}

// expire makes a lease run out now, by the database's clock, as if its
// node had paused past it.
func expire(t *testing.T, url, task string) {
	t.Helper()
	sql(t, url, "UPDATE tasks SET lease_until = now() - interval '1 second' WHERE task = $1", task)
}

func sampleState(task string) (*state.State, []state.Fingerprint) {
	st := &state.State{Version: state.Version, Task: task, UIDValidity: 7}
	st.Done.AddRange(1, 10)
	st.PendingUIDs.Add(10)
	fps := []state.Fingerprint{{1, 2, 3, 4, 5, 6, 7, 8}, {9, 9, 9, 9, 9, 9, 9, 9}}
	return st, fps
}

func TestCommitAfterTheLeaseRanOutIsFencedAndWritesNothing(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	paused, other := openNode(t, url, "paused"), openNode(t, url, "other")
	l := claim(t, paused, "inbox", time.Hour)
	st, ledger, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.UIDLs.Add("pop-uidl")
	first, fps := sampleState("inbox")
	st.UIDValidity, st.Done, st.PendingUIDs = first.UIDValidity, first.Done, first.PendingUIDs

	expire(t, url, "inbox")
	err = l.Commit(ctx, st, fps)
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("commit after the lease ran out: %v, want ErrFenced", err)
	}
	for table, n := range map[string]int{
		"ledger":     count(t, url, "SELECT count(*) FROM ledger"),
		"uidls":      count(t, url, "SELECT count(*) FROM uidls"),
		"task_state": count(t, url, "SELECT count(*) FROM task_state"),
	} {
		if n != 0 {
			t.Errorf("a fenced commit left %d rows in %s", n, table)
		}
	}
	if ledger.Len() != 0 {
		t.Error("a fenced commit added to the ledger in memory")
	}
	if len(st.UIDLs.Changes()) == 0 {
		t.Error("a fenced commit marked the UIDL changes saved")
	}
	if err := l.Renew(ctx, time.Hour); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renewal after the lease ran out: %v, want ErrLeaseLost", err)
	}

	// Another node takes the task over; the paused one stays fenced, and
	// its release leaves the new holder alone.
	l2, err := other.ClaimTask(ctx, "inbox", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Epoch != l.Epoch+1 {
		t.Fatalf("the next claim has epoch %d, want %d", l2.Epoch, l.Epoch+1)
	}
	if err := l.Commit(ctx, st, fps); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit by the old holder after a new claim: %v, want ErrFenced", err)
	}
	if err := l.Release(ctx, time.Now().Add(time.Hour)); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("release by the old holder: %v, want ErrLeaseLost", err)
	}
	st2, _, err := l2.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Commit(ctx, st2, nil); err != nil {
		t.Fatalf("the new holder's commit: %v", err)
	}
	if err := l2.Renew(ctx, time.Hour); err != nil {
		t.Fatalf("the new holder's renewal: %v", err)
	}
}

func TestALeaseRunsOutByTheDatabaseClock(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	l := claim(t, s, "inbox", 300*time.Millisecond)
	// Wait for the database, not for a local timer.
	for count(t, url, "SELECT count(*) FROM tasks WHERE task = 'inbox' AND lease_until > clock_timestamp()") != 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the lease never ran out")
		case <-time.After(20 * time.Millisecond):
		}
	}
	st, fps := sampleState("inbox")
	if err := l.Commit(ctx, st, fps); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit after a short lease ran out: %v, want ErrFenced", err)
	}
	if n := count(t, url, "SELECT count(*) FROM ledger"); n != 0 {
		t.Fatalf("the fenced commit left %d ledger rows", n)
	}
}

func TestCommitThenLoadRoundTrips(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	l := claim(t, s, "pop", time.Hour)
	st, ledger, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.UIDValidity = 42
	st.Done.AddRange(3, 9)
	st.PendingUIDs.Add(9)
	st.PendingFailedUIDs.Add(4)
	st.PendingUIDLs = []string{"u1"}
	st.PendingFailedUIDLs = []string{"u2"}
	st.PendingRemovalUIDs.Add(5)
	st.ActionRefused = "after: NO [OVERQUOTA] Quota exceeded"
	st.Undelivered = map[string]int{"uid:11": 2}
	for _, u := range []string{"u1", "u2", "u3"} {
		st.UIDLs.Add(u)
	}
	st.AddFailure(state.Failure{Key: "uid:4", Reason: "unparseable", Path: "/q/4.eml", At: time.Unix(1700000000, 0).UTC()})
	run := &state.Run{Started: time.Unix(1700000100, 0).UTC(), Duration: 1500 * time.Millisecond, Outcome: "ok", Counts: outcome.Counts{Seen: 7, Saved: 6, Known: 1, Files: 3, Bytes: 1234}}
	st.LastRun, st.LastSuccess = run, run
	st.LastNotice = &state.LastNotice{At: time.Unix(1699990000, 0).UTC(), Notices: 2, Held: 5}
	st.Settling = state.Settling{{First: 10, Last: 12, Seen: time.Unix(1700000050, 0).UTC()}, {First: 14, Last: 14, Seen: time.Unix(1700000090, 0).UTC()}}
	fps := []state.Fingerprint{{1}, {2}, {3}}
	if err := l.Commit(ctx, st, fps); err != nil {
		t.Fatal(err)
	}
	if !ledger.Has(fps[0]) || ledger.Len() != 3 {
		t.Fatal("Commit did not add to the loaded ledger")
	}
	// A second batch forgets a UIDL and adds a fingerprint already there.
	st.PruneUIDLs([]string{"u1", "u2"}, time.Now(), 0)
	st.PruneUIDLs([]string{"u1", "u2"}, time.Now().Add(72*time.Hour), 0)
	if err := l.Commit(ctx, st, fps[:1]); err != nil {
		t.Fatal(err)
	}

	got, gotLedger, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case got.UIDValidity != 42, got.Done.String() != "3:9", got.PendingUIDs.String() != "9",
		got.PendingFailedUIDs.String() != "4":
		t.Errorf("loaded UIDs: validity %d, done %q, pending %q, pending failed %q",
			got.UIDValidity, got.Done.String(), got.PendingUIDs.String(), got.PendingFailedUIDs.String())
	case len(got.PendingUIDLs) != 1 || got.PendingUIDLs[0] != "u1" || len(got.PendingFailedUIDLs) != 1:
		t.Errorf("loaded pending UIDLs %v, %v", got.PendingUIDLs, got.PendingFailedUIDLs)
	case got.UIDLs.Len() != 2 || !got.UIDLs.Has("u1") || got.UIDLs.Has("u3"):
		t.Errorf("loaded %d UIDLs (u1 %v, u3 %v), want u1 and u2", got.UIDLs.Len(), got.UIDLs.Has("u1"), got.UIDLs.Has("u3"))
	case len(got.Failed) != 1 || got.Failed[0] != st.Failed[0]:
		t.Errorf("loaded failures %+v, want %+v", got.Failed, st.Failed)
	case got.LastRun == nil || *got.LastRun != *run || got.LastSuccess == nil:
		t.Errorf("loaded last run %+v, want %+v", got.LastRun, run)
	case got.LastNotice == nil || *got.LastNotice != *st.LastNotice:
		t.Errorf("loaded last quarantine notice %+v, want %+v", got.LastNotice, st.LastNotice)
	case !slices.Equal(got.Settling, st.Settling):
		t.Errorf("loaded settling UIDs %+v, want %+v", got.Settling, st.Settling)
	case gotLedger.Len() != 3 || !gotLedger.Has(fps[2]):
		t.Errorf("loaded ledger of %d, want the 3 fingerprints", gotLedger.Len())
	}
	// Every field the state file keeps comes back: one the store forgot
	// (as schema 1 forgot the refused actions) shows here.
	if want, have := stateJSON(t, st), stateJSON(t, got); have != want {
		t.Errorf("loaded state\n%s\nwant\n%s", have, want)
	}
	if len(got.UIDLs.Changes()) != 0 {
		t.Error("a loaded state counts its UIDLs as changes")
	}
	if err := got.Save(); err == nil {
		t.Error("a state loaded from the database saved itself somewhere")
	}
	if other, err := s.LoadState(ctx, "never-ran"); err != nil || other.Done.Len() != 0 || other.Task != "never-ran" {
		t.Fatalf("LoadState of a task never run: %+v, %v", other, err)
	}
}

func TestReleaseSetsTheNextDueTime(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	if err := s.AddTasks(ctx, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	leases, _, err := s.Claim(ctx, 5, time.Hour)
	if err != nil || len(leases) != 1 {
		t.Fatalf("claim: %v, %v", leaseTasks(leases), err)
	}
	if err := leases[0].Release(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again, _, err := s.Claim(ctx, 5, time.Hour); err != nil || len(again) != 0 {
		t.Fatalf("claimed %v (%v) before its next due time", leaseTasks(again), err)
	}
	infos, err := s.Leases(ctx)
	if err != nil || len(infos) != 1 || infos[0].Holder != "" || infos[0].Epoch != 1 || !infos[0].NextDue.After(infos[0].Now) {
		t.Fatalf("Leases: %+v, %v", infos, err)
	}
}

// A claim says, by the database's clock, when the next task the node
// does not pass over comes due, so that the node looks again then rather
// than at an interval that a task due just after a look waits out.
func TestClaimSaysWhenTheNextTaskComesDue(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	if _, next, err := a.Claim(ctx, 5, time.Hour); err != nil || next != NoneDue {
		t.Fatalf("a claim with no tasks: next %v, %v; want NoneDue", next, err)
	}
	if err := a.AddTasks(ctx, []string{"now", "hour", "minute"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Skip(ctx, []string{"minute"}); err != nil {
		t.Fatal(err)
	}
	sql(t, url, "UPDATE tasks SET next_due = now() + interval '1 hour' WHERE task = 'hour'")
	sql(t, url, "UPDATE tasks SET next_due = now() + interval '1 minute' WHERE task = 'minute'")
	leases, next, err := a.Claim(ctx, 5, time.Hour)
	if err != nil || len(leases) != 1 || leases[0].Task != "now" {
		t.Fatalf("a claimed %v, %v; want the task due now", leaseTasks(leases), err)
	}
	if next <= 59*time.Minute || next > time.Hour {
		t.Fatalf("a's next task due in %v, want within the hour of hour's (a passes minute over)", next)
	}
	if _, next, err := b.Claim(ctx, 5, time.Hour); err != nil || next <= 0 || next > time.Minute {
		t.Fatalf("b's next task due in %v (%v), want within minute's minute", next, err)
	}
}

func TestKeepRenewsUntilTheLeaseIsLost(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	l := claim(t, s, "inbox", time.Hour)
	before := l.Until()
	stop, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Keep(stop, time.Hour, 5*time.Millisecond) }()
	for !l.Until().After(before) {
		select {
		case err := <-done:
			t.Fatalf("Keep ended: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Keep after its context ended: %v", err)
	}

	expire(t, url, "inbox")
	err := l.Keep(ctx, time.Hour, 5*time.Millisecond)
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Keep of a lease that ran out: %v, want ErrLeaseLost", err)
	}
}

func TestReplaceMovesAWholeStateIn(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	s := openNode(t, url, "n")
	l := claim(t, s, "pop", time.Hour)
	old, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old.UIDLs.Add("stale")
	if err := l.Commit(ctx, old, []state.Fingerprint{{0xee}}); err != nil {
		t.Fatal(err)
	}

	// A state as the file store loads it: its UIDLs are no changes.
	var imported state.State
	imported.Version, imported.Task, imported.UIDValidity = state.Version, "pop", 3
	imported.UIDLs.Restore(1, 0)
	imported.UIDLs.Restore(2, 5)
	fps := []state.Fingerprint{{1}, {2}}
	if err := l.Replace(ctx, &imported, fps); err != nil {
		t.Fatal(err)
	}
	got, ledger, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.UIDValidity != 3 || got.UIDLs.Len() != 2 || got.UIDLs.Has("stale") || ledger.Len() != 2 || ledger.Has(state.Fingerprint{0xee}) {
		t.Fatalf("after Replace: validity %d, %d UIDLs (stale %v), ledger of %d", got.UIDValidity, got.UIDLs.Len(), got.UIDLs.Has("stale"), ledger.Len())
	}
	var exported []state.Fingerprint
	for f := range ledger.All() {
		exported = append(exported, f)
	}
	if len(exported) != 2 {
		t.Fatalf("Ledger.All yields %d", len(exported))
	}
	expire(t, url, "pop")
	if err := l.Replace(ctx, &imported, fps); !errors.Is(err, ErrFenced) {
		t.Fatalf("Replace after the lease ran out: %v, want ErrFenced", err)
	}
}

// stateJSON is st as the file store would write it.
func stateJSON(t *testing.T, st *state.State) string {
	t.Helper()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A lease whose renewals fail is given up when it runs out, not at the
// next renewal's tick after that (a third of a lease late): until then
// the node would keep a connection or a run another node may hold by then.
func TestKeepGivesUpAtTheDeadlineNotTheNextTick(t *testing.T) {
	const leaseFor, every = 50 * time.Millisecond, time.Hour
	errDown := errors.New("the database is down")
	done := make(chan error, 1)
	go func() {
		done <- keep(context.Background(), leaseFor, every, func(context.Context, time.Duration) error { return errDown },
			func() error { return ErrLeaseLost })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("keep: %v, want the lease given up", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a lease of 50ms was still kept 30s after its last renewal")
	}
}
