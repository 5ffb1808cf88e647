package outcome_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"mailtask/internal/metrics"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

// distinct returns counts whose every counter holds a value of its own,
// from 1001 up, so that each can be told from the others wherever it goes.
func distinct() outcome.Counts {
	var c outcome.Counts
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		v.Field(i).SetInt(int64(1001 + i))
	}
	return c
}

// Every counter of Counts reaches the three places that show a run: the
// state file's last run, the metrics and the summary line (the log line
// too). A counter added without its tags fails here.
func TestEveryCounterReachesStateMetricsAndSummary(t *testing.T) {
	c := distinct()
	if len(outcome.Counters) != reflect.TypeFor[outcome.Counts]().NumField() || len(outcome.Counters) == 0 {
		t.Fatalf("%d counters for %d fields", len(outcome.Counters), reflect.TypeFor[outcome.Counts]().NumField())
	}

	data, err := json.Marshal(state.Run{Outcome: outcome.OK, Counts: c})
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]any
	if err := json.Unmarshal(data, &saved); err != nil {
		t.Fatal(err)
	}
	var back state.Run
	if err := json.Unmarshal(data, &back); err != nil || back.Counts != c {
		t.Errorf("state.Run read back %+v (%v), want %+v", back.Counts, err, c)
	}

	m := metrics.New()
	m.Observe(metrics.Run{Task: "t", Outcome: outcome.OK, Counts: c})
	counted := values(t, m)

	line := c.Summary(false)
	attrs := fmt.Sprint(c.Attrs()...)
	metricNames := map[string]bool{}
	for _, k := range outcome.Counters {
		want := k.In(c)
		if k.Name == "" || k.Metric == "" || k.Help == "" {
			t.Errorf("counter %+v lacks a json, metric or help tag", k)
			continue
		}
		if metricNames[k.Metric] {
			t.Errorf("metric %s named twice", k.Metric)
		}
		metricNames[k.Metric] = true
		if got, ok := saved[k.Name].(float64); !ok || int64(got) != want {
			t.Errorf("state file: %q = %v, want %d", k.Name, saved[k.Name], want)
		}
		if got, ok := counted["mailtask_"+k.Metric]; !ok || int64(got) != want {
			t.Errorf("metric mailtask_%s = %v, want %d", k.Metric, got, want)
		}
		if !strings.Contains(line, fmt.Sprint(want)) && !strings.Contains(line, outcome.Bytes(want).String()) {
			t.Errorf("summary line %q does not say %s = %d", line, k.Name, want)
		}
		if !strings.Contains(attrs, fmt.Sprint(k.Name, want)) {
			t.Errorf("log attributes %q lack %s = %d", attrs, k.Name, want)
		}
	}
}

// values gathers the counters of task "t" from m, by name.
func values(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			if c := metric.GetCounter(); c != nil {
				out[f.GetName()] = c.GetValue()
			}
		}
	}
	return out
}

func TestSummaryLeavesOutZeroOptionalCounters(t *testing.T) {
	c := outcome.Counts{Seen: 3, Saved: 3, Files: 3, Bytes: 3 << 20}
	if got, want := c.Summary(false), "3 new, 3 saved, 0 already taken, 0 failed, 3 files, 3.0 MiB"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	c.Unmatched, c.Held = 2, 1
	if got, want := c.Summary(true), "3 new, 3 would save, 0 already taken, 0 failed, 2 not matching the rules, 1 held back by failed hooks, 3 files, 3.0 MiB"; got != want {
		t.Errorf("dry-run Summary = %q, want %q", got, want)
	}
}

func TestThenCountsNewMessagesOnce(t *testing.T) {
	first := outcome.Counts{Seen: 10, Saved: 2, Known: 1, Failed: 1, Unmatched: 2, Files: 3, Bytes: 10}
	later := outcome.Counts{Seen: 4, Saved: 3, Held: 1, Files: 3, Bytes: 5}
	want := outcome.Counts{Seen: 10, Saved: 5, Known: 1, Failed: 1, Unmatched: 2, Held: 1, Files: 6, Bytes: 15}
	if got := first.Then(later); got != want {
		t.Errorf("Then = %+v, want %+v", got, want)
	}
}

func TestOf(t *testing.T) {
	for _, c := range []struct {
		err     error
		stopped bool
		want    string
	}{{nil, false, outcome.OK}, {nil, true, outcome.Stopped}, {fmt.Errorf("x"), true, outcome.Failed}} {
		if got := outcome.Of(c.err, c.stopped); got != c.want {
			t.Errorf("Of(%v, %v) = %q, want %q", c.err, c.stopped, got, c.want)
		}
	}
}
