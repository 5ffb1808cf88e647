package metrics

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"mailtask/internal/outcome"
	"mailtask/internal/version"
)

// Metrics holds the daemon's metrics: the per-task series in a table of
// their own (tasks.go), the rest in a registry.
type Metrics struct {
	reg         *prometheus.Registry
	tasks       *taskTable
	credentials *credentialCollector
	idle        *idleMetrics    // idle.go
	cluster     *clusterMetrics // cluster.go
}

// Run is the outcome of one run, as the metrics count it.
type Run struct {
	Task    string
	Outcome string // outcome.OK, outcome.Stopped or outcome.Failed
	outcome.Counts
	Defects   outcome.Defects   // of the files written, by kind
	Automatic outcome.Automatic // the automatic mail skipped, by kind
	// QuarantineNotices counts the Microsoft 365 quarantine notices among
	// the messages the run looked at.
	QuarantineNotices int
	Duration          time.Duration
	End               time.Time
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
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		tasks: newTaskTable(),
		credentials: &credentialCollector{desc: prometheus.NewDesc("mailtask_credential_expiry_timestamp_seconds",
			"When an account's credential (such as an OAuth2 client secret) expires, in Unix time.", []string{"account", "credential"}, nil)},
		idle:    newIdleMetrics(),
		cluster: newClusterMetrics(),
	}
	// Which mailtask each daemon is, for a rolling upgrade:
	// count by (version) (mailtask_build_info).
	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "mailtask", Name: "build_info",
		Help: "Always 1; its version label is this daemon's mailtask (mailtask version).", ConstLabels: prometheus.Labels{"version": version.String()}})
	build.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.credentials,
		build,
	)
	m.reg.MustRegister(m.idle.collectors()...)
	return m
}

// Track makes task's counters exist at zero, so that rates and alerts on
// them work before its first run.
func (m *Metrics) Track(task string) { m.tasks.update(task, func(*taskFigures) {}) }

// Forget removes every series of a task no longer configured.
func (m *Metrics) Forget(task string) {
	m.tasks.forget(task)
	m.ForgetIdle(task)
}

// Observe counts a run that ended.
func (m *Metrics) Observe(r Run) {
	m.tasks.update(r.Task, func(f *taskFigures) {
		f.runs++
		if r.Outcome == outcome.Failed {
			f.failures++
		} else {
			f.lastSuccess.put(unix(r.End))
		}
		for i, k := range outcome.Counters {
			f.counts[i] += float64(k.In(r.Counts))
		}
		f.defects = add(f.defects, r.Defects)
		f.automatic = add(f.automatic, r.Automatic)
		f.notices += float64(r.QuarantineNotices)
		f.lastRun.put(unix(r.End))
		f.duration.put(r.Duration.Seconds())
		f.setDue(r.Due)
	})
}

// add adds counts by kind to figures by kind, made if need be.
func add(figures map[string]float64, counts outcome.ByKind) map[string]float64 {
	for kind, n := range counts {
		if figures == nil {
			figures = map[string]float64{}
		}
		figures[kind] += float64(n)
	}
	return figures
}

// ActionsDue records how many messages' after-actions and failure actions
// are due; the daemon sets it from the state file when it starts.
func (m *Metrics) ActionsDue(task string, due outcome.Due) {
	m.tasks.update(task, func(f *taskFigures) { f.setDue(due) })
}

func (f *taskFigures) setDue(due outcome.Due) {
	f.due[slices.Index(dueActions, ActionAfter)].put(float64(due.After))
	f.due[slices.Index(dueActions, ActionFailure)].put(float64(due.Failure))
}

// Skipped counts a scheduled run that was not started.
func (m *Metrics) Skipped(task, reason string) {
	m.tasks.update(task, func(f *taskFigures) { f.skipped[slices.Index(skipReasons, reason)]++ })
}

// LastSuccess records when the task last succeeded; the daemon sets it
// from the state file when it starts.
func (m *Metrics) LastSuccess(task string, at time.Time) {
	m.tasks.update(task, func(f *taskFigures) { f.lastSuccess.put(unix(at)) })
}

// NextRun records when the task runs next.
func (m *Metrics) NextRun(task string, at time.Time) {
	m.tasks.update(task, func(f *taskFigures) { f.nextRun.put(unix(at)) })
}

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
