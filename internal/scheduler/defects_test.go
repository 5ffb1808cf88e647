package scheduler

import (
	"testing"

	"mailtask/internal/outcome"
	"mailtask/tasks/popimap"
)

// The defects of the files a run wrote reach /metrics, by kind.
func TestRunDefectsAreCounted(t *testing.T) {
	cfg := parse(t, t.TempDir(), task("t", "a", "@every 1s"))
	r := newRunner()
	r.auto = &result{sum: popimap.Summary{Counts: outcome.Counts{Saved: 1, Files: 2}, Defects: outcome.Defects{"damaged-base64": 2}}}
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 1)
	r.next(t)
	d.logs.waitFor(t, "INFO run", "task=t", "outcome=ok")
	if n := value(t, d.metrics, "mailtask_file_defects_total", "task=t", "defect=damaged-base64"); n != 2 {
		t.Errorf("mailtask_file_defects_total = %v, want 2", n)
	}
	d.shutdown(t)
}
