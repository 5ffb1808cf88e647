// Package clusterwatch is what cluster tests and benchmarks use to watch a
// cluster of mailtask nodes from outside: a log of every claim, fenced
// commit and state write of the task leases (leaselog.go), the nodes'
// /metrics (metrics.go), which process holds a given TCP connection
// (owner_linux.go), and, in one place, the names cluster mode's wiring
// chose for its metrics, settings and statements (names.go).
//
// The lease log is written by triggers on pgstore's tables inside the very
// transactions that claim, commit and write, with the application_name of
// the session that made each (pgstore names a node's connections "mailtask
// NODE"). From it a test tells whether a task's state was ever committed
// by a node that did not hold its lease, or after the lease ran out
// (Overlaps: the fence let a stale node through), and a benchmark how long
// tasks waited past their due time before a node claimed them
// (ClaimDelays). It reads only what pgstore's schema (version 1) has:
// tasks.epoch, which grows by one on each claim, tasks.committed_at, which
// a commit's fence sets, tasks.holder, lease_until, next_due and
// claimed_at, and writes to task_state.
//
// It is never linked into the binary.
package clusterwatch
