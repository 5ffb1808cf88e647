//go:build unix

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailtask/internal/pgstore"
	"mailtask/internal/testmail/postgres"
)

// BenchmarkSlots measures connection slots on PostgreSQL alone: every one
// of BENCH_CLUSTER_TASKS (10,000) accounts has a slot taken and given back
// (pgstore's TryAcquireSlot and Slot.Release), by 8 workers at once, in
// BENCH_SLOT_ROUNDS (3) rounds, as every run of a task takes its
// account's. It reports, per round, PostgreSQL's CPU time (its processes'
// from /proc) and the server's time on the statements (pg_stat_statements)
// per slot taken and given back: a table that every slot leaves dead rows
// in costs more the more slots were taken since autovacuum last came.
func BenchmarkSlots(b *testing.B) {
	accounts := envInt(b, "BENCH_CLUSTER_TASKS", 10_000)
	rounds := envInt(b, "BENCH_SLOT_ROUNDS", 3)
	const workers = 8

	pg := postgres.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := PreloadStatements(ctx, pg.URL("postgres")); err != nil {
		b.Fatal(err)
	}
	pg.Restart(b)
	url := pg.NewDatabase(b)
	if err := EnableStatements(ctx, url); err != nil {
		b.Fatal(err)
	}
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	s, err := pgstore.Open(ctx, pgstore.Options{URL: url, Node: "bench", MaxConns: workers})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	postmaster, err := PostmasterPID(filepath.Join(pg.Dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var report []string
	for round := range rounds {
		cpu0, st0 := treeCPU(b, postmaster), readStatements(b, ctx, url)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < accounts; i += workers {
					sl, err := s.TryAcquireSlot(ctx, fmt.Sprintf("box-%05d", i), 2, time.Minute, nil)
					if err == nil {
						err = sl.Release(ctx)
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			b.Fatal(errs[0])
		}
		time.Sleep(statsSettle) // the backends' CPU and statements are counted
		cpu, st := treeCPU(b, postmaster)-cpu0, readStatements(b, ctx, url).Since(st0)
		report = append(report, fmt.Sprintf("| %d | %.1f | %.1f |", round+1,
			float64(cpu.Microseconds())/float64(accounts), float64(st.Total().Time.Microseconds())/float64(accounts)))
	}
	b.StopTimer()
	fmt.Printf("\n## make bench: a connection slot taken and given back for each of %d accounts, %d rounds\n\n", accounts, rounds)
	fmt.Println("| round | PostgreSQL CPU µs per slot | server µs on the statements per slot |")
	fmt.Println("|--:|--:|--:|")
	for _, r := range report {
		fmt.Println(r)
	}
}
