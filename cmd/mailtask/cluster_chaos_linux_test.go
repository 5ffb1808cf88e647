package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/objsink"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/clusterwatch"
	"mailtask/internal/testmail/pgbouncer"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/versitygw"
)

// The cluster chaos test runs three real `mailtask run` processes with
// the same configuration against one PostgreSQL, one S3 server
// (versitygw) and an IMAP host of MAILTASK_CHAOS_MAILBOXES (20; `make
// soak` runs 200) mailboxes, a task per mailbox every few seconds that
// moves what it took to Processed and writes to s3://. New mail arrives
// throughout. For MAILTASK_CHAOS_SECONDS (20; `make soak`: 90), and until
// every kind of fault has struck, faults strike at random, from a seeded
// schedule (MAILTASK_CHAOS_SEED repeats one; the seed is logged): a node
// killed with SIGKILL and restarted (once with its local directories
// wiped), a node stopped with SIGSTOP until its leases have run out and
// then continued (once inside a commit, so that its late commit meets the
// fence), a node's database connections terminated, PostgreSQL
// restarted, IMAP connections cut in the middle of a message, the S3
// server killed with SIGKILL, whatever it was writing, and started again
// on the same address and data once a node has been refused a connection
// to it, and the S3 server restarted with SIGTERM. Then the
// mail stops, every task runs once more, and SIGTERM ends the nodes. With
// MAILTASK_CHAOS_POOL_MODE set to a PgBouncer pool mode (`make soak`:
// transaction), the nodes reach the database through a PgBouncer in that
// mode, and the faults strike the server connections it holds for them.
//
// It asserts: the objects are exactly those of one clean run per mailbox
// (key and SHA-256; no " (1)"; nothing extra); every message sent is in
// its task's ledger or quarantined, and was moved on the server exactly
// once; no task's state was committed by a node not holding its lease,
// or after the lease ran out (clusterwatch's lease log); the fenced
// commits counter of the nodes is above 0 (the pause inside a commit
// really happened); no mailbox was asked for more connections than its
// max_connections, but by nodes that had been paused; each node exits 0
// on SIGTERM; and, the nodes' state_dir wiped, further runs take nothing.
//
// The "one clean run" is mailtask itself: each mailbox's messages are
// appended in the same order to a mailbox of their own and taken by one
// `mailtask run-task` with the file store. So the reference is the
// product's own naming (templates, sanitising, collision rules), not a
// second implementation of it in the test; the objects' keys below the
// prefix must equal the files' paths below the destination.
//
// The names of cluster mode's metrics, settings and statements the test
// reads are in internal/testmail/clusterwatch/names.go.

const (
	chaosMaxConns = 2 // each account's max_connections, and the IMAP host's cap per mailbox
	chaosMoveTo   = "Processed"
	chaosPrefix   = "chaos" // below the bucket
	// chaosCutChance is the share of whole-message FETCHes whose
	// connection is cut in the middle during the chaos.
	chaosCutChance = 0.05
	// chaosWipeSample is how many tasks run once more after every node's
	// state_dir has been wiped.
	chaosWipeSample = 20
)

// chaosCounters are the counters summed over each node's processes.
var chaosCounters = []string{clusterwatch.MetricFencedCommits, clusterwatch.MetricLeaseLosses}

type chaosPlan struct {
	mailboxes int
	window    time.Duration
	seed      uint64
	// poolMode, if set, puts a PgBouncer in that mode between the nodes
	// and the database.
	poolMode pgbouncer.Mode
}

func chaosSeed(t *testing.T) uint64 {
	t.Helper()
	v := os.Getenv("MAILTASK_CHAOS_SEED")
	if v == "" {
		return uint64(time.Now().UnixNano())
	}
	seed, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("MAILTASK_CHAOS_SEED=%q: want a whole number", v)
	}
	return seed
}

func TestClusterChaos(t *testing.T) {
	t.Parallel() // it mostly waits: for leases to run out, for tasks to come round
	plan := chaosPlan{
		mailboxes: crashKnob(t, "MAILTASK_CHAOS_MAILBOXES", 20),
		window:    time.Duration(crashKnob(t, "MAILTASK_CHAOS_SECONDS", 20)) * time.Second,
		seed:      chaosSeed(t),
		poolMode:  pgbouncer.Mode(os.Getenv("MAILTASK_CHAOS_POOL_MODE")),
	}
	t.Logf("chaos seed %d (MAILTASK_CHAOS_SEED=%d repeats this schedule of faults)", plan.seed, plan.seed)
	start := time.Now()
	c := startChaosCluster(t, plan)
	t.Logf("%d mailboxes and 3 nodes ready after %s", plan.mailboxes, time.Since(start).Round(time.Second))
	c.runChaos(t)
	quiet := time.Now()
	c.quiesce(t)
	t.Logf("quiet, every task run once more and the nodes ended %s after the chaos", time.Since(quiet).Round(time.Second))
	c.check(t)
	t.Logf("checked: %s in all", time.Since(start).Round(time.Second))
}

// chaosCluster is everything the test runs.
type chaosCluster struct {
	plan   chaosPlan
	pg     *postgres.Server
	db     string // the database's URL; the test's own queries use it
	nodeDB string // the URL the nodes use: db's, or a PgBouncer's
	gw     *versitygw.Server
	bucket string
	host   *testmail.IMAPHost
	boxes  []string // mailbox, account and task names alike
	nodes  []*chaosNode
	pids   atomic.Pointer[[]int] // of the nodes' processes now
	pauses pauses
	mail   chaosMail
	faults chaosFaults
}

func startChaosCluster(t *testing.T, plan chaosPlan) *chaosCluster {
	t.Helper()
	c := &chaosCluster{plan: plan}
	c.pg = postgres.Start(t) // its own: it is restarted
	c.db = c.pg.NewDatabase(t)
	c.nodeDB = c.db
	if plan.poolMode != "" {
		c.nodeDB = pgbouncer.Start(t, c.pg, plan.poolMode).Route(c.db)
		t.Logf("the nodes reach the database through PgBouncer in %s mode", plan.poolMode)
	}
	c.gw = versitygw.Start(t)
	c.bucket = c.gw.NewBucket(t)
	c.mail.rng = rand.New(rand.NewPCG(plan.seed, 2))
	c.faults.rng = rand.New(rand.NewPCG(plan.seed, 3))
	c.faults.holds = map[string]*fetchHold{}
	c.pids.Store(&[]int{})

	host, err := testmail.StartIMAPHost(testmail.IMAPHostOptions{
		Folders:         []string{chaosMoveTo},
		MaxConnsPerUser: chaosMaxConns,
		Owner:           c.owner,
		CutFetch:        c.faults.cutFetch,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	c.host = host
	for i := range plan.mailboxes {
		box := fmt.Sprintf("mb-%03d", i)
		c.boxes = append(c.boxes, box)
		if err := host.AddUser(box, "pw-"+box); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := c.mail.send(host, box); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The database's URL and the S3 keys are files beside each node's
	// configuration, not environment variables: the test runs in
	// parallel with others, where t.Setenv is refused.
	text := c.clusterConfig()
	for i := range 3 {
		dir := t.TempDir()
		writeFile(t, dir, "db.url", c.nodeDB)
		c.gw.WriteKeys(t, dir)
		c.nodes = append(c.nodes, &chaosNode{name: fmt.Sprintf("node-%d", i+1), dir: dir, config: writeFile(t, dir, "mailtask.toml", text)})
	}
	if code, out, errOut := run(t, "db", "migrate", "--config", c.nodes[0].config); code != exitOK {
		t.Fatalf("db migrate: exit %d\n%s%s", code, out, errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := clusterwatch.Install(ctx, c.db); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		n.start(t)
	}
	c.notePids()
	return c
}

// clusterConfig is the configuration every node runs: a task per
// mailbox, every 3 s, moving what it took, writing to the bucket.
func (c *chaosCluster) clusterConfig() string {
	host, port, _ := net.SplitHostPort(c.host.Addr)
	var b strings.Builder
	fmt.Fprintf(&b, `state_dir = "state"
state_store_file = "db.url"
%slisten = "127.0.0.1:0"
max_concurrent_tasks = 8
stop_grace = "20s"
%s
`, c.gw.SettingsTOML(), clusterwatch.LeaseTOML)
	for _, box := range c.boxes {
		fmt.Fprintf(&b, `
[accounts.%[1]s]
host = %[2]q
port = %[3]s
tls = "none"
username = %[1]q
password = "pw-%[1]s"
timeout = "10s"
max_connections = %[4]d

[[task]]
name = %[1]q
account = %[1]q
schedule = "@every 3s"
destination = "s3://%[5]s/%[6]s/{task}/{from_domain}/{yyyy}"
after = "move"
move_to = %[7]q
batch_size = 2
`, box, host, port, chaosMaxConns, c.bucket, chaosPrefix, chaosMoveTo)
	}
	return b.String()
}

// notePids remembers the nodes' processes, whom the IMAP host asks
// about.
func (c *chaosCluster) notePids() {
	pids := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		pids[i] = n.pid()
	}
	c.pids.Store(&pids)
}

// owner tells the IMAP host which node holds a connection.
func (c *chaosCluster) owner(client net.Addr) int {
	server, err := net.ResolveTCPAddr("tcp", c.host.Addr)
	if err != nil {
		return 0
	}
	return clusterwatch.SocketOwner(client, server, *c.pids.Load())
}

// chaosMail writes and sends the test's messages and remembers them.
type chaosMail struct {
	mu   sync.Mutex
	rng  *rand.Rand
	n    int
	sent map[string][]sentMessage
	raws map[string][][]byte // as sent, in order, for the clean run
}

// send appends a new message to box's INBOX: one PDF attachment of a
// name no other message has, a few KB of random content.
func (m *chaosMail) send(host *testmail.IMAPHost, box string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	content := make([]byte, 1024+m.rng.IntN(11*1024))
	for i := range content {
		content[i] = byte(m.rng.Uint32())
	}
	name := fmt.Sprintf("%s-%05d.pdf", box, m.n)
	raw := testmail.NewMessage("Invoice "+name, testmail.Attachment{Name: name, ContentType: "application/pdf", Content: content})
	uid, err := host.Append(box, "INBOX", raw)
	if err != nil {
		return err
	}
	if m.sent == nil {
		m.sent, m.raws = map[string][]sentMessage{}, map[string][][]byte{}
	}
	m.sent[box] = append(m.sent[box], sentMessage{uid: uid, sum: sha256.Sum256(raw)})
	m.raws[box] = append(m.raws[box], raw)
	return nil
}

// chaosFaults are the IMAP host's faults: cuts in the middle of a
// message while cutting is on, and a FETCH held on request.
type chaosFaults struct {
	mu      sync.Mutex
	rng     *rand.Rand
	cutting bool
	holds   map[string]*fetchHold // by mailbox: the next whole-message FETCH waits
}

// fetchHold holds one FETCH: arrived is closed when it comes, and it
// goes on when release is closed.
type fetchHold struct{ arrived, release chan struct{} }

func (f *chaosFaults) cutFetch(user string, _ net.Addr) int64 {
	f.mu.Lock()
	hold := f.holds[user]
	delete(f.holds, user)
	var cut int64
	if f.cutting && hold == nil && f.rng.Float64() < chaosCutChance { // a held FETCH is to reach its commit
		cut = 100 + f.rng.Int64N(4000)
	}
	f.mu.Unlock()
	if hold != nil {
		close(hold.arrived)
		<-hold.release
	}
	return cut
}

func (f *chaosFaults) setCutting(on bool) {
	f.mu.Lock()
	f.cutting = on
	f.mu.Unlock()
}

// holdNext holds the next whole-message FETCH of box.
func (f *chaosFaults) holdNext(box string) *fetchHold {
	h := &fetchHold{arrived: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	f.holds[box] = h
	f.mu.Unlock()
	return h
}

// drop gives up a hold, whether or not its FETCH has come.
func (f *chaosFaults) drop(box string, h *fetchHold) {
	f.mu.Lock()
	if f.holds[box] == h {
		delete(f.holds, box)
	}
	f.mu.Unlock()
	close(h.release)
}

// The faults of the schedule.
type chaosEvent int

const (
	killNode chaosEvent = iota
	killNodeAndWipe
	pauseNode
	pauseInsideCommit
	terminateConnections
	restartDatabase
	storeOutage
	restartStore
)

func (e chaosEvent) String() string {
	return [...]string{"kill -9 a node and restart it", "kill -9 a node, wipe its state_dir and restart it",
		"SIGSTOP a node past its leases, then SIGCONT", "SIGSTOP a node inside a commit past its lease, then SIGCONT",
		"terminate a node's database connections", "restart PostgreSQL",
		"kill -9 the object store, leave it refusing connections until a node has met that, and restart it",
		"restart the object store with SIGTERM"}[e]
}

// runChaos strikes every fault at least once, in a seeded order, and more
// at random until the window has passed, while mail arrives.
func (c *chaosCluster) runChaos(t *testing.T) {
	rng := rand.New(rand.NewPCG(c.plan.seed, 1))
	events := []chaosEvent{killNode, killNode, killNodeAndWipe, pauseNode, pauseInsideCommit,
		terminateConnections, terminateConnections, terminateConnections, restartDatabase, storeOutage, restartStore}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	extras := []chaosEvent{killNode, pauseNode, terminateConnections, storeOutage}

	stopMail := c.mailThroughout(t, rng.Uint64())
	c.faults.setCutting(true)
	start := time.Now()
	for len(events) > 0 || time.Since(start) < c.plan.window {
		ev := extras[rng.IntN(len(extras))]
		if len(events) > 0 {
			ev, events = events[0], events[1:]
		}
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond) // pacing, not waiting for anything
		n := c.nodes[rng.IntN(len(c.nodes))]
		on := " (" + n.name + ")"
		if ev == pauseInsideCommit || ev == restartDatabase || ev == storeOutage || ev == restartStore { // no node of the test's choosing
			on = ""
		}
		t.Logf("chaos %5.1fs: %s%s", time.Since(start).Seconds(), ev, on)
		c.strike(t, ev, n, rng)
	}
	c.faults.setCutting(false)
	stopMail()
	t.Logf("chaos over after %s: %d IMAP connections cut mid-message, %d logins refused for the connection cap",
		time.Since(start).Round(time.Second), c.host.Cuts(), len(c.host.Refusals()))
}

func (c *chaosCluster) strike(t *testing.T, ev chaosEvent, n *chaosNode, rng *rand.Rand) {
	t.Helper()
	switch ev {
	case killNode, killNodeAndWipe:
		n.kill9(t, chaosCounters...)
		if ev == killNodeAndWipe {
			n.wipe(t)
		}
		n.start(t)
		c.notePids()
	case pauseNode:
		c.pauses.stop(t, n)
		c.waitLeasesRunOut(t, n)
		c.pauses.resume(t, n)
	case pauseInsideCommit:
		c.pauseInsideCommit(t, rng)
	case terminateConnections:
		k := c.pg.TerminateConnections(t, postgres.DatabaseOf(c.db), clusterwatch.NodeApp(n.pid()))
		t.Logf("  %d connections of %s terminated", k, n.name)
	case restartDatabase:
		c.pg.Restart(t)
	case storeOutage:
		c.storeOutage(t)
	case restartStore:
		start := time.Now()
		c.gw.Terminate(10 * time.Second)
		stopped := time.Since(start)
		c.gw.Relaunch(t)
		t.Logf("  the store took %s to stop, and served again %s after SIGTERM", stopped.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	}
}

// storeOutage kills the object store with SIGKILL, whatever it was
// writing, and starts it again once a node has been refused a
// connection to it (as its log says), so that the outage is one the
// cluster met, not one it slept through.
func (c *chaosCluster) storeOutage(t *testing.T) {
	t.Helper()
	before := c.storeRefusals()
	c.gw.Stop()
	down := time.Now()
	waitFor(t, within, said("no node tried the object store while it was down"), func() bool { return c.storeRefusals() > before })
	c.gw.Relaunch(t)
	t.Logf("  the store was down %s", time.Since(down).Round(100*time.Millisecond))
}

// storeRefusals counts the lines of the nodes' logs that say a
// connection to the object store was refused.
func (c *chaosCluster) storeRefusals() int {
	addr := strings.TrimPrefix(c.gw.Endpoint, "http://")
	n := 0
	for _, node := range c.nodes {
		n += node.proc.count(addr, "connection refused")
	}
	return n
}

// mailThroughout sends a message to a random mailbox every 100 ms until
// the function it returns is called.
func (c *chaosCluster) mailThroughout(t *testing.T, seed uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Value
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(seed, 4))
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if err := c.mail.send(c.host, c.boxes[rng.IntN(len(c.boxes))]); err != nil {
				failed.Store(err)
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		if err, ok := failed.Load().(error); ok {
			t.Fatalf("sending mail: %v", err)
		}
	}
}

// query runs a query on a connection of its own (the database may have
// been restarted since the last) and scans its one row into dest.
func (c *chaosCluster) query(t *testing.T, sql string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// waitFor polls cond, which asks the database or the IMAP host, until it
// holds; after limit it fails t with what failure says.
func waitFor(t *testing.T, limit time.Duration, failure func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, failure())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func said(what string) func() string { return func() string { return what } }

// waitLeasesRunOut waits until no lease of n's process is live, by the
// database's clock.
func (c *chaosCluster) waitLeasesRunOut(t *testing.T, n *chaosNode) {
	t.Helper()
	holder := clusterwatch.NodeName(n.pid())
	waitFor(t, 3*time.Minute, said("the leases of a paused node never ran out"), func() bool {
		var live int
		c.query(t, "SELECT count(*) FROM tasks WHERE holder = $1 AND lease_until > clock_timestamp()", []any{holder}, &live)
		return live == 0
	})
}

// pauseInsideCommit stops a node while its commit waits at the fence,
// keeps it stopped until its lease has run out, and continues it: its
// commit must be refused. The
// node is caught there by holding its FETCH of new mail at the IMAP host
// while the test locks the task's lease row, then letting it go on: its
// commit then waits on that lock, where pg_stat_activity shows it.
func (c *chaosCluster) pauseInsideCommit(t *testing.T, rng *rand.Rand) {
	t.Helper()
	const attempts = 5
	for attempt := 1; attempt <= attempts; attempt++ {
		box := c.boxes[rng.IntN(len(c.boxes))]
		if c.tryPauseInsideCommit(t, box) {
			return
		}
		t.Logf("  attempt %d on %s found no commit to catch; again", attempt, box)
	}
	t.Errorf("no node was caught inside a commit in %d attempts", attempts)
}

func (c *chaosCluster) tryPauseInsideCommit(t *testing.T, box string) bool {
	t.Helper()
	hold := c.faults.holdNext(box)
	for range 6 { // three batches to commit
		if err := c.mail.send(c.host, box); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-hold.arrived:
	case <-time.After(within):
		c.faults.drop(box, hold)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*within)
	defer cancel()
	locker, err := pgx.Connect(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var epoch int64
	if err := tx.QueryRow(ctx, "SELECT epoch FROM tasks WHERE task = $1 FOR UPDATE", box).Scan(&epoch); err != nil {
		t.Fatal(err)
	}
	c.faults.drop(box, hold) // the FETCH goes on; the commit after it waits for the lock

	var app string
	deadline := time.Now().Add(20 * time.Second)
	for app == "" {
		if time.Now().After(deadline) {
			return false
		}
		if app, err = clusterwatch.WaitingAtFence(ctx, locker); err != nil {
			t.Fatal(err)
		}
		if app == "" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	n := c.nodeOfApp(app)
	if n == nil {
		t.Fatalf("a commit waits at the fence for %q, which is no node's: %v", app, *c.pids.Load())
	}
	fenced := n.scrape(t).Sum(clusterwatch.MetricFencedCommits)
	c.pauses.stop(t, n)
	t.Logf("  %s stopped inside a commit of %s (epoch %d)", n.name, box, epoch)
	for expired := false; !expired; {
		if err := tx.QueryRow(ctx, "SELECT lease_until <= clock_timestamp() FROM tasks WHERE task = $1", box).Scan(&expired); err != nil {
			t.Fatal(err)
		}
		if !expired {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The stopped node's fence runs now, takes the row and refuses: the
	// lease has run out by the database's clock. It holds the row until it
	// resumes and rolls back (or the server ends its transaction, idle
	// too long), so no other node can claim the task before that.
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("  %s continued after its lease on %s had run out", n.name, box)
	c.pauses.resume(t, n)
	// The node counts the refusal when it has read it, some time after it
	// continues: the next event, a kill, must not end it before then.
	waitFor(t, 2*within, said(n.name+" never counted the refusal of its commit"), func() bool {
		return n.scrape(t).Sum(clusterwatch.MetricFencedCommits) > fenced
	})
	return true
}

func (c *chaosCluster) nodeOfApp(app string) *chaosNode {
	for _, n := range c.nodes {
		if clusterwatch.NodeApp(n.pid()) == app {
			return n
		}
	}
	return nil
}

// quiesce waits, once the mail has stopped, until every mailbox is empty
// and no after-action is pending, then until every task has run once
// more, and ends the nodes with SIGTERM.
func (c *chaosCluster) quiesce(t *testing.T) {
	t.Helper()
	waitFor(t, 3*time.Minute, c.leftovers, func() bool {
		for _, box := range c.boxes {
			if n, err := c.host.Count(box, "INBOX"); err != nil || n > 0 {
				return false
			}
		}
		var pending int
		c.query(t, "SELECT count(*) FROM task_state WHERE pending_uids <> '' OR pending_failed_uids <> ''", nil, &pending)
		return pending == 0
	})
	var since time.Time
	c.query(t, "SELECT now()", nil, &since)
	waitFor(t, 3*time.Minute, said("not every task ran once more"), func() bool {
		var ran int
		c.query(t, clusterwatch.TasksRanSince, []any{since}, &ran)
		return ran == len(c.boxes)
	})
	for _, n := range c.nodes {
		n.terminate(t, chaosCounters...)
	}
}

// leftovers describes the mailboxes still holding mail, for a failure.
func (c *chaosCluster) leftovers() string {
	var boxes []string
	for _, box := range c.boxes {
		if n, _ := c.host.Count(box, "INBOX"); n > 0 {
			boxes = append(boxes, fmt.Sprintf("%s (%d)", box, n))
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "mail still waits in some INBOX, or after-actions are pending; mailboxes with mail: %v", boxes)
	for _, n := range c.nodes {
		fmt.Fprintf(&out, "\n%s:\n%s", n.name, lastLines(n.proc.output(), 20))
	}
	return out.String()
}

// check makes the assertions of the test.
func (c *chaosCluster) check(t *testing.T) {
	t.Helper()
	c.mail.mu.Lock() // the mail has stopped; this is for the race detector
	sent, raws := c.mail.sent, c.mail.raws
	c.mail.mu.Unlock()
	total := 0
	for _, ms := range sent {
		total += len(ms)
	}
	t.Logf("%d messages sent to %d mailboxes", total, len(sent))

	want := c.cleanRun(t, raws)
	report(t, "objects against a clean run", objectProblems(c.objects(t), want))

	ledger, quarantined := c.ledger(t)
	report(t, "ledger", ledgerProblems(sent, ledger, quarantined))
	inbox, moved := c.serverContents(t)
	report(t, "server", moveProblems(sent, inbox, moved))

	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	entries, err := clusterwatch.Read(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	report(t, "fencing", clusterwatch.Overlaps(entries))

	var fenced, lost float64
	for _, n := range c.nodes {
		fenced += n.counted[clusterwatch.MetricFencedCommits]
		lost += n.counted[clusterwatch.MetricLeaseLosses]
	}
	t.Logf("the nodes counted %v fenced commits and %v lease losses", fenced, lost)
	if fenced == 0 {
		t.Errorf("%s is 0: no paused node's commit met the fence", clusterwatch.MetricFencedCommits)
	}
	refusals := c.host.Refusals()
	if violations := capViolations(refusals, chaosMaxConns, c.pauses.all()); len(violations) > 0 {
		report(t, "connection cap", violations)
		// What the nodes did with the mailbox before each refusal (two of
		// clusterwatch's 6 s leases): which node held the connections, and
		// whether it knew its slot lost.
		for _, r := range refusals {
			for _, n := range c.nodes {
				for _, l := range n.logAbout(r.User, r.At.Add(-12*time.Second), r.At.Add(time.Second), 30) {
					t.Logf("  %s %s: %s", r.User, n.name, l)
				}
			}
		}
	}

	c.checkWipedNodesLoseNothing(t, want)
}

// report fails t with the first problems found.
func report(t *testing.T, what string, problems []string) {
	t.Helper()
	for i, p := range problems {
		if i == 20 {
			t.Errorf("%s: and %d more", what, len(problems)-i)
			break
		}
		t.Errorf("%s: %s", what, p)
	}
}

// cleanRun takes each mailbox's messages once, with `mailtask run-task`
// on the file store, from a mailbox of their own that they were appended
// to in the same order, and returns the files it wrote as path (below
// the destination) -> SHA-256.
func (c *chaosCluster) cleanRun(t *testing.T, raws map[string][][]byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(c.host.Addr)
	var cfg strings.Builder
	cfg.WriteString("state_dir = \"state\"\n")
	for _, box := range c.boxes {
		ref := "clean-" + box
		if err := c.host.AddUser(ref, "pw-"+ref); err != nil {
			t.Fatal(err)
		}
		for _, raw := range raws[box] {
			if _, err := c.host.Append(ref, "INBOX", raw); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&cfg, "[accounts.%[1]s]\nhost = %[2]q\nport = %[3]s\ntls = \"none\"\nusername = %[4]q\npassword = \"pw-%[4]s\"\n"+
			"[[task]]\nname = %[1]q\naccount = %[1]q\ndestination = \"out/{task}/{from_domain}/{yyyy}\"\n",
			box, host, port, ref)
	}
	path := writeFile(t, dir, "clean.toml", cfg.String())
	for _, box := range c.boxes {
		want := fmt.Sprintf("%s: %d new", box, len(raws[box]))
		if code, out, errOut := run(t, "run-task", "--config", path, box); code != exitOK || !strings.Contains(out, want) {
			t.Fatalf("clean run of %s: exit %d\n%s%s", box, code, out, errOut)
		}
	}
	return treeFiles(t, filepath.Join(dir, "out"), true)
}

// objects returns the bucket's objects below the prefix as key (without
// the prefix) -> SHA-256, but for the object of the store's create-only
// probe.
func (c *chaosCluster) objects(t *testing.T) map[string]string {
	t.Helper()
	out := bucketSums(t, c.gw, c.bucket, chaosPrefix+"/")
	for key := range out {
		if strings.HasSuffix(key, objsink.ProbeName) {
			delete(out, key)
		}
	}
	return out
}

// ledger reads every task's ledger and the UIDs of its quarantined
// messages.
func (c *chaosCluster) ledger(t *testing.T) (map[string]map[state.Fingerprint]bool, map[string]map[uint32]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ledger := map[string]map[state.Fingerprint]bool{}
	rows, err := conn.Query(ctx, "SELECT task, fp FROM ledger")
	if err != nil {
		t.Fatal(err)
	}
	var (
		task string
		fp   int64 // the fingerprint's 8 bytes, big-endian, as pgstore keeps them
	)
	_, err = pgx.ForEachRow(rows, []any{&task, &fp}, func() error {
		if ledger[task] == nil {
			ledger[task] = map[state.Fingerprint]bool{}
		}
		var f state.Fingerprint
		binary.BigEndian.PutUint64(f[:], uint64(fp))
		ledger[task][f] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	quarantined := map[string]map[uint32]bool{}
	rows, err = conn.Query(ctx, "SELECT task, f->>'key' FROM task_state, jsonb_array_elements(failed) f")
	if err != nil {
		t.Fatal(err)
	}
	var key string
	_, err = pgx.ForEachRow(rows, []any{&task, &key}, func() error {
		uid, err := strconv.ParseUint(strings.TrimPrefix(key, "uid:"), 10, 32)
		if err != nil {
			return fmt.Errorf("task %s quarantined %q, not a UID", task, key)
		}
		if quarantined[task] == nil {
			quarantined[task] = map[uint32]bool{}
		}
		quarantined[task][uint32(uid)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ledger, quarantined
}

// serverContents returns the SHA-256 of every message in each mailbox's
// INBOX and move folder.
func (c *chaosCluster) serverContents(t *testing.T) (inbox, moved map[string][][32]byte) {
	t.Helper()
	inbox, moved = map[string][][32]byte{}, map[string][][32]byte{}
	for _, box := range c.boxes {
		for folder, into := range map[string]map[string][][32]byte{"INBOX": inbox, chaosMoveTo: moved} {
			msgs, err := c.host.Messages(box, folder)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				into[box] = append(into[box], sha256.Sum256(m.Raw))
			}
		}
	}
	return inbox, moved
}

// checkWipedNodesLoseNothing wipes every node's state_dir and runs a
// sample of the tasks once more from a node's configuration: they take
// nothing new, and the objects stay those of the clean run.
func (c *chaosCluster) checkWipedNodesLoseNothing(t *testing.T, want map[string]string) {
	t.Helper()
	for _, n := range c.nodes {
		n.wipe(t)
	}
	waitFor(t, 3*time.Minute, said("a lease of a terminated node is still live"), func() bool {
		var live int
		c.query(t, "SELECT count(*) FROM tasks WHERE lease_until > clock_timestamp()", nil, &live)
		return live == 0
	})
	sample := slices.Clone(c.boxes)
	rand.New(rand.NewPCG(c.plan.seed, 5)).Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	for _, box := range sample[:min(chaosWipeSample, len(sample))] {
		code, out, errOut := run(t, "run-task", "--config", c.nodes[0].config, box)
		if code != exitOK || !strings.Contains(out, box+": 0 new") {
			t.Errorf("%s after the state_dirs were wiped: exit %d\n%s%s", box, code, out, errOut)
		}
	}
	report(t, "objects after the state_dirs were wiped", objectProblems(c.objects(t), want))
}
