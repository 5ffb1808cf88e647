// Package clock is the time source of everything in mailtask that waits:
// the scheduler's ticks and the backoff between retries. Production code
// uses Real; tests drive a Fake forward instead of sleeping, so a test of
// "the run retries after 10s" or "the task fires every second" takes no
// wall time and cannot flake on a slow machine.
package clock
