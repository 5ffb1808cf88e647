package scheduler

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"mailtask/internal/clock"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

func TestTasksRunOnTheirSchedules(t *testing.T) {
	cfg := parse(t, t.TempDir(),
		task("every-second", "a", "@every 1s")+
			task("even-seconds", "b", "*/2 * * * * *")+ // with the optional seconds field
			"[[task]]\nname = \"manual\"\naccount = \"a\"\ndestination = \"m\"\n") // no schedule: run-task only
	r := newRunner()
	r.auto = &result{}
	d := startDaemon(t, cfg, r.run, nil)
	if got := d.Tasks(); strings.Join(got, ",") != "even-seconds,every-second" {
		t.Errorf("scheduled tasks = %v", got)
	}
	runs := map[string][]time.Time{}
	reported := 0
	for sec := 1; sec <= 4; sec++ {
		if err := d.clk.WaitForTimers(2, within); err != nil {
			t.Fatal(err)
		}
		d.clk.Advance(time.Second)
		due := 1 // every-second, and even-seconds on even seconds
		if sec%2 == 0 {
			due = 2
		}
		for range due {
			c := r.next(t)
			runs[c.opts.Task.Name] = append(runs[c.opts.Task.Name], d.clk.Now())
		}
		reported += due
		d.logs.waitCount(t, reported, "INFO run ")
	}
	if n := len(runs["every-second"]); n != 4 {
		t.Errorf("every-second ran %d times in 4s: %v", n, runs["every-second"])
	}
	if n := len(runs["even-seconds"]); n != 2 {
		t.Errorf("even-seconds ran %d times in 4s: %v", n, runs["even-seconds"])
	}
	for _, at := range runs["even-seconds"] {
		if at.Second()%2 != 0 {
			t.Errorf("even-seconds ran at %s", at)
		}
	}
	d.logs.waitFor(t, "INFO run", "task=every-second", "outcome=ok", "seen=0", "files=0", "bytes=0", "duration=")
	d.shutdown(t)
	r.noCall(t)
}

func TestOverlappingTickIsSkipped(t *testing.T) {
	cfg := parse(t, t.TempDir(), task("slow", "a", "@every 1s"))
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 1)
	first := r.next(t) // still going
	d.tick(t, 1)
	d.logs.waitFor(t, "skipping this run: the previous run of the task is still going", "task=slow")
	d.tick(t, 1)
	d.logs.waitCount(t, 2, "skipping", "task=slow")
	if n := value(t, d.metrics, "mailtask_runs_skipped_total", "task=slow", "reason=overlap"); n != 2 {
		t.Errorf("runs_skipped_total{overlap} = %v", n)
	}
	r.noCall(t)

	first.release <- result{sum: popimap.Summary{Counts: outcome.Counts{Seen: 2, Saved: 2, Files: 3, Bytes: 300}}}
	d.logs.waitFor(t, "INFO run", "task=slow", "outcome=ok", "seen=2", "files=3", "bytes=300")
	d.tick(t, 1)
	second := r.next(t)
	second.release <- result{}
	d.logs.waitFor(t, "INFO run", "task=slow", "seen=0")
	if n := value(t, d.metrics, "mailtask_runs_total", "task=slow"); n != 2 {
		t.Errorf("runs_total = %v", n)
	}
}

// A manual run-task holding the task's lock makes the daemon skip that
// run, not fail it.
func TestTaskLockedByAnotherRunnerIsSkipped(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, dir, task("t", "a", "@every 1s", "retries = 0"))
	lock, err := state.Lock(cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg, popimap.Unattended(clock.Real), nil)
	d.tick(t, 1)
	line := d.logs.waitFor(t, "skipping this run: another process is running the task", "task=t")
	if !strings.Contains(line, "pid=") {
		t.Errorf("line = %q", line)
	}
	if n := value(t, d.metrics, "mailtask_runs_skipped_total", "task=t", "reason=locked"); n != 1 {
		t.Errorf("runs_skipped_total{locked} = %v", n)
	}
	if n := value(t, d.metrics, "mailtask_run_failures_total", "task=t"); n != 0 {
		t.Errorf("run_failures_total = %v", n)
	}
	lock.Unlock()

	// With the lock free the daemon's run is a real one, which fails to
	// connect (nothing listens on port 1) and says why.
	d.tick(t, 1)
	line = d.logs.waitFor(t, "ERROR run", "task=t", "outcome=failed")
	if !strings.Contains(line, "connect to 127.0.0.1:1 failed") || !strings.Contains(line, "hint=Nothing accepts connections") {
		t.Errorf("failure line = %q", line)
	}
}

func TestConcurrencyLimitsHold(t *testing.T) {
	// Global limit 2; account a allows one connection at a time.
	cfg := parse(t, t.TempDir(), "max_concurrent_tasks = 2\n"+
		task("a1", "a", "@every 1m")+task("a2", "a", "@every 1m")+
		task("b1", "b", "@every 1m")+task("b2", "b", "@every 1m"))
	cfg.Accounts["a"].MaxConnections = 1
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 4) // all four fall due together

	// a1 and a2 both need account a: one waits for it. Three runs then
	// hold an account slot and compete for two global ones: one waits.
	d.logs.waitFor(t, "run waits for a free slot", "limit=max_connections of account a", "max=1")
	d.logs.waitFor(t, "run waits for a free slot", "limit=max_concurrent_tasks", "max=2")
	first := []call{r.next(t), r.next(t)}
	r.noCall(t) // the two others are blocked, as logged
	if first[0].opts.Task.Account == "a" && first[1].opts.Task.Account == "a" {
		t.Error("two runs of account a at once")
	}
	// Releasing runs lets the waiting ones in, until all four have run.
	for _, c := range first {
		c.release <- result{}
	}
	for range 2 {
		r.next(t).release <- result{}
	}
	d.logs.waitCount(t, 4, "INFO run ")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxActive != 2 || r.maxActiveOf["a"] != 1 {
		t.Errorf("at most %d runs at once (%d of account a), want 2 (1)", r.maxActive, r.maxActiveOf["a"])
	}
}

// A run fetches over a further connection of its account only while one
// is free, and holds it from the account's other runs until it gives it
// back.
func TestFurtherConnectionsOnlyWhenFree(t *testing.T) {
	cfg := parse(t, t.TempDir(), task("big", "a", "@every 1m")+task("small", "a", "@every 90s"))
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 2) // 1m: big
	big := r.next(t)
	release, ok := big.opts.MoreConnections()
	if !ok {
		t.Fatal("no further connection with one of two free")
	}
	if _, ok := big.opts.MoreConnections(); ok {
		t.Fatal("a third connection beyond max_connections = 2")
	}
	d.tick(t, 2) // 1m30s: small, while big holds both connections
	d.logs.waitFor(t, "run waits for a free slot", "task=small", "limit=max_connections of account a")
	r.noCall(t)
	release()
	small := r.next(t)
	if small.opts.Task.Name != "small" {
		t.Fatalf("started %q", small.opts.Task.Name)
	}
	if _, ok := small.opts.MoreConnections(); ok {
		t.Error("a further connection while big and small hold both")
	}
	small.release <- result{}
	big.release <- result{}
	d.logs.waitCount(t, 2, "INFO run ")
}

func TestJitterDelaysWithoutDrift(t *testing.T) {
	cfg := parse(t, t.TempDir(), task("j", "a", "@every 1m", `jitter = "20s"`))
	r := newRunner()
	r.auto = &result{}
	var asked []time.Duration
	jitter := func(max time.Duration) time.Duration {
		asked = append(asked, max)
		return 7 * time.Second
	}
	d := startDaemon(t, cfg, r.run, jitter)
	for i := 1; i <= 3; i++ {
		d.tick(t, 1)
		r.next(t)
		d.logs.waitCount(t, i, "INFO run ")
		want := t0.Add(time.Duration(i)*time.Minute + 7*time.Second)
		if now := d.clk.Now(); !now.Equal(want) {
			t.Errorf("run %d at %s, want %s", i, now.Format(time.TimeOnly), want.Format(time.TimeOnly))
		}
	}
	d.shutdown(t)
	if len(asked) < 3 || asked[0] != 20*time.Second {
		t.Errorf("jitter asked for %v", asked)
	}
	if n := value(t, d.metrics, "mailtask_next_run_timestamp_seconds", "task=j"); n != float64(t0.Add(4*time.Minute+7*time.Second).Unix()) {
		t.Errorf("next_run = %v", n)
	}
}

func TestReloadAddsRemovesAndChangesTasks(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, dir, task("kept", "a", "@every 1m")+task("changed", "a", "@every 1m")+task("removed", "b", "@every 1m"))
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 3)
	running := map[string]call{}
	for range 3 {
		c := r.next(t)
		running[c.opts.Task.Name] = c
	}

	// Mid-run, "changed" moves to every 10s with another destination,
	// "removed" goes and "added" comes.
	next := parse(t, dir, task("kept", "a", "@every 1m")+task("changed", "a", "@every 10s")+task("added", "b", "@every 10s"))
	// "kept" and its account moved to a file of their own, unchanged: an
	// include's file split in two must not restart their schedules.
	next.Task("kept").File = filepath.Join(dir, "conf.d", "kept.toml")
	next.Accounts["a"].File = filepath.Join(dir, "conf.d", "kept.toml")
	if err := d.Reload(next); err != nil {
		t.Fatal(err)
	}
	d.logs.waitFor(t, "task changed; rescheduled", "task=changed")
	if n := d.logs.count("rescheduled", "task=kept"); n != 0 {
		t.Errorf("the task moved to another file was rescheduled:\n%s", d.logs.String())
	}
	d.logs.waitFor(t, "task removed from the configuration", "task=removed")
	d.logs.waitFor(t, "task added", "task=added")
	if got := strings.Join(d.Tasks(), ","); got != "added,changed,kept" {
		t.Errorf("tasks after reload = %s", got)
	}
	// Runs in progress go on under the configuration they started with.
	if got := running["changed"].opts.Task.Schedule; got != "@every 1m" {
		t.Errorf("running task's config was changed under it: %q", got)
	}
	for _, c := range running {
		c.release <- result{}
	}
	d.logs.waitCount(t, 3, "INFO run ") // the removed task's run too

	// At +1m10s "changed" and "added" fire on their new schedule; the
	// next minute tick of "kept" comes at +2m.
	d.tick(t, 3)
	got := map[string]bool{}
	for range 2 {
		c := r.next(t)
		got[c.opts.Task.Name] = true
		if c.opts.Task.Name == "changed" && c.opts.Task.Schedule != "@every 10s" {
			t.Errorf("changed task runs with %q", c.opts.Task.Schedule)
		}
		c.release <- result{}
	}
	if !got["changed"] || !got["added"] || !d.clk.Now().Equal(t0.Add(70*time.Second)) {
		t.Errorf("at %s ran %v", d.clk.Now().Format(time.TimeOnly), got)
	}
	r.noCall(t)
	if n, err := testutil.GatherAndCount(d.metrics.Gatherer(), "mailtask_runs_total"); n != 3 {
		t.Errorf("%d runs_total series (%v), want 3 (the removed task's are gone)", n, err)
	}
}

// A reload that comes before Run has started the loops (a SIGHUP as the
// daemon starts) says what it added, as any other does.
func TestReloadBeforeRunLogsTheTaskAdded(t *testing.T) {
	dir := t.TempDir()
	l := newLogs()
	s, err := New(parse(t, dir, task("kept", "a", "@every 1m")), Options{Run: newRunner().run, Clock: clock.NewFake(t0), Log: slog.New(l)})
	if err != nil {
		t.Fatal(err)
	}
	if n := l.count("task added"); n != 0 {
		t.Fatalf("New logged %d tasks added, want none:\n%s", n, l)
	}
	if err := s.Reload(parse(t, dir, task("kept", "a", "@every 1m")+task("added", "b", "@every 1m"))); err != nil {
		t.Fatal(err)
	}
	if n, all := l.count("task added", "task=added"), l.count("task added"); n != 1 || all != 1 {
		t.Errorf("the reload logged %d lines of the task added (%d in all), want 1:\n%s", n, all, l)
	}
}

func TestReloadKeepsARunningChangedTaskFromOverlapping(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, dir, task("t", "a", "@every 1m"))
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 1)
	old := r.next(t)
	if err := d.Reload(parse(t, dir, task("t", "a", "@every 10s"))); err != nil {
		t.Fatal(err)
	}
	d.logs.waitFor(t, "task changed", "task=t")
	d.tick(t, 1)
	d.logs.waitFor(t, "skipping this run: the previous run of the task is still going", "task=t")
	r.noCall(t)
	old.release <- result{}
}

func TestStopEndsSchedulingAndLetsRunsFinish(t *testing.T) {
	cfg := parse(t, t.TempDir(), "max_concurrent_tasks = 1\n"+task("first", "a", "@every 1m")+task("second", "b", "@every 1m"))
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 2)
	c := r.next(t)
	d.logs.waitFor(t, "run waits for a free slot")
	close(d.stop)
	// The run in progress is told to stop; the one waiting is dropped.
	select {
	case <-c.opts.Stop:
	case <-time.After(within):
		t.Fatal("the run in progress was not told to stop")
	}
	d.logs.waitFor(t, "run dropped: the daemon is stopping")
	select {
	case <-d.done:
		t.Fatal("Run returned while a run was in progress")
	default:
	}
	c.release <- result{sum: popimap.Summary{Counts: outcome.Counts{Saved: 1}, Stopped: true}}
	select {
	case <-d.done:
	case <-time.After(within):
		t.Fatal("Run did not return")
	}
	d.logs.waitFor(t, "INFO run", "outcome=stopped")
	r.noCall(t)
	if err := d.Reload(cfg); err == nil {
		t.Error("Reload after stop succeeded")
	}
	if p := d.clk.Pending(); len(p) != 0 {
		t.Errorf("timers left armed: %v", p)
	}
}

func TestHealth(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, dir, "unhealthy_after = 2\n"+task("t", "a", "@every 1m")+task("fine", "b", "@every 1m"))
	// "fine" last succeeded before this daemon started, per its state file.
	st, err := state.Load(cfg.StateDir, "fine")
	if err != nil {
		t.Fatal(err)
	}
	st.LastSuccess = &state.Run{Started: t0.Add(-time.Hour), Duration: time.Second, Outcome: "ok"}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	if n := value(t, d.metrics, "mailtask_last_success_timestamp_seconds", "task=fine"); n != float64(t0.Add(-time.Hour+time.Second).Unix()) {
		t.Errorf("last_success from state = %v", n)
	}
	reported := 0
	fail := func() {
		reported += 2
		defer d.logs.waitCount(t, reported, " run ")
		for range 2 {
			c := r.next(t)
			if c.opts.Task.Name == "t" {
				c.release <- result{err: errors.New("imap: NO AUTHENTICATE failed.")}
			} else {
				c.release <- result{}
			}
		}
	}
	d.tick(t, 2)
	fail()
	d.tick(t, 2)
	fail()
	// Two intervals without success end at +2m: still healthy at that instant.
	if h := d.Health(); len(h) != 0 {
		t.Errorf("health at +2m = %v", h)
	}
	d.tick(t, 2)
	c1, c2 := r.next(t), r.next(t)
	h := d.Health()
	if len(h) != 1 || !strings.Contains(h[0], `task "t": no successful run in 2 schedule intervals (@every 1m) since 2025-03-01T08:00:00Z; last success: none recorded`) {
		t.Errorf("health at +3m = %q", h)
	}
	for _, c := range []call{c1, c2} {
		c.release <- result{}
	}
	d.logs.waitFor(t, "INFO run", "task=t", "outcome=ok")
	if h := d.Health(); len(h) != 0 {
		t.Errorf("health after success = %v", h)
	}
}

func TestNewRejectsMissingRunner(t *testing.T) {
	cfg := parse(t, t.TempDir(), task("t", "a", "@every 1m"))
	if _, err := New(cfg, Options{}); err == nil {
		t.Error("New without Run succeeded")
	}
}

// A huge unhealthy_after made every /healthz walk the schedule that many
// intervals ahead while holding the scheduler's lock, stalling runs for
// seconds. Health now walks no further than the present. (Validation
// bounds unhealthy_after; this sets it beyond, as an old file could.)
func TestHealthWithHugeUnhealthyAfterIsQuick(t *testing.T) {
	cfg := parse(t, t.TempDir(), task("t", "a", "@every 1s"))
	cfg.UnhealthyAfter = 1 << 40
	r := newRunner()
	r.auto = &result{}
	d := startDaemon(t, cfg, r.run, nil)
	health := make(chan []string, 1)
	go func() { health <- d.Health() }()
	select {
	case h := <-health:
		if len(h) != 0 {
			t.Errorf("health = %v", h)
		}
	case <-time.After(within):
		t.Fatal("Health did not return")
	}
	d.tick(t, 1) // and the scheduler still runs the task
	r.next(t)
	d.logs.waitFor(t, "INFO run", "task=t")
}

// TestReloadLogsInFileOrder: a reload that removes and adds many tasks
// logs them in the order of the files, the same every time.
func TestReloadLogsInFileOrder(t *testing.T) {
	names := []string{"k", "c", "x", "a", "q", "f", "m", "b", "z", "h", "t", "e"}
	var before, after string
	for _, n := range names {
		before += task("old-"+n, "a", "@every 1m")
		after += task("new-"+n, "b", "@every 1m")
	}
	dir := t.TempDir()
	d := startDaemon(t, parse(t, dir, before), newRunner().run, nil)
	if err := d.clk.WaitForTimers(len(names), within); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(parse(t, dir, after)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ message, prefix string }{
		{"task removed from the configuration", "task=old-"},
		{"task added", "task=new-"},
	} {
		d.logs.waitCount(t, len(names), c.message)
		var got []string
		for line := range strings.Lines(d.logs.String()) {
			if strings.Contains(line, c.message) {
				_, rest, _ := strings.Cut(line, c.prefix)
				name, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
				got = append(got, name)
			}
		}
		if strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("%q logged for %s, want the file's order %s", c.message, strings.Join(got, ","), strings.Join(names, ","))
		}
	}
}

// The daemon's runs share one TLS cache, so that a run's connection
// resumes the TLS session of the one before; a reload starts a new one,
// since a ca_file may have changed under its name.
func TestRunsShareATLSCacheUntilAReload(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, dir, task("one", "a", "@every 1m")+task("two", "b", "@every 1m"))
	r := newRunner()
	r.auto = &result{}
	d := startDaemon(t, cfg, r.run, nil)
	d.tick(t, 2)
	first, second := r.next(t), r.next(t)
	if first.opts.TLS == nil || first.opts.TLS != second.opts.TLS {
		t.Fatalf("the runs' TLS caches: %p and %p, want one shared", first.opts.TLS, second.opts.TLS)
	}
	if err := d.Reload(parse(t, dir, task("one", "a", "@every 1m")+task("two", "b", "@every 1m"))); err != nil {
		t.Fatal(err)
	}
	d.tick(t, 2)
	if after := r.next(t); after.opts.TLS == nil || after.opts.TLS == first.opts.TLS {
		t.Fatalf("after a reload the run's TLS cache is %p, want a new one (was %p)", after.opts.TLS, first.opts.TLS)
	}
}
