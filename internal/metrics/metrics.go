package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"mailtask/internal/outcome"
)

// Metrics holds the daemon's metrics.
type Metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	failures    *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	counts      []*prometheus.CounterVec // one per outcome.Counters
	defects     *prometheus.CounterVec
	lastRun     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	duration    *prometheus.GaugeVec
	nextRun     *prometheus.GaugeVec
	actionsDue  *prometheus.GaugeVec
	credentials *credentialCollector
	idle        *idleMetrics    // idle.go
	cluster     *clusterMetrics // cluster.go
}

// Run is the outcome of one run, as the metrics count it.
type Run struct {
	Task    string
	Outcome string // outcome.OK, outcome.Stopped or outcome.Failed
	outcome.Counts
	Defects  outcome.Defects // of the files written, by kind
	Duration time.Duration
	End      time.Time
	// Due counts the messages whose after-action or failure action the
	// server has not confirmed when the run ends.
	Due outcome.Due
}

// Actions of ActionsDue: the action label of mailtask_actions_due.
const (
	ActionAfter   = "after"
	ActionFailure = "after_failure"
)

// Skip reasons.
const (
	SkipOverlap = "overlap" // the task's previous run was still going
	SkipLocked  = "locked"  // another process (a manual run-task) held the task's lock
)

// New returns metrics in a registry of their own, with the Go runtime's
// and the process's standard metrics beside them.
func New() *Metrics {
	task := []string{"task"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mailtask", Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "mailtask", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg:         prometheus.NewRegistry(),
		runs:        counter("runs_total", "Runs of a task that ended (successful, stopped or failed).", task...),
		failures:    counter("run_failures_total", "Runs of a task that failed, after their retries.", task...),
		skipped:     counter("runs_skipped_total", "Scheduled runs of a task not started: its previous run was still going (overlap) or another process held its lock (locked).", "task", "reason"),
		defects:     counter("file_defects_total", "Defects of the files written (damaged base64, an unknown transfer encoding, ...), by kind: such a file holds what could be recovered.", "task", "defect"),
		lastRun:     gauge("last_run_timestamp_seconds", "When the task's last run ended, in Unix time.", task...),
		lastSuccess: gauge("last_success_timestamp_seconds", "When the task's last successful run ended, in Unix time.", task...),
		duration:    gauge("last_run_duration_seconds", "How long the task's last run took.", task...),
		nextRun:     gauge("next_run_timestamp_seconds", "When the task runs next, jitter included, in Unix time.", task...),
		actionsDue:  gauge("actions_due", "Messages taken whose after-action (after) or failure action (after_failure) the server has not confirmed yet, refused ones included: every run retries them.", "task", "action"),
		credentials: &credentialCollector{desc: prometheus.NewDesc("mailtask_credential_expiry_timestamp_seconds",
			"When an account's credential (such as an OAuth2 client secret) expires, in Unix time.", []string{"account", "credential"}, nil)},
		idle:    newIdleMetrics(),
		cluster: newClusterMetrics(),
	}
	for _, k := range outcome.Counters {
		c := counter(k.Metric, k.Help, task...)
		m.counts = append(m.counts, c)
		m.reg.MustRegister(c)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.runs, m.failures, m.skipped, m.defects,
		m.lastRun, m.lastSuccess, m.duration, m.nextRun, m.actionsDue, m.credentials,
	)
	m.reg.MustRegister(m.idle.collectors()...)
	return m
}

// Registry is where the metrics are registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Track makes task's counters exist at zero, so that rates and alerts on
// them work before its first run.
func (m *Metrics) Track(task string) {
	for _, c := range append([]*prometheus.CounterVec{m.runs, m.failures}, m.counts...) {
		c.WithLabelValues(task)
	}
	for _, reason := range []string{SkipOverlap, SkipLocked} {
		m.skipped.WithLabelValues(task, reason)
	}
}

// Forget removes every series of a task no longer configured.
func (m *Metrics) Forget(task string) {
	match := prometheus.Labels{"task": task}
	for _, c := range append([]*prometheus.CounterVec{m.runs, m.failures, m.skipped, m.defects}, m.counts...) {
		c.DeletePartialMatch(match)
	}
	for _, g := range []*prometheus.GaugeVec{m.lastRun, m.lastSuccess, m.duration, m.nextRun, m.actionsDue} {
		g.DeletePartialMatch(match)
	}
	m.ForgetIdle(task)
}

// Observe counts a run that ended.
func (m *Metrics) Observe(r Run) {
	m.runs.WithLabelValues(r.Task).Inc()
	if r.Outcome == outcome.Failed {
		m.failures.WithLabelValues(r.Task).Inc()
	} else {
		m.LastSuccess(r.Task, r.End)
	}
	for i, k := range outcome.Counters {
		m.counts[i].WithLabelValues(r.Task).Add(float64(k.In(r.Counts)))
	}
	for kind, n := range r.Defects {
		m.defects.WithLabelValues(r.Task, kind).Add(float64(n))
	}
	m.lastRun.WithLabelValues(r.Task).Set(unix(r.End))
	m.duration.WithLabelValues(r.Task).Set(r.Duration.Seconds())
	m.ActionsDue(r.Task, r.Due)
}

// ActionsDue records how many messages' after-actions and failure actions
// are due; the daemon sets it from the state file when it starts.
func (m *Metrics) ActionsDue(task string, due outcome.Due) {
	m.actionsDue.WithLabelValues(task, ActionAfter).Set(float64(due.After))
	m.actionsDue.WithLabelValues(task, ActionFailure).Set(float64(due.Failure))
}

// Skipped counts a scheduled run that was not started.
func (m *Metrics) Skipped(task, reason string) { m.skipped.WithLabelValues(task, reason).Inc() }

// LastSuccess records when the task last succeeded; the daemon sets it
// from the state file when it starts.
func (m *Metrics) LastSuccess(task string, at time.Time) {
	m.lastSuccess.WithLabelValues(task).Set(unix(at))
}

// NextRun records when the task runs next.
func (m *Metrics) NextRun(task string, at time.Time) { m.nextRun.WithLabelValues(task).Set(unix(at)) }

// Credential is an account's credential that expires.
type Credential struct {
	Account string
	Kind    string // e.g. "client_secret"
	Expires time.Time
}

// WatchCredentials makes every scrape report the expiry of the credentials
// list returns then, so that the figures follow a reloaded configuration.
func (m *Metrics) WatchCredentials(list func() []Credential) {
	m.credentials.mu.Lock()
	m.credentials.list = list
	m.credentials.mu.Unlock()
}

// credentialCollector asks for the credentials at each scrape.
type credentialCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	list func() []Credential
}

func (c *credentialCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *credentialCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	list := c.list
	c.mu.Unlock()
	if list == nil {
		return
	}
	for _, cr := range list() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, unix(cr.Expires), cr.Account, cr.Kind)
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
