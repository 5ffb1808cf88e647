package metrics

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"mailtask/internal/outcome"
)

// vectors keeps the per-task series the way client_golang's vectors do:
// the reference the task table must give the same families as. Its
// vectors are named as the table's families, without "mailtask_".
type vectors struct {
	reg      *prometheus.Registry
	counters map[string]*prometheus.CounterVec
	gauges   map[string]*prometheus.GaugeVec
}

func newVectors() *vectors {
	v := &vectors{reg: prometheus.NewRegistry(), counters: map[string]*prometheus.CounterVec{}, gauges: map[string]*prometheus.GaugeVec{}}
	for _, fam := range taskFamilies {
		name := strings.TrimPrefix(fam.name, "mailtask_")
		labels := []string{"task"}
		if fam.label != "" {
			labels = append(labels, fam.label)
		}
		if fam.kind == "counter" {
			v.counters[name] = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mailtask", Name: name, Help: fam.help}, labels)
			v.reg.MustRegister(v.counters[name])
		} else {
			v.gauges[name] = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "mailtask", Name: name, Help: fam.help}, labels)
			v.reg.MustRegister(v.gauges[name])
		}
	}
	return v
}

func (v *vectors) track(task string) {
	v.counters["runs_total"].WithLabelValues(task)
	v.counters["run_failures_total"].WithLabelValues(task)
	v.counters["quarantine_notices_total"].WithLabelValues(task)
	for _, k := range outcome.Counters {
		v.counters[k.Metric].WithLabelValues(task)
	}
	for _, reason := range skipReasons {
		v.counters["runs_skipped_total"].WithLabelValues(task, reason)
	}
}

func (v *vectors) observe(r Run) {
	v.counters["runs_total"].WithLabelValues(r.Task).Inc()
	if r.Outcome == outcome.Failed {
		v.counters["run_failures_total"].WithLabelValues(r.Task).Inc()
	} else {
		v.gauges["last_success_timestamp_seconds"].WithLabelValues(r.Task).Set(unix(r.End))
	}
	for _, k := range outcome.Counters {
		v.counters[k.Metric].WithLabelValues(r.Task).Add(float64(k.In(r.Counts)))
	}
	for kind, n := range r.Defects {
		v.counters["file_defects_total"].WithLabelValues(r.Task, kind).Add(float64(n))
	}
	for kind, n := range r.Automatic {
		v.counters["messages_automatic_total"].WithLabelValues(r.Task, kind).Add(float64(n))
	}
	v.counters["quarantine_notices_total"].WithLabelValues(r.Task).Add(float64(r.QuarantineNotices))
	v.gauges["last_run_timestamp_seconds"].WithLabelValues(r.Task).Set(unix(r.End))
	v.gauges["last_run_duration_seconds"].WithLabelValues(r.Task).Set(r.Duration.Seconds())
	v.due(r.Task, r.Due)
}

func (v *vectors) due(task string, due outcome.Due) {
	v.gauges["actions_due"].WithLabelValues(task, ActionAfter).Set(float64(due.After))
	v.gauges["actions_due"].WithLabelValues(task, ActionFailure).Set(float64(due.Failure))
}

func (v *vectors) forget(task string) {
	match := prometheus.Labels{"task": task}
	for _, c := range v.counters {
		c.DeletePartialMatch(match)
	}
	for _, g := range v.gauges {
		g.DeletePartialMatch(match)
	}
}

// text is the exposition of the families named like the task table's.
func text(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range families {
		if !isTaskFamily(mf.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func isTaskFamily(name string) bool {
	for _, fam := range taskFamilies {
		if fam.name == name {
			return true
		}
	}
	return false
}

// The task table gives, after any sequence of updates, the families
// client_golang's vectors give for the same updates: the same series, in
// the same order, with the same values. Tracked tasks are the ones the
// daemon updates otherwise, as the scheduler does.
func TestTaskTableMatchesVectors(t *testing.T) {
	tasks := []string{"a", "a-b", "B", "ab", "z9", "mailbox-0010", "mailbox-0002", "ä", `q"uote`}
	kinds := []string{"damaged-base64", "unknown-transfer-encoding", "charset"}
	automatic := []string{"delivery-report", "auto-reply", "read-receipt"}
	rng := rand.New(rand.NewPCG(7, 11))
	m, v := New(), newVectors()
	tracked := map[string]bool{}
	for step := range 2000 {
		task := tasks[rng.IntN(len(tasks))]
		if !tracked[task] {
			m.Track(task)
			v.track(task)
			tracked[task] = true
		}
		at := t0.Add(time.Duration(step) * time.Second)
		switch rng.IntN(8) {
		case 0:
			m.Forget(task)
			v.forget(task)
			delete(tracked, task)
		case 1:
			reason := skipReasons[rng.IntN(len(skipReasons))]
			m.Skipped(task, reason)
			v.counters["runs_skipped_total"].WithLabelValues(task, reason).Inc()
		case 2:
			m.NextRun(task, at)
			v.gauges["next_run_timestamp_seconds"].WithLabelValues(task).Set(unix(at))
		case 3:
			due := outcome.Due{After: rng.IntN(3), Failure: rng.IntN(2)}
			m.ActionsDue(task, due)
			v.due(task, due)
		case 4:
			m.LastSuccess(task, at)
			v.gauges["last_success_timestamp_seconds"].WithLabelValues(task).Set(unix(at))
		default:
			r := Run{Task: task, Outcome: []string{outcome.OK, outcome.Stopped, outcome.Failed}[rng.IntN(3)],
				Counts:   outcome.Counts{Seen: rng.IntN(9), Saved: rng.IntN(5), Files: rng.IntN(7), Bytes: outcome.Bytes(rng.IntN(1 << 20))},
				Duration: time.Duration(rng.IntN(5000)) * time.Millisecond, End: at,
				Due: outcome.Due{After: rng.IntN(2)}}
			if rng.IntN(4) == 0 {
				r.Defects = outcome.Defects{kinds[rng.IntN(len(kinds))]: 1 + rng.IntN(2)}
			}
			if rng.IntN(4) == 0 {
				r.Automatic = outcome.Automatic{automatic[rng.IntN(len(automatic))]: 1 + rng.IntN(2)}
			}
			if rng.IntN(8) == 0 {
				r.QuarantineNotices = 1 + rng.IntN(2)
			}
			m.Observe(r)
			v.observe(r)
		}
		if step%97 == 0 || step == 1999 {
			if got, want := text(t, m.Gatherer()), text(t, v.reg); got != want {
				t.Fatalf("after step %d the table gives\n%s\nthe vectors\n%s", step, got, want)
			}
		}
	}
}

// A scrape of 10,000 tasks, as text and gzipped: its CPU and allocations
// are what the task table is for (through client_golang's vectors, about
// 2 s and 60 MB per scrape on a busy machine where the table took 0.07 s
// and 0.1 MB).
func BenchmarkScrape(b *testing.B) {
	m := New()
	for i := range 10000 {
		task := fmt.Sprintf("mailbox-%05d", i)
		m.Track(task)
		m.Observe(Run{Task: task, Outcome: outcome.OK, End: t0, Duration: time.Second})
		m.NextRun(task, t0)
	}
	h := m.Handler(func() []string { return nil })
	for _, encoding := range []string{"identity", "gzip"} {
		b.Run(encoding, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/metrics", nil)
			req.Header.Set("Accept-Encoding", encoding)
			var w countingWriter
			for b.Loop() {
				w = countingWriter{header: http.Header{}}
				h.ServeHTTP(&w, req)
			}
			b.ReportMetric(float64(w.n)/1e6, "MB/scrape")
		})
	}
}

// countingWriter is a ResponseWriter that counts what it is sent.
type countingWriter struct {
	header http.Header
	n      int
}

func (w *countingWriter) Header() http.Header { return w.header }
func (w *countingWriter) WriteHeader(int)     {}
func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
