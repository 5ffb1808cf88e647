package clusterwatch

import (
	"os"
	"strconv"
)

// The names cluster mode gives its metrics (internal/metrics/cluster.go),
// settings (internal/config) and statements (internal/pgstore), which the
// chaos test (cmd/mailtask) and the scale benchmark (internal/bench) read.
// The tests of this package check them against pgstore (statements, node
// names) and against a node's /metrics; the setting is checked by every
// node the chaos test starts, which refuses a key it does not know.
const (
	// MetricFencedCommits counts commits the fence refused: a node that
	// lost its lease (paused past it) tried to commit.
	MetricFencedCommits = "mailtask_fenced_commits_total"
	// MetricLeaseLosses counts runs stopped because their lease could
	// not be renewed.
	MetricLeaseLosses = "mailtask_lease_losses_total"
	// MetricClaimSeconds is the histogram of how long one claim of due
	// tasks took; its _count is the number of polls for due tasks.
	MetricClaimSeconds = "mailtask_claim_duration_seconds"

	// LeaseTOML is the top-level setting that makes the nodes' leases
	// short, so that "paused past its lease" takes seconds (the tests
	// wait for leases by the database's clock, whatever their length).
	LeaseTOML = `lease = "6s"`

	// FenceStatement matches (LIKE) the statement with which pgstore's
	// fence (Lease.queueFence) takes the task's row, as pg_stat_activity
	// shows it while it waits.
	FenceStatement = "SELECT mailtask_fence($1, $2, $3)"

	// TasksRanSince counts the tasks with a run that started after $1 and
	// succeeded, from the run history (pgstore's Lease.RecordRun).
	TasksRanSince = "SELECT count(DISTINCT task) FROM runs WHERE started > $1 AND outcome = 'ok'"
)

// NodeName is the name a node with process ID pid gives itself in leases
// and run history: `mailtask run` leaves it to pgstore's default, the host
// name and the PID.
func NodeName(pid int) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return host + ":" + strconv.Itoa(pid)
}

// NodeApp is the application_name of a node's database connections, by
// which pg_stat_activity and pg_terminate_backend find them.
func NodeApp(pid int) string { return nodeApp(NodeName(pid)) }
