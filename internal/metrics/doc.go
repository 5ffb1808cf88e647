// Package metrics is what the daemon tells a monitoring system: Prometheus
// counters and gauges per task (runs, failures, skips, messages, files,
// bytes, last success, next run), per task with idle = true (whether its
// IDLE connection idles and since when, its failures and reconnects, the
// delay from new mail to files written), per credential (expiry), and which
// mailtask the daemon is (build_info, for upgrades across nodes), served on
// /metrics, with /healthz beside them for probes, by a server whose
// clients can hold neither connections nor descriptors for long (Serve).
//
// The per-task series are a table of plain numbers written out as text at
// each scrape (tasks.go), so that a daemon of 10,000 tasks holds 3 MB for
// them, not 70, and a scrape costs tens of milliseconds, not a second; the
// rest are client_golang collectors in a registry. Every Metrics has its
// own table and registry, so tests and several daemons in one process
// never share state.
package metrics
