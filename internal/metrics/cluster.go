package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// clusterMetrics are what a node of cluster mode counts of its leases.
// They have no task label: with thousands of tasks a series per task
// would cost more than it tells; the log names the task of each event.
type clusterMetrics struct {
	leaseLosses prometheus.Counter
	fenced      prometheus.Counter
	claims      prometheus.Histogram
}

func newClusterMetrics() *clusterMetrics {
	return &clusterMetrics{
		leaseLosses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mailtask", Name: "lease_losses_total",
			Help: "Runs (and IDLE watches) of this node stopped because their task's lease could not be renewed: the node stalled past it, or could not reach the database for that long."}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "mailtask", Name: "fenced_commits_total",
			Help: "Commits of this node the database refused because the node no longer held the task's lease (fencing): nothing of them was written and no action followed."}),
		claims: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "mailtask", Name: "claim_duration_seconds",
			Help:    "How long one claim of due tasks took, a round trip to the database; its count is the number of polls.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}}),
	}
}

func (cm *clusterMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{cm.leaseLosses, cm.fenced, cm.claims}
}

// TrackCluster makes the metrics of cluster mode's leases exist; a
// daemon on the file store leaves them out.
func (m *Metrics) TrackCluster() { m.reg.MustRegister(m.cluster.collectors()...) }

// LeaseLost counts a run or watch stopped by the loss of its lease.
func (m *Metrics) LeaseLost() { m.cluster.leaseLosses.Inc() }

// Fenced counts a commit the database refused to a node that no longer
// held the task's lease.
func (m *Metrics) Fenced() { m.cluster.fenced.Inc() }

// Claimed records how long a claim of due tasks took.
func (m *Metrics) Claimed(took time.Duration) { m.cluster.claims.Observe(took.Seconds()) }
