//go:build unix

package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/metrics"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/postgres"
	"mailtask/tasks/popimap"
)

// clusterConfig is a configuration of cluster mode on a fresh database:
// top-level lines, then tasks.
func clusterConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	return parse(t, t.TempDir(), clusterDB(t)+text)
}

// clusterDB makes a fresh database and returns the top-level line of a
// configuration that keeps its state there.
func clusterDB(t *testing.T) string {
	t.Helper()
	url := postgres.Shared(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAILTASK_SCHEDULER_TEST_DB", url)
	return "state_store_env = \"MAILTASK_SCHEDULER_TEST_DB\"\n"
}

// adminExec runs statement on the database clusterDB made, as an
// administrator would.
func adminExec(t *testing.T, statement string) {
	t.Helper()
	asAdmin(t, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, statement)
		return err
	})
}

// asAdmin runs fn on a connection of its own to the database clusterDB
// made, failing t on its error.
func asAdmin(t *testing.T, fn func(context.Context, *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv("MAILTASK_SCHEDULER_TEST_DB"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := fn(ctx, conn); err != nil {
		t.Fatal(err)
	}
}

// node is a Scheduler of one node of a cluster, on the real clock: the
// database's decides who holds what.
type node struct {
	*Scheduler
	logs    *logs
	metrics *metrics.Metrics
	stop    chan struct{}
	done    chan struct{}
}

func startNode(t *testing.T, cfg *config.Config, name string, l *logs, run popimap.RunFunc) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	octx, ocancel := context.WithTimeout(ctx, time.Minute)
	defer ocancel()
	cn, err := cluster.Open(octx, cfg, cluster.Options{Name: name, Announce: true}) // a node, as `mailtask run` opens it
	if err != nil {
		t.Fatal(err)
	}
	n := &node{logs: l, metrics: metrics.New(), stop: make(chan struct{}), done: make(chan struct{})}
	n.metrics.TrackCluster()
	s, err := New(cfg, Options{Run: run, Log: slog.New(n.logs), Metrics: n.metrics, Stop: n.stop, Node: cn})
	if err != nil {
		t.Fatal(err)
	}
	n.Scheduler = s
	go func() {
		if err := s.Run(ctx); err != nil {
			t.Errorf("node %s: %v", name, err)
		}
		close(n.done)
	}()
	t.Cleanup(func() {
		select {
		case <-n.stop:
		default:
			close(n.stop)
		}
		select {
		case <-n.done:
		case <-time.After(within):
			t.Errorf("node %s did not stop", name)
		}
		cancel()
		cn.Close()
	})
	return n
}

// polls is how many times the node has asked the database for due tasks.
func (n *node) polls(t *testing.T) uint64 {
	t.Helper()
	families, err := n.metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "mailtask_claim_duration_seconds" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no claim metric")
	return 0
}

// waitPolls waits until the nodes have polled n more times between them
// (a node running every task it knows of has none to ask for).
func waitPolls(t *testing.T, n int, nodes ...*node) {
	t.Helper()
	total := func() uint64 {
		var sum uint64
		for _, nd := range nodes {
			sum += nd.polls(t)
		}
		return sum
	}
	from := total()
	for deadline := time.Now().Add(within); total() < from+uint64(n); {
		if time.Now().After(deadline) {
			t.Fatalf("the nodes polled %d times, want %d more", total()-from, n)
		}
		// The nodes poll every second: nothing to wait on but time.
		time.Sleep(50 * time.Millisecond)
	}
}

// tally is what the runs of every node did, per task: how many went on at
// once, at most, and how many there were.
type tally struct {
	mu      sync.Mutex
	active  map[string]int
	most    map[string]int
	runs    map[string]int
	started chan string
	release chan struct{} // closed to let every run waiting end
}

func newTally() *tally {
	return &tally{active: map[string]int{}, most: map[string]int{}, runs: map[string]int{}, started: make(chan string, 100), release: make(chan struct{})}
}

// run is a node's run: it commits the task's state under the lease (so
// that a run without its lease fails), then waits to be released.
func (ta *tally) run(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
	name := opts.Task.Name
	sum := popimap.Summary{Task: name}
	if opts.Held == nil {
		return sum, fmt.Errorf("run of %s without a lease", name)
	}
	// The run's own connection, and one more if the account has one
	// free across the cluster.
	conns := 1
	if release, ok := opts.MoreConnections(); ok {
		conns++
		defer release()
	}
	account := opts.Task.Account + "@"
	ta.mu.Lock()
	ta.active[name]++
	ta.active[account] += conns
	for _, k := range []string{name, account} {
		ta.most[k] = max(ta.most[k], ta.active[k])
	}
	ta.runs[name]++
	release := ta.release
	ta.mu.Unlock()
	defer func() {
		ta.mu.Lock()
		ta.active[name]--
		ta.active[account] -= conns
		ta.mu.Unlock()
	}()
	ta.started <- name
	st, _, err := opts.Held.Load(ctx)
	if err != nil {
		return sum, err
	}
	select {
	case <-release:
	case <-ctx.Done():
		return sum, ctx.Err()
	}
	return sum, opts.Held.Commit(ctx, st, nil)
}

// next lets the runs waiting end, and the next ones wait.
func (ta *tally) next() {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	close(ta.release)
	ta.release = make(chan struct{})
}

// stop lets every run end at once from now on, for the nodes to stop.
func (ta *tally) stop() {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	close(ta.release)
}

func (ta *tally) waitStarted(t *testing.T, n int) []string {
	t.Helper()
	var names []string
	for range n {
		select {
		case name := <-ta.started:
			names = append(names, name)
		case <-time.After(within):
			t.Fatalf("%d runs started, want %d", len(names), n)
		}
	}
	return names
}

func (ta *tally) noneStarted(t *testing.T) {
	t.Helper()
	select {
	case name := <-ta.started:
		t.Fatalf("a second run of %s started while every task was running", name)
	default:
	}
}

func TestTwoNodesNeverRunATaskAtOnce(t *testing.T) {
	const tasks, rounds = 6, 3
	var text strings.Builder
	text.WriteString("max_concurrent_tasks = 8\n")
	for i := range tasks {
		text.WriteString(task(fmt.Sprintf("t%d", i), []string{"a", "b"}[i%2], "@every 1s"))
	}
	cfg := clusterConfig(t, text.String())
	for _, acct := range cfg.Accounts {
		acct.MaxConnections = 2 * tasks // connections are not what this test is about
	}
	ta := newTally()
	l := newLogs()
	a, b := startNode(t, cfg, "node-a", l, ta.run), startNode(t, cfg, "node-b", l, ta.run)
	t.Cleanup(ta.stop)
	for round := range rounds {
		// Every task is claimed, by one node or the other; while they
		// all run, both nodes go on polling with slots free, and claim
		// none of them again.
		started := ta.waitStarted(t, tasks)
		waitPolls(t, 2, a, b)
		ta.noneStarted(t)
		seen := map[string]bool{}
		for _, name := range started {
			if seen[name] {
				t.Fatalf("round %d: task %s ran twice: %v", round, name, started)
			}
			seen[name] = true
		}
		ta.next()
	}
	ta.mu.Lock()
	defer ta.mu.Unlock()
	for i := range tasks {
		name := fmt.Sprintf("t%d", i)
		if ta.most[name] != 1 || ta.runs[name] < rounds {
			t.Errorf("task %s: %d runs, at most %d at once; want %d, one at a time", name, ta.runs[name], ta.most[name], rounds)
		}
	}
}

func TestMaxConnectionsHoldAcrossNodes(t *testing.T) {
	cfg := clusterConfig(t, "max_concurrent_tasks = 4\n"+
		task("one", "a", "@every 1s", "connections = 2")+task("two", "a", "@every 1s", "connections = 2"))
	cfg.Accounts["a"].MaxConnections = 1
	ta := newTally()
	l := newLogs()
	startNode(t, cfg, "node-a", l, ta.run)
	startNode(t, cfg, "node-b", l, ta.run)
	t.Cleanup(ta.stop)
	first := ta.waitStarted(t, 1)[0]
	// The other task is claimed too, by one node or the other, and its
	// run waits for the account's one connection, which the first holds
	// across the cluster.
	other := map[string]string{"one": "two", "two": "one"}[first]
	l.waitFor(t, "run waits for a free slot", "task="+other, "across the cluster")
	ta.noneStarted(t)
	ta.next()
	if second := ta.waitStarted(t, 1)[0]; second != other {
		t.Fatalf("%s ran after %s, want %s", second, first, other)
	}
	ta.next()
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if n := ta.most["a@"]; n != 1 {
		t.Errorf("%d connections to account a at once across the nodes, want at most its max_connections 1", n)
	}
}

func TestAnIdleTaskIsWatchedByOneNode(t *testing.T) {
	m := newMailbox(t)
	cfg := mailConfig(t, t.TempDir(), m.srv.Addr, clusterDB(t)+`lease = "3s"`, "max_connections = 4", idleTask("push"))
	l := newLogs()
	startNode(t, cfg, "node-a", l, popimap.Run)
	startNode(t, cfg, "node-b", l, popimap.Run)
	l.waitFor(t, "watching the idle task on this node", "task=push")
	l.waitFor(t, "idling: waiting for new mail", "task=push")
	// The other node tries, and finds the task held.
	l.waitFor(t, "another node watches the idle task", "task=push")

	name := m.deliver(t)
	l.waitFor(t, "INFO run", "task=push", "outcome=ok", "seen=1", "saved=1")
	if _, err := os.Stat(filepath.Join(cfg.Task("push").Destination, name)); err != nil {
		t.Errorf("the new mail's file: %v", err)
	}
	if n := l.count("watching the idle task on this node"); n != 1 {
		t.Errorf("%d nodes watch the idle task, want one:\n%s", n, l)
	}
	if n := l.count("INFO idling: waiting for new mail", "task=push"); n != 1 {
		t.Errorf("%d IDLE connections went idle, want one:\n%s", n, l)
	}
}

// A node that claims a task its configuration does not have (another
// node's configuration has it, or had it) gives it back due as it was,
// and passes it over from then on: it does not claim it again on every
// poll, and other nodes still can.
func TestANodePassesOverTasksNotInItsConfiguration(t *testing.T) {
	cfg := clusterConfig(t, task("mine", "a", "@every 1h"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	other, err := pgstore.Open(ctx, pgstore.Options{URL: os.Getenv("MAILTASK_SCHEDULER_TEST_DB"), Node: "other"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.AddTasks(ctx, []string{"theirs"}); err != nil {
		t.Fatal(err)
	}
	ran := make(chan string, 10)
	n := startNode(t, cfg, "node-a", newLogs(), func(_ context.Context, opts popimap.Options) (popimap.Summary, error) {
		ran <- opts.Task.Name
		return popimap.Summary{Task: opts.Task.Name}, nil
	})
	if name := <-ran; name != "mine" {
		t.Fatalf("ran %s, want mine", name)
	}
	waitPolls(t, 3, n)
	leases, err := other.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		if l.Task == "theirs" && (l.Epoch != 1 || l.Holder != "") {
			t.Fatalf("theirs: claimed %d times, held by %q; want claimed once by node-a and given back", l.Epoch, l.Holder)
		}
	}
	got, _, err := other.Claim(ctx, 10, time.Minute)
	if err != nil || len(got) != 1 || got[0].Task != "theirs" {
		t.Fatalf("the other node claimed %d tasks (err %v), want theirs, due as it was", len(got), err)
	}
}

// A node that starts while the database fails it (it restarts, the
// node's connections are cut: here, its tasks table is away) keeps trying
// to register its tasks rather than exit, and runs them once it can.
func TestANodeRegistersItsTasksOnceTheDatabaseLetsIt(t *testing.T) {
	cfg := clusterConfig(t, task("t", "a", "@every 1h"))
	adminExec(t, "ALTER TABLE tasks RENAME TO tasks_away")
	ran := make(chan string, 10)
	l := newLogs()
	startNode(t, cfg, "node-a", l, func(_ context.Context, opts popimap.Options) (popimap.Summary, error) {
		ran <- opts.Task.Name
		return popimap.Summary{Task: opts.Task.Name}, nil
	})
	l.waitFor(t, "could not register the configuration's tasks in the database; trying again")
	adminExec(t, "ALTER TABLE tasks_away RENAME TO tasks")
	select {
	case name := <-ran:
		if name != "t" {
			t.Fatalf("ran %s, want t", name)
		}
	case <-time.After(within):
		t.Fatal("the task never ran once the database let the node register it")
	}
}

// A task added by a reload while the node registers its tasks at start
// (a SIGHUP as the daemon starts, or while the database does not let it
// register: here its tasks table is away) is registered too, and runs:
// Reload registers only once Run has started, and Run registered the
// names it had read before the reload.
func TestATaskAddedWhileTheNodeRegistersItsTasksRuns(t *testing.T) {
	top := clusterDB(t)
	dir := t.TempDir()
	adminExec(t, "ALTER TABLE tasks RENAME TO tasks_away")
	ran := make(chan string, 10)
	l := newLogs()
	n := startNode(t, parse(t, dir, top+task("t", "a", "@every 1h")), "node-a", l, func(_ context.Context, opts popimap.Options) (popimap.Summary, error) {
		ran <- opts.Task.Name
		return popimap.Summary{Task: opts.Task.Name}, nil
	})
	l.waitFor(t, "could not register the configuration's tasks in the database; trying again")
	if err := n.Reload(parse(t, dir, top+task("t", "a", "@every 1h")+task("added", "b", "@every 1h"))); err != nil {
		t.Fatal(err)
	}
	adminExec(t, "ALTER TABLE tasks_away RENAME TO tasks")
	seen := map[string]bool{}
	for !seen["t"] || !seen["added"] {
		select {
		case name := <-ran:
			seen[name] = true
		case <-time.After(within):
			t.Fatalf("ran %v; the task added while the node registered its tasks never ran", seen)
		}
	}
}

// A run's record gives back the task's lease, due next by the schedule,
// and the run's own connection slot, in the commit that records the run:
// by the time Record returns, the lease row has no holder and the slot is
// gone, where they used to go back after the run in two more round trips.
func TestARunsRecordGivesBackItsLeaseAndSlot(t *testing.T) {
	cfg := clusterConfig(t, task("t", "a", "@every 1h"))
	db := os.Getenv("MAILTASK_SCHEDULER_TEST_DB")
	type seen struct {
		holders, slots int
		due            time.Time
		err            error
	}
	after := make(chan seen, 1)
	run := func(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
		st, _, err := opts.Held.Load(ctx)
		if err == nil {
			st.LastRun = &state.Run{Started: time.Now(), Outcome: "ok"}
			err = opts.Held.Record(ctx, st, false)
		}
		var s seen
		if err == nil {
			// The run's context ends with the lease's renewals, which
			// stop before the lease goes back.
			ctx, cancel := context.WithTimeout(context.Background(), within)
			defer cancel()
			conn, cerr := pgx.Connect(ctx, db)
			if cerr != nil {
				after <- seen{err: cerr}
				return popimap.Summary{}, cerr
			}
			defer conn.Close(context.Background())
			err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM tasks WHERE holder IS NOT NULL),
				(SELECT count(*) FROM conn_slots WHERE lease_until > now()), (SELECT next_due FROM tasks WHERE task = 't')`).Scan(&s.holders, &s.slots, &s.due)
		}
		s.err = err
		after <- s
		return popimap.Summary{Task: "t"}, err
	}
	startNode(t, cfg, "node", newLogs(), run)
	select {
	case s := <-after:
		if s.err != nil {
			t.Fatal(s.err)
		}
		if s.holders != 0 || s.slots != 0 {
			t.Fatalf("after the run's record: %d leases held, %d connection slots; want both given back", s.holders, s.slots)
		}
		if until := time.Until(s.due); until < 50*time.Minute {
			t.Fatalf("the task is due next in %s, want the schedule's hour", until)
		}
	case <-time.After(within):
		t.Fatal("the task did not run")
	}
}

// A claimed run's state comes with its connection slot, read in the
// round trip that takes the slot: the run's Load asks the database
// nothing, so a change made behind the lease's back after the slot was
// taken (which no node could make, holding no lease) is not what it
// returns.
func TestARunsStateComesWithItsSlot(t *testing.T) {
	cfg := clusterConfig(t, task("t", "a", "@every 1h"))
	db := os.Getenv("MAILTASK_SCHEDULER_TEST_DB")
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	type seen struct {
		uidValidity uint32
		err         error
	}
	after := make(chan seen, 1)
	run := func(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
		_, err := conn.Exec(context.Background(), "INSERT INTO task_state (task, uid_validity) VALUES ('t', 99)")
		if err == nil {
			var st *state.State
			if st, _, err = opts.Held.Load(ctx); err == nil {
				after <- seen{uidValidity: st.UIDValidity}
				return popimap.Summary{Task: "t"}, nil
			}
		}
		after <- seen{err: err}
		return popimap.Summary{Task: "t"}, err
	}
	startNode(t, cfg, "node", newLogs(), run)
	select {
	case s := <-after:
		if s.err != nil {
			t.Fatal(s.err)
		}
		if s.uidValidity != 0 {
			t.Fatalf("the run loaded UIDVALIDITY %d, written after its slot was taken; want the state read with the slot", s.uidValidity)
		}
	case <-time.After(within):
		t.Fatal("the task did not run")
	}
}

// A node of cluster mode keeps no goroutine per task: its tasks are
// claimed when due. At 10,000 tasks, a goroutine each waiting for nothing
// held tens of MB of stacks. 40 tasks show it as well as 200 do (a
// goroutine each is 40 more, against a node's 3 at rest) in 14 s instead
// of 38: the node claims a few tasks a second. make soak runs 200.
func TestANodeKeepsNoGoroutinePerTask(t *testing.T) {
	tasks := testmail.Sample(40, 200)
	var b strings.Builder
	for i := range tasks {
		b.WriteString(task(fmt.Sprintf("t%03d", i), "a", "@every 1h"))
	}
	cfg := clusterConfig(t, b.String())
	before := runtime.NumGoroutine()
	var ran atomic.Int64
	n := startNode(t, cfg, "node-a", newLogs(), func(_ context.Context, opts popimap.Options) (popimap.Summary, error) {
		ran.Add(1)
		return popimap.Summary{Task: opts.Task.Name}, nil
	})
	deadline := time.Now().Add(time.Minute)
	for {
		waitPolls(t, 1, n)
		extra := runtime.NumGoroutine() - before
		if ran.Load() == int64(tasks) && extra < tasks/4 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines more than before the node started, after %d of %d tasks ran; want fewer than %d", extra, ran.Load(), tasks, tasks/4)
		}
	}
}
