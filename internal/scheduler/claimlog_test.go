package scheduler

import (
	"context"
	"testing"

	"mailtask/tasks/popimap"
)

// TestFailingClaimsAreLoggedOnceAMinute: a node polls every second, so a
// database that is away for an hour used to leave 3,600 warnings per
// node. The first failure of a row is logged, not each one; /healthz
// counts them all; and the first claim that works says the database is
// back and after how many.
func TestFailingClaimsAreLoggedOnceAMinute(t *testing.T) {
	cfg := clusterConfig(t, "unhealthy_after = 2\n"+task("t", "a", "@every 1h"))
	l := newLogs()
	n := startNode(t, cfg, "node-a", l, func(_ context.Context, opts popimap.Options) (popimap.Summary, error) {
		return popimap.Summary{Task: opts.Task.Name}, nil
	})
	waitPolls(t, 1, n)
	adminExec(t, "ALTER TABLE tasks RENAME TO tasks_away")
	waitPolls(t, 2, n)
	if got := l.count("could not claim due tasks from the database"); got != 1 {
		t.Errorf("%d warnings for 2 failed claims in a row, want 1:\n%s", got, l)
	}
	if h := n.Health(); len(h) != 1 {
		t.Errorf("health after 2 failed claims: %q", h)
	}
	adminExec(t, "ALTER TABLE tasks_away RENAME TO tasks")
	l.waitFor(t, "the database answers again; claiming due tasks")
	if h := n.Health(); len(h) != 0 {
		t.Errorf("health once claims work again: %q", h)
	}
}
