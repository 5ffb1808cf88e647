package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestIdleSeries(t *testing.T) {
	m := New()
	m.TrackIdle("push")
	m.Idle("push", true, t0, 0, 0)
	m.Idle("push", false, time.Time{}, 2, 0) // failing
	m.Idle("push", true, t0.Add(time.Minute), 2, 1)
	// A new watcher (after a reload) counts from 0 again; the counter
	// goes on from where it was.
	m.Idle("push", true, t0.Add(time.Hour), 0, 0)
	m.Idle("push", true, t0.Add(2*time.Hour), 0, 1)
	m.Delivered("push", 300*time.Millisecond)
	m.Delivered("push", 4*time.Second)
	expected := `
# HELP mailtask_idle_active 1 while the task's IMAP connection is in IDLE, waiting for new mail; 0 otherwise.
# TYPE mailtask_idle_active gauge
mailtask_idle_active{task="push"} 1
# HELP mailtask_idle_failures Failures in a row of the task's IDLE connection (connect, drop, DONE unanswered); 0 once it idles steadily.
# TYPE mailtask_idle_failures gauge
mailtask_idle_failures{task="push"} 0
# HELP mailtask_idle_reconnects_total IDLE connections of the task re-established after a failure.
# TYPE mailtask_idle_reconnects_total counter
mailtask_idle_reconnects_total{task="push"} 2
# HELP mailtask_idle_since_timestamp_seconds When the task's current IDLE connection began idling, in Unix time; 0 while it is not idling.
# TYPE mailtask_idle_since_timestamp_seconds gauge
mailtask_idle_since_timestamp_seconds{task="push"} 1.7408232e+09
`
	names := []string{"mailtask_idle_active", "mailtask_idle_failures", "mailtask_idle_reconnects_total", "mailtask_idle_since_timestamp_seconds"}
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(expected), names...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.idle.delivery); n != 1 {
		t.Errorf("%d delivery series", n)
	}
	if problems, err := testutil.GatherAndLint(m.Gatherer()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "mailtask_idle_delivery_seconds" {
			continue
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 2 || h.GetSampleSum() != 4.3 {
			t.Errorf("delivery: %d samples, sum %v", h.GetSampleCount(), h.GetSampleSum())
		}
	}
	m.Forget("push")
	for _, name := range append(names, "mailtask_idle_delivery_seconds") {
		if n := testutil.CollectAndCount(m.reg, name); n != 0 {
			t.Errorf("%d %s series after Forget", n, name)
		}
	}
}
