// Package leaselog keeps, for cluster tests and benchmarks, a log of every
// claim, every fenced commit and every state write of cluster mode's task
// leases, written by triggers on pgstore's tables inside the very
// transactions that make them, with the application_name of the session
// that made each (pgstore names a node's connections "mailtask NODE").
// From it a test tells whether a task's state was ever committed by a node
// that did not hold its lease, or after the lease ran out (Overlaps: the
// fence let a stale node through), and a benchmark how long tasks waited
// past their due time before a node claimed them (ClaimDelays).
//
// It reads only what pgstore's schema (version 1) has: tasks.epoch,
// which grows by one on each claim, tasks.committed_at, which a commit's
// fence sets, tasks.holder, lease_until, next_due and claimed_at, and
// writes to task_state. It is never linked into the binary.
package leaselog
