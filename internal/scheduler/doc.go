// Package scheduler runs every scheduled task of a configuration on its
// cron schedule, and every task with idle = true when new mail arrives,
// unattended, for as long as the daemon lives.
//
// Schedules are parsed by robfig/cron (five fields, an optional seconds
// field, descriptors, CRON_TZ=); the waiting is done here, on an injectable
// clock, so that tests drive time instead of sleeping and a reload can
// replace one task's timer without touching the others.
//
// What it guarantees:
//   - one run per task at a time: a tick that comes while the previous run
//     is still going is skipped and logged, and a task locked by another
//     process (a manual run-task) is skipped, not failed;
//   - at most max_concurrent_tasks runs at once, and at most an account's
//     max_connections runs against one mailbox; a run waits for a free slot;
//   - an optional per-task jitter spreads tasks sharing a schedule;
//   - a task with idle has a watcher (package push, started and stopped
//     here: push.go) whose IDLE connection counts against max_connections;
//     a run it asks for while one is going runs once right after it;
//   - Reload applies a new configuration: added, removed and changed tasks
//     take effect at once, runs in progress finish under the configuration
//     they started with;
//   - a stop ends scheduling and hands runs in progress a stop signal, on
//     which they finish and commit the message in hand and log out.
package scheduler
