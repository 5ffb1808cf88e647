//go:build unix

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pgstore"
	"mailtask/internal/testmail/clusterwatch"
	"mailtask/internal/testmail/postgres"
)

// BenchmarkClaims measures cluster mode's claims on PostgreSQL alone:
// pgstore's Claim and Release as BENCH_CLUSTER_NODES (3) nodes would make
// them, each with a connection pool of its own, for BENCH_CLUSTER_TASKS
// (10,000) tasks, without mailtask's runs (see BenchmarkClusterScale for
// those). A claimed task is released at once with its next due time five
// minutes on, as after a run that found nothing.
//
//   - Backlog: every task due at once; claims per second until each has
//     been claimed once. 10,000 mailboxes every 5 minutes need 33 a second;
//     the target is 10 times that.
//   - Paced: the tasks come due evenly over BENCH_CLAIM_SPREAD_S (30) s,
//     333 a second for 10,000; a node with nothing claimed polls again
//     after 50 ms. The delay from due time to claim, p50 and p99, by the
//     database's clock (clusterwatch's lease log).
//   - No-op polls: nothing due; BENCH_NOOP_POLLS (300) polls per node, and
//     the database's transactions per poll (pg_stat_database), which for a
//     single statement is its round trips.
//
// BENCH_CLAIM_LIMIT (8) is how many tasks one Claim may take, as a node
// claims no more than it has room to run.
func BenchmarkClaims(b *testing.B) {
	tasks := envInt(b, "BENCH_CLUSTER_TASKS", 10_000)
	nodes := envInt(b, "BENCH_CLUSTER_NODES", 3)
	limit := envInt(b, "BENCH_CLAIM_LIMIT", 8)
	spread := time.Duration(envInt(b, "BENCH_CLAIM_SPREAD_S", 30)) * time.Second
	polls := envInt(b, "BENCH_NOOP_POLLS", 300)

	pg := postgres.Start(b)
	url := pg.NewDatabase(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	if err := clusterwatch.InstallClaims(ctx, url); err != nil {
		b.Fatal(err)
	}
	names := make([]string, tasks)
	for i := range names {
		names[i] = fmt.Sprintf("mailbox-%05d", i)
	}
	stores := openClaimers(b, ctx, url, nodes)
	if err := stores[0].AddTasks(ctx, names); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	backlog := claimAll(b, ctx, stores, tasks, limit, 0)
	dueOver(b, ctx, url, spread)
	paced := claimAll(b, ctx, stores, tasks, limit, 50*time.Millisecond)
	entries, err := clusterwatch.Read(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	delays := Delays(clusterwatch.ClaimDelays(entries[len(entries)-tasks:]))
	for _, s := range stores {
		s.Close()
	}
	perPoll, noop := noopPolls(b, ctx, url, nodes, polls)
	b.StopTimer()

	var out bytes.Buffer
	fmt.Fprintf(&out, "\n## make bench: cluster claims on PostgreSQL, %d tasks, %d nodes, up to %d a claim (pgstore alone)\n\n", tasks, nodes, limit)
	fmt.Fprintln(&out, "| measure | value | target |")
	fmt.Fprintln(&out, "|---|--:|---|")
	fmt.Fprintf(&out, "| backlog: claims per second | %.0f | ≥ %.0f (10 × %d every 5 min) |\n", backlog.perSecond(), 10*float64(tasks)/300, tasks)
	fmt.Fprintf(&out, "| backlog: Claim round trip p50 / p99 ms | %.1f / %.1f | – |\n", ms(backlog.calls.Percentile(0.5)), ms(backlog.calls.Percentile(0.99)))
	fmt.Fprintf(&out, "| paced at %.0f due a second: delay due → claim p50 / p99 ms | %.0f / %.0f | – |\n", float64(tasks)/spread.Seconds(), ms(delays.Percentile(0.5)), ms(delays.Percentile(0.99)))
	fmt.Fprintf(&out, "| paced: Claim round trip p50 / p99 ms | %.1f / %.1f | – |\n", ms(paced.calls.Percentile(0.5)), ms(paced.calls.Percentile(0.99)))
	fmt.Fprintf(&out, "| no-op poll: database transactions (round trips) per poll | %.2f | 1 |\n", perPoll)
	fmt.Fprintf(&out, "| no-op poll: Claim round trip p50 / p99 ms | %.1f / %.1f | – |\n", ms(noop.Percentile(0.5)), ms(noop.Percentile(0.99)))
	os.Stdout.Write(out.Bytes())
	b.ReportMetric(backlog.perSecond(), "claims/s")
	b.ReportMetric(ms(delays.Percentile(0.99)), "p99-claim-delay-ms")
	b.ReportMetric(perPoll, "xacts/noop-poll")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// openClaimers opens one store per node, named bench-1..., each recorded
// in the nodes table as `mailtask run` records itself, so that its claims
// mark it seen as a node's do.
func openClaimers(b *testing.B, ctx context.Context, url string, n int) []*pgstore.Store {
	b.Helper()
	stores := make([]*pgstore.Store, n)
	for i := range stores {
		s, err := pgstore.Open(ctx, pgstore.Options{URL: url, Node: fmt.Sprintf("bench-%d", i+1), Announce: &pgstore.Announcement{Version: "bench", Config: "bench"}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		stores[i] = s
	}
	return stores
}

// claimRun is what claimAll measured.
type claimRun struct {
	claims int
	took   time.Duration
	calls  Delays // each Claim's round trip
}

func (r claimRun) perSecond() float64 { return float64(r.claims) / r.took.Seconds() }

// claimAll has every store claim and release tasks until each of the
// tasks has been claimed once; a store whose claim found nothing polls
// again after idle.
func claimAll(b *testing.B, ctx context.Context, stores []*pgstore.Store, tasks, limit int, idle time.Duration) claimRun {
	b.Helper()
	var (
		claimed atomic.Int64
		mu      sync.Mutex
		run     claimRun
		wg      sync.WaitGroup
		failed  atomic.Value
	)
	start := time.Now()
	for _, s := range stores {
		wg.Go(func() {
			var calls Delays
			defer func() {
				mu.Lock()
				run.calls = append(run.calls, calls...)
				mu.Unlock()
			}()
			for claimed.Load() < int64(tasks) {
				asked := time.Now()
				leases, _, err := s.Claim(ctx, limit, time.Minute)
				calls = append(calls, time.Since(asked))
				if err != nil {
					failed.Store(err)
					return
				}
				for _, l := range leases {
					if err := l.Release(ctx, time.Now().Add(5*time.Minute)); err != nil {
						failed.Store(err)
						return
					}
				}
				claimed.Add(int64(len(leases)))
				if len(leases) == 0 && idle > 0 {
					time.Sleep(idle)
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	run.claims, run.took = int(claimed.Load()), time.Since(start)
	return run
}

// dueOver makes the tasks come due one after another, evenly over
// spread from now.
func dueOver(b *testing.B, ctx context.Context, url string, spread time.Duration) {
	b.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `
		UPDATE tasks t SET next_due = now() + o.i * ($1 * interval '1 millisecond') / o.n
		FROM (SELECT task, row_number() OVER (ORDER BY task) - 1 AS i, count(*) OVER () AS n FROM tasks) o
		WHERE t.task = o.task`, spread.Milliseconds())
	if err != nil {
		b.Fatal(err)
	}
}

// noopPolls has n nodes poll polls times each while nothing is due, and
// returns the database's transactions per poll (what that costs less
// what the same without polls costs: opening the stores, the harness's
// own queries) and each poll's round trip.
func noopPolls(b *testing.B, ctx context.Context, url string, n, polls int) (float64, Delays) {
	b.Helper()
	overhead, _ := pollTransactions(b, ctx, url, n, 0)
	total, calls := pollTransactions(b, ctx, url, n, polls)
	return float64(total-overhead) / float64(n*polls), calls
}

// pollTransactions has n new stores poll polls times each and returns
// how many transactions the database counted from before the stores
// opened to after they had closed, and each poll's round trip.
func pollTransactions(b *testing.B, ctx context.Context, url string, n, polls int) (int64, Delays) {
	b.Helper()
	if err := WaitGone(ctx, url, "mailtask bench-"); err != nil {
		b.Fatal(err)
	}
	before, err := Transactions(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	stores := openClaimers(b, ctx, url, n)
	var (
		wg     sync.WaitGroup
		failed atomic.Value
		mu     sync.Mutex
		calls  Delays
	)
	for _, s := range stores {
		wg.Go(func() {
			for range polls {
				asked := time.Now()
				leases, _, err := s.Claim(ctx, 8, time.Minute)
				took := time.Since(asked)
				if err == nil && len(leases) > 0 {
					err = fmt.Errorf("a no-op poll claimed %d tasks", len(leases))
				}
				if err != nil {
					failed.Store(err)
					return
				}
				mu.Lock()
				calls = append(calls, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	for _, s := range stores {
		s.Close()
	}
	if err := WaitGone(ctx, url, "mailtask bench-"); err != nil {
		b.Fatal(err)
	}
	after, err := Transactions(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	return after - before, calls
}
