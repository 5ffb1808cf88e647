package clusterwatch

import (
	"os"
	"strconv"
)

// The names cluster mode's wiring (branch i23b) gives its metrics,
// settings and statements, which the chaos test (cmd/mailtask) and the
// scale benchmark (internal/bench) read. They were written before that
// wiring existed: adapt to i23b's names.
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
	// short, so that "paused past its lease" takes seconds; "" if the
	// wiring has none (the tests wait for leases by the database's clock,
	// whatever their length).
	LeaseTOML = `lease = "6s"`

	// BeingBuilt is what `mailtask run` says when it refuses a cluster
	// configuration, before the wiring: the tests skip on it.
	BeingBuilt = "cluster mode is being built"

	// FenceStatement matches (LIKE) the statement of pgstore's fence
	// (Lease.fence) as pg_stat_activity shows it while it waits.
	FenceStatement = "%SET committed_at = clock_timestamp()%"

	// TasksRanSince counts the tasks with a run that started after $1 and
	// succeeded, from the run history (pgstore's Lease.RecordRun).
	TasksRanSince = "SELECT count(DISTINCT task) FROM runs WHERE started > $1 AND outcome = 'ok'"
)

// NodeName is the name a node with process ID pid gives itself in leases
// and run history: pgstore's default, the host name and the PID, as long
// as the wiring gives nodes no name of their own.
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
