package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// idleMetrics are the series of tasks with idle = true, whose folder a
// watcher keeps in IMAP IDLE.
type idleMetrics struct {
	active     *prometheus.GaugeVec
	since      *prometheus.GaugeVec
	failures   *prometheus.GaugeVec
	reconnects *prometheus.CounterVec
	delivery   *prometheus.HistogramVec

	mu   sync.Mutex
	seen map[string]int // reconnects the task's watcher last reported
}

func newIdleMetrics() *idleMetrics {
	task := []string{"task"}
	return &idleMetrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "mailtask", Name: "idle_active",
			Help: "1 while the task's IMAP connection is in IDLE, waiting for new mail; 0 otherwise."}, task),
		since: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "mailtask", Name: "idle_since_timestamp_seconds",
			Help: "When the task's current IDLE connection began idling, in Unix time; 0 while it is not idling."}, task),
		failures: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "mailtask", Name: "idle_failures",
			Help: "Failures in a row of the task's IDLE connection (connect, drop, DONE unanswered); 0 once it idles steadily."}, task),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mailtask", Name: "idle_reconnects_total",
			Help: "IDLE connections of the task re-established after a failure."}, task),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "mailtask", Name: "idle_delivery_seconds",
			Help:    "Delay from the server's report of new mail (EXISTS) to the commit of the run that took it: its files durable.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}}, task),
		seen: map[string]int{},
	}
}

func (im *idleMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{im.active, im.since, im.failures, im.reconnects, im.delivery}
}

// TrackIdle makes the IDLE series of task exist, for a task with idle.
func (m *Metrics) TrackIdle(task string) {
	m.idle.active.WithLabelValues(task)
	m.idle.since.WithLabelValues(task)
	m.idle.failures.WithLabelValues(task)
	m.idle.reconnects.WithLabelValues(task)
	m.idle.delivery.WithLabelValues(task)
}

// Idle records what task's watcher reports: whether it idles and since
// when, its failures in a row, and the reconnects it counted since it
// started (a new watcher starts again from 0; the counter only grows).
func (m *Metrics) Idle(task string, idling bool, since time.Time, failures, reconnects int) {
	active, at := 0.0, 0.0
	if idling {
		active, at = 1, unix(since)
	}
	m.idle.active.WithLabelValues(task).Set(active)
	m.idle.since.WithLabelValues(task).Set(at)
	m.idle.failures.WithLabelValues(task).Set(float64(failures))
	m.idle.mu.Lock()
	defer m.idle.mu.Unlock()
	if last := m.idle.seen[task]; reconnects > last {
		m.idle.reconnects.WithLabelValues(task).Add(float64(reconnects - last))
	}
	m.idle.seen[task] = reconnects
}

// Delivered observes the delay from new mail's arrival to the commit of
// the run that took it.
func (m *Metrics) Delivered(task string, d time.Duration) {
	m.idle.delivery.WithLabelValues(task).Observe(d.Seconds())
}

// ForgetIdle removes the IDLE series of task, which no longer idles.
func (m *Metrics) ForgetIdle(task string) {
	match := prometheus.Labels{"task": task}
	for _, g := range []*prometheus.GaugeVec{m.idle.active, m.idle.since, m.idle.failures} {
		g.DeletePartialMatch(match)
	}
	m.idle.reconnects.DeletePartialMatch(match)
	m.idle.delivery.DeletePartialMatch(match)
	m.idle.mu.Lock()
	delete(m.idle.seen, task)
	m.idle.mu.Unlock()
}
