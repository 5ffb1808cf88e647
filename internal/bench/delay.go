package bench

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Delays are how long each of a series of messages took from arriving on
// the server to having its files durable.
type Delays []time.Duration

// Percentile returns the p-quantile (0 < p <= 1) by nearest rank: a
// delay that was measured, which at least p of them do not exceed.
func (d Delays) Percentile(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// ScheduleDelays returns the delays n messages would see under a poll
// every period whose run takes run: a message arriving at a random moment
// waits for the next tick, uniformly up to period, then for the run. Each
// message's moment is drawn from rng, as if they came spread over many
// periods; waited for, n arrivals at a minute's schedule would take
// minutes each.
func ScheduleDelays(n int, period, run time.Duration, rng *rand.Rand) Delays {
	d := make(Delays, n)
	for i := range d {
		d[i] = time.Duration(rng.Int64N(int64(period))) + run
	}
	return d
}

// DelayRow is one line of WriteDelayTable.
type DelayRow struct {
	How    string // e.g. "IMAP IDLE (measured)"
	Delays Delays
}

// WriteDelayTable writes the delays' p50, p99 and maximum as markdown.
func WriteDelayTable(w io.Writer, title string, rows []DelayRow) {
	fmt.Fprintf(w, "\n## make bench: %s\n\n", title)
	fmt.Fprintln(w, "| delivery | messages | p50 s | p99 s | max s |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %.3f |\n", r.How, len(r.Delays),
			r.Delays.Percentile(0.5).Seconds(), r.Delays.Percentile(0.99).Seconds(), r.Delays.Percentile(1).Seconds())
	}
}
