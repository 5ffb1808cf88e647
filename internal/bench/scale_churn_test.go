//go:build unix

package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/testmail/clusterwatch"
)

// churnTables are the tables every run writes: its lease, its
// connection slot, its state and its record.
var churnTables = []string{"tasks", "conn_slots", "task_state", "runs"}

// tableChurn is what PostgreSQL's statistics say of a table: the rows
// inserted, updated (hot: of those, in place, with no new index entry),
// deleted, the dead rows not yet vacuumed and the live ones, how often
// autovacuum vacuumed it, and its size with its indexes.
type tableChurn struct {
	ins, upd, hot, del, dead, live, vacuums int64
	heap, indexes                           int64 // bytes
}

// readChurn reads the churn of churnTables in the database at url.
func readChurn(b *testing.B, ctx context.Context, url string) map[string]tableChurn {
	b.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup, n_live_tup,
			autovacuum_count, pg_relation_size(relid), pg_indexes_size(relid)
		FROM pg_stat_user_tables WHERE relname = ANY($1)`, churnTables)
	if err != nil {
		b.Fatal(err)
	}
	churn := map[string]tableChurn{}
	var (
		name string
		c    tableChurn
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &c.ins, &c.upd, &c.hot, &c.del, &c.dead, &c.live, &c.vacuums, &c.heap, &c.indexes}, func() error {
		churn[name] = c
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return churn
}

// reportChurn writes, per table, what the runs since before did to it
// and what it was left with.
func reportChurn(w io.Writer, title string, before, after map[string]tableChurn, runs int) {
	fmt.Fprintf(w, "\n%s\n\n", title)
	fmt.Fprintln(w, "| table | inserts / run | updates / run | of them HOT | deletes / run | dead rows left | live rows | autovacuums | heap KB | indexes KB |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	per := func(n int64) float64 { return float64(n) / float64(runs) }
	for _, t := range churnTables {
		a, z := before[t], after[t]
		hot := "–"
		if upd := z.upd - a.upd; upd > 0 {
			hot = fmt.Sprintf("%.0f %%", 100*float64(z.hot-a.hot)/float64(upd))
		}
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %s | %.2f | %d | %d | %d | %d | %d |\n", t, per(z.ins-a.ins), per(z.upd-a.upd), hot,
			per(z.del-a.del), z.dead, z.live, z.vacuums-a.vacuums, z.heap/1024, z.indexes/1024)
	}
}

// reportPacedRuns writes how long the runs recorded after run id `after` took, and
// in what batches their tasks were claimed: the claims of one node's
// claiming statement share its transaction's time.
func reportPacedRuns(b *testing.B, ctx context.Context, w io.Writer, url string, after int64, claims []clusterwatch.Entry) {
	b.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var took Delays
	rows, err := conn.Query(ctx, "SELECT duration_ms FROM runs WHERE id > $1", after)
	if err != nil {
		b.Fatal(err)
	}
	var ms int64
	if _, err := pgx.ForEachRow(rows, []any{&ms}, func() error {
		took = append(took, time.Duration(ms)*time.Millisecond)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	type statement struct {
		holder string
		at     time.Time
	}
	batches := map[statement]int{}
	for _, e := range claims {
		batches[statement{e.Holder, e.At}]++
	}
	sizes := make([]int, 0, len(batches))
	for _, n := range batches {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	if len(sizes) == 0 {
		sizes = []int{0}
	}
	// The tasks come due at the pace their first runs ended, on whole
	// seconds (@every drops the fraction): in bursts as fast as the
	// first start's claims, not at the schedule's average.
	due := map[time.Time]int{}
	for _, e := range claims {
		due[e.Due]++
	}
	perSecond := slices.Sorted(maps.Values(due))
	if len(perSecond) == 0 {
		perSecond = []int{0}
	}
	fmt.Fprintf(w, "\nat the schedule's pace: tasks due in one second p50 / p99 / max: %d / %d / %d, in %d seconds\n",
		perSecond[len(perSecond)/2], perSecond[(len(perSecond)*99)/100], perSecond[len(perSecond)-1], len(due))
	fmt.Fprintf(w, "\nat the schedule's pace: runs' duration p50 / p99 / max s: %.3f / %.3f / %.3f; claiming statements %d, tasks each p50 / p99 / max: %d / %d / %d\n",
		took.Percentile(0.5).Seconds(), took.Percentile(0.99).Seconds(), took.Percentile(1).Seconds(),
		len(batches), sizes[len(sizes)/2], sizes[(len(sizes)*99)/100], sizes[len(sizes)-1])
}
