//go:build unix

package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// scaleCost measures what the first runs of BenchmarkClusterScale cost:
// the database's transactions and statements, and the CPU time of the
// nodes, of PostgreSQL and of the benchmark's own process, which serves
// the mailboxes (the in-process IMAP host).
type scaleCost struct {
	url, pgDir string
	postmaster int
	lastRun    int64 // the history's newest run when counting began
	nodes      []int
	nodeCPU0   []time.Duration

	xacts0      int64
	statements0 Statements
	pgCPU0      time.Duration
	selfCPU0    time.Duration
}

// startCost takes the counts before the nodes start.
func startCost(b *testing.B, ctx context.Context, url, pgDir string) *scaleCost {
	b.Helper()
	pid, err := PostmasterPID(filepath.Join(pgDir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	c := &scaleCost{url: url, pgDir: pgDir, postmaster: pid}
	if c.xacts0, err = Transactions(ctx, url); err != nil {
		b.Fatal(err)
	}
	c.statements0 = readStatements(b, ctx, url)
	c.pgCPU0 = treeCPU(b, pid)
	c.selfCPU0 = selfCPU(b)
	return c
}

// again starts counting anew, for the same nodes, and from the runs
// recorded so far.
func (c *scaleCost) again(b *testing.B, ctx context.Context) *scaleCost {
	b.Helper()
	next := startCost(b, ctx, c.url, c.pgDir)
	for _, pid := range c.nodes {
		next.addNode(b, pid)
	}
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM runs").Scan(&next.lastRun); err != nil {
		b.Fatal(err)
	}
	return next
}

// runsSince returns how many runs were recorded since again.
func (c *scaleCost) runsSince(b *testing.B, ctx context.Context) int {
	b.Helper()
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM runs WHERE id > $1", c.lastRun).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// addNode counts the CPU of node pid from now on (its start-up, reading
// the configuration of every task, is not the runs').
func (c *scaleCost) addNode(b *testing.B, pid int) {
	b.Helper()
	cpu, err := ProcessCPU(pid, false)
	if err != nil {
		b.Fatal(err)
	}
	c.nodes = append(c.nodes, pid)
	c.nodeCPU0 = append(c.nodeCPU0, cpu)
}

// runsCost is what runs cost, in all.
type runsCost struct {
	xacts                   int64
	statements              Statements
	nodeCPU, pgCPU, selfCPU time.Duration
}

// end takes the counts, after statsSettle.
func (c *scaleCost) end(b *testing.B, ctx context.Context) runsCost {
	b.Helper()
	time.Sleep(statsSettle)
	var r runsCost
	xacts, err := Transactions(ctx, c.url)
	if err != nil {
		b.Fatal(err)
	}
	r.xacts = xacts - c.xacts0
	r.statements = readStatements(b, ctx, c.url).Since(c.statements0)
	for i, pid := range c.nodes {
		cpu, err := ProcessCPU(pid, false)
		if err != nil {
			b.Fatal(err)
		}
		r.nodeCPU += cpu - c.nodeCPU0[i]
	}
	r.pgCPU = treeCPU(b, c.postmaster) - c.pgCPU0
	r.selfCPU = selfCPU(b) - c.selfCPU0
	return r
}

func (r runsCost) xactsPerRun(runs int) float64 { return float64(r.xacts) / float64(runs) }

// report writes the costs per run, under title.
func (r runsCost) report(w io.Writer, title string, runs int) {
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(runs) }
	total := r.statements.Total()
	fmt.Fprintf(w, "\n%s (%d runs): %.2f transactions, %.2f statements (server %.2f ms); CPU ms: nodes %.2f, PostgreSQL %.2f, benchmark process (IMAP host) %.2f\n\n",
		title, runs, r.xactsPerRun(runs), float64(total.Calls)/float64(runs), per(total.Time), per(r.nodeCPU), per(r.pgCPU), per(r.selfCPU))
	fmt.Fprint(w, r.statements.Table(float64(runs), "run", 110))
}

// statsSettle is how long PostgreSQL's backends may keep the counts of
// pg_stat_database to themselves: they report them when idle, at most
// once a second, and within 10 s at the latest (PGSTAT_IDLE_INTERVAL).
const statsSettle = 11 * time.Second

// waitEveryTaskRan waits until every task has a run in the history.
func waitEveryTaskRan(b *testing.B, ctx context.Context, url string, tasks int) {
	b.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var ran int
		if err := conn.QueryRow(ctx, "SELECT count(DISTINCT task) FROM runs").Scan(&ran); err != nil {
			b.Fatal(err)
		}
		if ran >= tasks {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("%d of %d tasks ran: %v", ran, tasks, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func readStatements(b *testing.B, ctx context.Context, url string) Statements {
	b.Helper()
	s, err := ReadStatements(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func treeCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	cpu, err := TreeCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}

func selfCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
