package pgstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/state"
)

// roundTrips counts the round trips the clients of a proxy in front of
// the database make: the Syncs of the extended protocol, each of which
// ends a batch, and the queries of the simple protocol but pgx's pings of
// connections that sat idle in the pool, which come when they please;
// and the statements they run by the extended protocol (Executes).
type roundTrips struct{ n, executes atomic.Int64 }

// openCounted opens a store of one connection, as node "counted", to a
// new migrated database through a round-trip counter, and returns the
// counter's URL and count beside it.
func openCounted(t *testing.T) (string, *roundTrips, *Store) {
	t.Helper()
	url, trips := countRoundTrips(t, migratedDB(t))
	s, err := Open(testContext(t), Options{URL: url, Node: "counted", MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return url, trips, s
}

// countRoundTrips returns the URL of such a proxy to the database at
// rawURL (whose server speaks no TLS: sslmode=disable), and its count.
func countRoundTrips(t *testing.T, rawURL string) (string, *roundTrips) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, target := &roundTrips{}, u.Host
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			wg.Go(func() { io.Copy(client, server); client.Close() })
			wg.Go(func() { p.forward(client, server); server.Close() })
		}
	})
	// Registered before the stores the test opens, this runs after they
	// have closed their connections.
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	u.Host = ln.Addr().String()
	return u.String(), p
}

// forward copies the client's messages to the server, counting.
func (p *roundTrips) forward(client, server net.Conn) {
	r := bufio.NewReader(client)
	// The startup message comes without a type byte.
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(size[:])-4)
	if _, err := io.ReadFull(r, startup); err != nil {
		return
	}
	if _, err := server.Write(append(size[:], startup...)); err != nil {
		return
	}
	for {
		var head [5]byte // type, then length with itself
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch {
		case head[0] == 'S', head[0] == 'Q' && !bytes.HasPrefix(body, []byte("-- ping")):
			p.n.Add(1)
		case head[0] == 'E':
			p.executes.Add(1)
		}
		if _, err := server.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

// during returns the round trips f makes.
func (p *roundTrips) during(f func()) int64 {
	before := p.n.Load()
	f()
	return p.n.Load() - before
}

// statementsDuring returns the statements f runs.
func (p *roundTrips) statementsDuring(f func()) int64 {
	before := p.executes.Load()
	f()
	return p.executes.Load() - before
}

// A run's load is one statement in one round trip: the state row with
// the task's UIDLs and ledger beside it, of one snapshot, where a
// repeatable-read transaction took five statements. What it loads is
// what was committed.
func TestALoadIsOneStatement(t *testing.T) {
	_, trips, s := openCounted(t)
	ctx := testContext(t)
	l := claim(t, s, "t", time.Hour)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.UIDValidity = 9
	st.UIDLs.Add("a")
	st.UIDLs.Add("b")
	if err := l.Commit(ctx, st, []state.Fingerprint{{1}, {2}, {3}}); err != nil {
		t.Fatal(err)
	}
	var (
		got    *state.State
		ledger *Ledger
	)
	n := trips.statementsDuring(func() { got, ledger, err = l.Load(ctx) })
	if err != nil || n != 1 {
		t.Fatalf("load: %d statements, %v; want 1", n, err)
	}
	if got.UIDValidity != 9 || !got.UIDLs.Has("a") || !got.UIDLs.Has("b") || got.UIDLs.Len() != 2 || ledger.Len() != 3 || !ledger.Has(state.Fingerprint{2}) {
		t.Fatalf("loaded UIDVALIDITY %d, %d UIDLs, %d fingerprints; want what was committed", got.UIDValidity, got.UIDLs.Len(), ledger.Len())
	}
}

// A commit is one round trip, the fence and all it writes, whether it
// takes messages (Commit) or ends a run (CommitRun): on a node that runs
// thousands of tasks, each round trip of a run is CPU in the node and in
// the database. Each is done twice, and the second counted, so that the
// statements are prepared on the store's one connection by then.
func TestACommitIsOneRoundTrip(t *testing.T) {
	url, trips, s := openCounted(t)
	ctx := testContext(t)
	l := claim(t, s, "t", time.Hour)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		st.UIDLs.Add(fmt.Sprint("uidl-", i))
		fps := []state.Fingerprint{{byte(i + 1)}}
		var n int64
		// The fence takes the lease row itself: fence, ledger, UIDLs, state.
		statements := trips.statementsDuring(func() { n = trips.during(func() { err = l.Commit(ctx, st, fps) }) })
		if err != nil || i == 1 && (n != 1 || statements != 4) {
			t.Fatalf("commit %d: %d round trips, %d statements, %v; want 1 and 4", i, n, statements, err)
		}
	}
	for i := range 2 {
		st.LastRun = &state.Run{Started: time.Now(), Outcome: "ok"}
		if n := trips.during(func() { err = l.CommitRun(ctx, st, *st.LastRun, nil) }); err != nil || i == 1 && n != 1 {
			t.Fatalf("run's commit %d: %d round trips, %v; want 1", i, n, err)
		}
	}
	if got := count(t, url, "SELECT count(*) FROM ledger WHERE task = 't'"); got != 2 {
		t.Fatalf("%d fingerprints committed, want 2", got)
	}
	if got := count(t, url, "SELECT count(*) FROM runs WHERE task = 't'"); got != 2 {
		t.Fatalf("%d runs recorded, want 2", got)
	}
}

// A run's last commit can give back, in its one round trip, the lease
// (due next as the Ending says) and the run's connection slot, which
// cost two more round trips after it; refused by the fence, it gives
// back nothing: the lease is the next holder's, and the slot is released
// on its own.
func TestARunsLastCommitGivesBackTheLeaseAndSlot(t *testing.T) {
	url, trips, s := openCounted(t)
	ctx := testContext(t)
	next := time.Now().Add(5 * time.Minute).Truncate(time.Millisecond)
	for i := range 2 { // the second counted, its statements prepared
		task := fmt.Sprint("t", i)
		l := claim(t, s, task, time.Hour)
		sl, err := s.TryAcquireSlot(ctx, "a", 1, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, _, err := l.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.LastRun = &state.Run{Started: time.Now(), Outcome: "ok"}
		end := &Ending{NextDue: next, Slots: []*Slot{sl}}
		if n := trips.during(func() { err = l.CommitRun(ctx, st, *st.LastRun, end) }); err != nil || i == 1 && n != 1 {
			t.Fatalf("run's commit %d: %d round trips, %v; want 1", i, n, err)
		}
		if got := count(t, url, "SELECT count(*) FROM tasks WHERE task = $1 AND holder IS NULL AND lease_until IS NULL AND next_due = $2", task, next); got != 1 {
			t.Fatalf("task %s: the lease was not given back due at %s", task, next)
		}
	}
	if got := count(t, url, "SELECT count(*) FROM conn_slots WHERE lease_until > now()"); got != 0 {
		t.Fatalf("%d connection slots held after the runs' commits gave theirs back", got)
	}

	l := claim(t, s, "fenced", time.Hour)
	sl, err := s.TryAcquireSlot(ctx, "a", 1, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sql(t, url, "UPDATE tasks SET lease_until = now() - interval '1 second' WHERE task = 'fenced'")
	st.LastRun = &state.Run{Started: time.Now(), Outcome: "ok"}
	if err := l.CommitRun(ctx, st, *st.LastRun, &Ending{NextDue: next, Slots: []*Slot{sl}}); !errors.Is(err, ErrFenced) {
		t.Fatalf("run's commit past its lease: %v, want ErrFenced", err)
	}
	if got := count(t, url, "SELECT count(*) FROM tasks WHERE task = 'fenced' AND holder = 'counted' AND next_due < now()"); got != 1 {
		t.Fatal("a fenced commit gave the lease back")
	}
	if got := count(t, url, "SELECT count(*) FROM conn_slots WHERE lease_until > now()"); got != 1 {
		t.Fatalf("%d connection slots held after a fenced commit, want the run's 1", got)
	}
	if got := count(t, url, "SELECT count(*) FROM runs WHERE task = 'fenced'"); got != 1 {
		t.Fatalf("%d runs recorded of the fenced one, want 1", got)
	}
}

// Taking a connection slot, which every run does, is one round trip of
// two statements: the account's lock, then the insert that passes over
// the slots that ran out and removes them.
func TestTakingASlotIsTwoStatements(t *testing.T) {
	_, trips, s := openCounted(t)
	ctx := testContext(t)
	for i := range 2 { // the second counted, its statements prepared
		var (
			n, statements int64
			err           error
		)
		statements = trips.statementsDuring(func() {
			n = trips.during(func() { _, err = s.TryAcquireSlot(ctx, fmt.Sprint("a", i), 1, time.Hour, nil) })
		})
		if err != nil || i == 1 && (n != 1 || statements != 2) {
			t.Fatalf("slot %d: %d round trips, %d statements, %v; want 1 and 2", i, n, statements, err)
		}
	}
}

// A run's slot can come with its state: TryAcquireSlot with the run's
// lease reads it in the same round trip, and the Load after it asks the
// database nothing. A state row that cannot be read does not cost the
// slot: the slot is taken, and the Load reports the damage.
func TestASlotComesWithTheRunsState(t *testing.T) {
	db := migratedDB(t)
	url, trips := countRoundTrips(t, db)
	ctx := testContext(t)
	s, err := Open(ctx, Options{URL: url, Node: "counted", MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 2 { // the second counted, its statements prepared
		task := fmt.Sprint("t", i)
		l := claim(t, s, task, time.Hour)
		st, _, err := l.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.UIDValidity = 7
		if err := l.Commit(ctx, st, []state.Fingerprint{{1}}); err != nil {
			t.Fatal(err)
		}
		var (
			got    *state.State
			ledger *Ledger
		)
		slot := trips.during(func() { _, err = s.TryAcquireSlot(ctx, task, 1, time.Hour, l) })
		if err != nil {
			t.Fatal(err)
		}
		load := trips.during(func() { got, ledger, err = l.Load(ctx) })
		if err != nil || i == 1 && (slot != 1 || load != 0) {
			t.Fatalf("slot and load %d: %d and %d round trips, %v; want 1 and 0", i, slot, load, err)
		}
		if got.UIDValidity != 7 || !ledger.Has(state.Fingerprint{1}) {
			t.Fatalf("preloaded UIDVALIDITY %d, %d fingerprints; want what was committed", got.UIDValidity, ledger.Len())
		}
		// Only the first Load after the slot is the preloaded one.
		if again := trips.during(func() { _, _, err = l.Load(ctx) }); err != nil || again != 1 {
			t.Fatalf("a second load: %d round trips, %v; want 1", again, err)
		}
	}

	l := claim(t, s, "damaged", time.Hour)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Commit(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	sql(t, db, "UPDATE task_state SET done_uids = 'not a set' WHERE task = 'damaged'")
	if _, err := s.TryAcquireSlot(ctx, "damaged", 1, time.Hour, l); err != nil {
		t.Fatalf("a slot whose run's state is damaged: %v, want it taken", err)
	}
	if _, _, err := l.Load(ctx); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("load of a damaged row after the slot: %v, want it named damaged", err)
	}
	if n := count(t, db, "SELECT count(*) FROM conn_slots WHERE account = 'damaged' AND lease_until > now()"); n != 1 {
		t.Fatalf("%d slots of the account, want the one taken", n)
	}
}

// `mailtask status` reads every task's lease, last node and state in two
// statements whatever the number of tasks (Leases, States), where it took
// two round trips per task; States gives what a load per task gives, but
// the UIDLs and the ledger.
func TestStatusReadsEveryTaskInTwoStatements(t *testing.T) {
	_, trips, s := openCounted(t)
	ctx := testContext(t)
	const tasks = 30
	for i := range tasks {
		task := fmt.Sprintf("t%02d", i)
		l := claim(t, s, task, time.Hour)
		if i%3 == 0 {
			continue // claimed, never run: no state row
		}
		st, _, err := l.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.UIDValidity = uint32(i)
		st.Done.Add(uint32(i))
		st.UIDLs.Add("kept out of the status")
		st.AddFailure(state.Failure{Key: fmt.Sprint("uid:", i), Reason: "unparseable"})
		run := state.Run{Started: time.Unix(int64(1e9+i), 0).UTC(), Outcome: "ok"}
		st.LastRun = &run
		if err := l.CommitRun(ctx, st, run, nil); err != nil {
			t.Fatal(err)
		}
	}
	var (
		leases []LeaseInfo
		states map[string]TaskState
		err    error
	)
	n := trips.statementsDuring(func() {
		if leases, err = s.Leases(ctx); err == nil {
			states, err = s.States(ctx)
		}
	})
	if err != nil || n != 2 {
		t.Fatalf("status read: %d statements, %v; want 2", n, err)
	}
	if len(leases) != tasks || len(states) != tasks-tasks/3 {
		t.Fatalf("%d leases and %d states, want %d and %d", len(leases), len(states), tasks, tasks-tasks/3)
	}
	for _, li := range leases {
		want, err := s.LoadState(ctx, li.Task)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := states[li.Task]
		if ok != (want.LastRun != nil) || li.LastNode != map[bool]string{true: "counted"}[ok] {
			t.Fatalf("%s: in States %v, last node %q; its state ran: %v", li.Task, ok, li.LastNode, want.LastRun != nil)
		}
		if !ok {
			continue
		}
		if got.Err != nil || got.State.UIDValidity != want.UIDValidity || got.State.Done.String() != want.Done.String() ||
			len(got.State.Failed) != 1 || !got.State.LastRun.Started.Equal(want.LastRun.Started) || got.State.UIDLs.Len() != 0 {
			t.Fatalf("%s: States gives %+v (%v), a load %+v", li.Task, got.State, got.Err, want)
		}
	}
}
