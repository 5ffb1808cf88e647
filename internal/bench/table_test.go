package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func samples(walls ...time.Duration) []Sample {
	var s []Sample
	for i, w := range walls {
		s = append(s, Sample{Wall: w, MaxRSS: int64(i+1) * 10_000_000, CPU: w / 2, Busy: float64(i+1) / 10})
	}
	return s
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		walls []time.Duration
		want  time.Duration
	}{
		{nil, 0},
		{[]time.Duration{3}, 3},
		{[]time.Duration{5, 1, 3}, 3},
		{[]time.Duration{4, 1, 3, 2}, 3},
	} {
		if got := (Result{Samples: samples(c.walls...)}).Median(); got != c.want {
			t.Errorf("Median of %v = %v, want %v", c.walls, got, c.want)
		}
	}
}

// TestWriteTable pins the output format of `make bench`: runs are
// compared by reading tables side by side.
func TestWriteTable(t *testing.T) {
	results := []Result{
		{Protocol: "IMAPS", Tool: ToolWire, Samples: samples(time.Second, 900*time.Millisecond, 1100*time.Millisecond)},
		{Protocol: "IMAPS", Tool: ToolMailtask, Samples: samples(2*time.Second, 2*time.Second, 2*time.Second)},
		{Protocol: "IMAPS", Tool: ToolGetmail, Samples: samples(50 * time.Second)},
		{Protocol: "IMAPS", Tool: ToolFetchmail, Skipped: "not installed (apt-get install fetchmail)"},
		{Protocol: "POP3S", Tool: ToolWire, Samples: samples(time.Second)},
		{Protocol: "POP3S", Tool: ToolMailtask, Err: errors.New("5 of 10 messages arrived\nmore detail")},
	}
	var out strings.Builder
	WriteTable(&out, Corpus{Messages: 1000, Bytes: 128_000_000, Seed: 7, Scale: 0.2, Runs: 3}, results)
	want := `corpus: 1000 messages, 128.0 MB (seed 7, scale 0.20); median wall time of 3 runs

| protocol | tool | median s | messages/s | MB/s | peak RSS MB | runs |
|---|---|--:|--:|--:|--:|--:|
| IMAPS | wire | 1.00 | 1000 | 128.0 | 30.0 | 3 |
| IMAPS | mailtask | 2.00 | 500 | 64.0 | 30.0 | 3 |
| IMAPS | getmail6 | 50.00 | 20 | 2.6 | 10.0 | 1 |
| IMAPS | fetchmail | – | – | – | – | skipped: not installed (apt-get install fetchmail) |
| POP3S | wire | 1.00 | 1000 | 128.0 | 10.0 | 1 |
| POP3S | mailtask | – | – | – | – | failed: 5 of 10 messages arrived |

| protocol | mailtask/wire (target ≤ 1.40) | mailtask/getmail6 (target ≤ 0.040) | mailtask/fetchmail (target ≤ 0.125) |
|---|--:|--:|--:|
| IMAPS | 2.000 (misses by 1.43×) | 0.040 (meets) | – |
| POP3S | – | – | – |

| protocol | tool | CPU s (tool, of the median run) | machine busy |
|---|---|--:|--:|
| IMAPS | wire | 0.50 | 10 % |
| IMAPS | mailtask | 1.00 | 20 % |
| IMAPS | getmail6 | 25.00 | 10 % |
| POP3S | wire | 0.50 | 10 % |
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}
