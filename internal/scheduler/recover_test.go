package scheduler

import (
	"context"
	"strings"
	"testing"

	"mailtask/tasks/popimap"
)

// A run that panics fails that run only: it is logged with its stack and
// counted as failed, the task stays scheduled and runs again at its next
// tick, and another task goes on as if nothing happened.
func TestPanickingRunFailsThatRunOnly(t *testing.T) {
	cfg := parse(t, t.TempDir(), task("bad", "a", "@every 1m")+task("good", "b", "@every 1m"))
	r := newRunner()
	r.auto = &result{}
	run := func(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
		if opts.Task.Name == "bad" {
			var none []string
			_ = none[len(opts.Task.Name)] // a real runtime panic, not a contrived one
		}
		return r.run(ctx, opts)
	}
	d := startDaemon(t, cfg, run, nil)
	for tick := 1; tick <= 2; tick++ {
		d.tick(t, 2)
		if c := r.next(t); c.opts.Task.Name != "good" {
			t.Fatalf("ran %q", c.opts.Task.Name)
		}
		d.logs.waitCount(t, tick, "ERROR run ", "task=bad", "outcome=failed", "internal error")
		d.logs.waitCount(t, tick, "INFO run ", "task=good", "outcome=ok")
	}
	line := d.logs.waitFor(t, "ERROR run panicked", "task=bad")
	if !strings.Contains(line, "index out of range") || !strings.Contains(line, "recover_test.go") {
		t.Errorf("panic line lacks the panic or its stack: %q", line)
	}
	if n := value(t, d.metrics, "mailtask_run_failures_total", "task=bad"); n != 2 {
		t.Errorf("run_failures_total{bad} = %v, want 2", n)
	}
	if n := value(t, d.metrics, "mailtask_run_failures_total", "task=good"); n != 0 {
		t.Errorf("run_failures_total{good} = %v, want 0", n)
	}
	if got := d.Tasks(); strings.Join(got, ",") != "bad,good" {
		t.Errorf("scheduled tasks after the panics: %v", got)
	}
	d.shutdown(t)
}
