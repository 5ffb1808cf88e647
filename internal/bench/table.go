package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"
)

// The tools compared, in table order.
const (
	ToolWire      = "wire"
	ToolMailtask  = "mailtask"
	ToolGetmail   = "getmail6"
	ToolFetchmail = "fetchmail"
)

// Tools lists the tools in table order.
var Tools = []string{ToolWire, ToolMailtask, ToolGetmail, ToolFetchmail}

// Protocols lists the protocols in table order.
var Protocols = []string{"IMAPS", "POP3S"}

// Result is what one tool did over one protocol.
type Result struct {
	Protocol string // "IMAPS" or "POP3S"
	Tool     string
	Samples  []Sample
	// Skipped says why the tool did not run, e.g. that it is not installed.
	Skipped string
	// Err is the failure that stopped the tool; its samples are discarded.
	Err error
}

// Median returns the median wall time; with an even count, the upper of
// the two middle samples, so that it is always a measured value.
func (r Result) Median() time.Duration {
	return r.median().Wall
}

// median is the sample of the median wall time.
func (r Result) median() Sample {
	if len(r.Samples) == 0 {
		return Sample{}
	}
	sorted := slices.Clone(r.Samples)
	slices.SortStableFunc(sorted, func(a, b Sample) int { return cmp.Compare(a.Wall, b.Wall) })
	return sorted[len(sorted)/2]
}

// medianCPU returns the median of cpu; with an even count, the upper of
// the two middle ones.
func medianCPU(cpu []time.Duration) time.Duration {
	if len(cpu) == 0 {
		return 0
	}
	sorted := slices.Clone(cpu)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// PeakRSS returns the highest peak RSS of any sample.
func (r Result) PeakRSS() int64 {
	var peak int64
	for _, s := range r.Samples {
		peak = max(peak, s.MaxRSS)
	}
	return peak
}

func (r Result) ok() bool { return r.Err == nil && r.Skipped == "" && len(r.Samples) > 0 }

// Corpus describes what every tool fetched.
type Corpus struct {
	Messages int
	Bytes    int64 // the messages' total size as stored
	Seed     uint64
	Scale    float64
	Runs     int
}

// The targets, as wall-time ratios mailtask/other: within 1.4× the
// wire limit, at least 25× faster than getmail6 and 8× than fetchmail.
const (
	TargetWire      = 1.4
	TargetGetmail   = 1.0 / 25
	TargetFetchmail = 1.0 / 8
)

// Ratio returns the median wall time of tool a over that of tool b for
// protocol, and whether both were measured.
func Ratio(results []Result, protocol, a, b string) (float64, bool) {
	ra, oka := find(results, protocol, a)
	rb, okb := find(results, protocol, b)
	if !oka || !okb || rb.Median() == 0 {
		return 0, false
	}
	return float64(ra.Median()) / float64(rb.Median()), true
}

func find(results []Result, protocol, tool string) (Result, bool) {
	for _, r := range results {
		if r.Protocol == protocol && r.Tool == tool && r.ok() {
			return r, true
		}
	}
	return Result{}, false
}

const mb = 1e6

// WriteTable prints the comparison as markdown: one row per protocol and
// tool, then the ratios against the targets. The format is
// stable; tools that did not run keep their row and say why.
func WriteTable(w io.Writer, c Corpus, results []Result) {
	fmt.Fprintf(w, "corpus: %d messages, %.1f MB (seed %d, scale %.2f); median wall time of %d runs\n\n",
		c.Messages, float64(c.Bytes)/mb, c.Seed, c.Scale, c.Runs)
	fmt.Fprintln(w, "| protocol | tool | median s | messages/s | MB/s | peak RSS MB | runs |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|")
	for _, p := range Protocols {
		for _, tool := range Tools {
			r, ok := lookup(results, p, tool)
			switch {
			case !ok:
				continue
			case r.Skipped != "":
				fmt.Fprintf(w, "| %s | %s | – | – | – | – | skipped: %s |\n", p, tool, r.Skipped)
			case r.Err != nil:
				fmt.Fprintf(w, "| %s | %s | – | – | – | – | failed: %s |\n", p, tool, oneLine(r.Err))
			default:
				secs := r.Median().Seconds()
				fmt.Fprintf(w, "| %s | %s | %.2f | %.0f | %.1f | %.1f | %d |\n", p, tool,
					secs, float64(c.Messages)/secs, float64(c.Bytes)/mb/secs, float64(r.PeakRSS())/mb, len(r.Samples))
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| protocol | mailtask/wire (target ≤ 1.40) | mailtask/getmail6 (target ≤ 0.040) | mailtask/fetchmail (target ≤ 0.125) |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	for _, p := range Protocols {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", p,
			ratioCell(results, p, ToolWire, TargetWire),
			ratioCell(results, p, ToolGetmail, TargetGetmail),
			ratioCell(results, p, ToolFetchmail, TargetFetchmail))
	}
	// Where the time goes: a tool near the machine's capacity is bound by
	// the CPU it shares with the server, not by waiting.
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| protocol | tool | CPU s (tool, of the median run) | machine busy |")
	fmt.Fprintln(w, "|---|---|--:|--:|")
	for _, p := range Protocols {
		for _, tool := range Tools {
			if r, ok := find(results, p, tool); ok {
				m := r.median()
				fmt.Fprintf(w, "| %s | %s | %.2f | %.0f %% |\n", p, tool, m.CPU.Seconds(), 100*m.Busy)
			}
		}
	}
}

func lookup(results []Result, protocol, tool string) (Result, bool) {
	for _, r := range results {
		if r.Protocol == protocol && r.Tool == tool {
			return r, true
		}
	}
	return Result{}, false
}

// ratioCell shows mailtask/other and whether it meets the target.
func ratioCell(results []Result, protocol, other string, target float64) string {
	v, ok := Ratio(results, protocol, ToolMailtask, other)
	if !ok {
		return "–"
	}
	verdict := "meets"
	if v > target {
		verdict = fmt.Sprintf("misses by %.2f×", v/target)
	}
	return fmt.Sprintf("%.3f (%s)", v, verdict)
}

func oneLine(err error) string {
	s := err.Error()
	for i, r := range s {
		if r == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
