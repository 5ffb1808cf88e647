package scheduler

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/tasks/popimap"
)

// mailbox is the in-process IMAP server an idle task watches, and the
// messages delivered to it.
type mailbox struct {
	srv *testmail.IMAPServer
	n   int
}

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	srv, err := testmail.StartIMAP(testmail.IMAPOptions{Username: "user", Password: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &mailbox{srv: srv}
}

// deliver appends a message with one file, n.pdf, and returns its name.
func (m *mailbox) deliver(t *testing.T) string {
	t.Helper()
	m.n++
	name := strconv.Itoa(m.n) + ".pdf"
	if _, err := m.srv.Append("INBOX", testmail.PDFMessage(name)); err != nil {
		t.Fatal(err)
	}
	return name
}

// mailConfig loads top-level keys, account "m" on addr and tasks.
func mailConfig(t *testing.T, dir, addr, top, account string, tasks ...string) *config.Config {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cfg, err := config.Parse(dir+"/mailtask.toml", fmt.Appendf(nil, `%s
[accounts.m]
host = %q
port = %s
tls = "none"
username = "user"
password = "pass"
timeout = "10s"
%s
%s`, top, host, port, account, strings.Join(tasks, "")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func idleTask(name string, extra ...string) string {
	return fmt.Sprintf("[[task]]\nname = %q\naccount = \"m\"\ndestination = %q\nidle = true\n%s\n", name, "out-"+name, strings.Join(extra, "\n"))
}

// waitFile waits for the task's destination to hold name.
func waitFile(t *testing.T, d *daemon, cfg *config.Config, task, name string) {
	t.Helper()
	path := filepath.Join(cfg.Task(task).Destination, name)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		d.logs.waitCount(t, d.logs.count("INFO run ", "task="+task)+1, "INFO run ", "task="+task)
	}
}

// The idle task runs once its watcher has connected, then on each new
// message, with the same pipeline as a scheduled run: the file is in the
// destination and the delay from the server's report to the commit is
// measured.
func TestIdleTaskRunsOnNewMail(t *testing.T) {
	m := newMailbox(t)
	dir := t.TempDir()
	cfg := mailConfig(t, dir, m.srv.Addr, "", "", idleTask("push"))
	d := startDaemon(t, cfg, popimap.Run, nil)
	if got := strings.Join(d.Tasks(), ","); got != "push" {
		t.Errorf("tasks = %s", got)
	}
	d.logs.waitFor(t, "INFO run", "task=push", "outcome=ok", "seen=0")
	d.logs.waitFor(t, "idling: waiting for new mail", "task=push")
	if n := value(t, d.metrics, "mailtask_idle_active", "task=push"); n != 1 {
		t.Errorf("idle_active = %v", n)
	}
	st, err := state.LoadIdle(cfg.StateDir, "push")
	if err != nil || st == nil || st.State != "idling" || st.PID != os.Getpid() || !st.Since.Equal(t0) {
		t.Errorf("IDLE status file: %+v, %v", st, err)
	}

	name := m.deliver(t)
	waitFile(t, d, cfg, "push", name)
	d.logs.waitFor(t, "INFO run", "task=push", "outcome=ok", "seen=1", "saved=1", "files=1")
	if n, _ := histogram(t, d, "mailtask_idle_delivery_seconds", "push"); n != 1 {
		t.Errorf("%d delivery delays observed, want 1", n)
	}
	if h := d.Health(); len(h) != 0 {
		t.Errorf("health = %v", h)
	}
	d.shutdown(t)
	d.logs.waitFor(t, "no longer watching the folder", "task=push")
	if st, _ := state.LoadIdle(cfg.StateDir, "push"); st == nil || st.State != "stopped" {
		t.Errorf("IDLE status file after the stop: %+v", st)
	}
}

// histogram returns the count and sum of the histogram name of task.
func histogram(t *testing.T, d *daemon, name, task string) (uint64, float64) {
	t.Helper()
	families, err := d.metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if l := m.GetLabel(); len(l) == 1 && l[0].GetValue() == task {
				return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Fatalf("no histogram %s{task=%q}", name, task)
	return 0, 0
}

// series counts the series of the metric name.
func series(t *testing.T, d *daemon, name string) int {
	t.Helper()
	families, err := d.metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

// With max_connections = 1 the watcher lends its connection to the runs
// of its task: new mail is still taken.
func TestIdleTaskAloneOnOneConnection(t *testing.T) {
	m := newMailbox(t)
	cfg := mailConfig(t, t.TempDir(), m.srv.Addr, "", "max_connections = 1", idleTask("push"))
	d := startDaemon(t, cfg, popimap.Run, nil)
	d.logs.waitFor(t, "INFO run", "task=push", "outcome=ok", "seen=0")
	d.logs.waitFor(t, "idling: waiting for new mail", "task=push")
	for range 3 {
		waitFile(t, d, cfg, "push", m.deliver(t))
	}
	if files, _ := os.ReadDir(cfg.Task("push").Destination); len(files) != 3 {
		t.Errorf("%d files, want 3", len(files))
	}
}

// Runs asked for while the task runs are taken by one run right after it,
// however many; each run observes the delay from the first arrival it
// takes to its commit.
func TestIdleTriggersDuringARunAreTakenByOneRunAfterIt(t *testing.T) {
	// The account points nowhere: the watcher only fails to connect, and
	// the test asks for the runs itself.
	cfg := parse(t, t.TempDir(), "[[task]]\nname = \"push\"\naccount = \"a\"\ndestination = \"out\"\nidle = true\n")
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.logs.waitFor(t, "the IDLE connection failed; reconnecting", "task=push")
	e := d.entry("push")
	ctx := context.Background()

	starved, ended := d.trigger(ctx, e, t0.Add(time.Second))
	if starved {
		t.Error("starved with both connections of the account free")
	}
	first := r.next(t)
	for i := range 3 {
		if starved, again := d.trigger(ctx, e, t0.Add(time.Duration(2+i)*time.Second)); starved || again != ended {
			t.Errorf("trigger %d during the run: starved %v, a channel of its own", i, starved)
		}
	}
	first.release <- result{sum: popimap.Summary{Counts: outcome.Counts{Saved: 1}, Committed: t0.Add(3 * time.Second)}}
	second := r.next(t)
	r.noCall(t)
	second.release <- result{sum: popimap.Summary{Counts: outcome.Counts{Saved: 3}, Committed: t0.Add(10 * time.Second)}}
	select {
	case <-ended:
	case <-time.After(within):
		t.Fatal("the task's runs never ended")
	}
	r.noCall(t)
	d.logs.waitCount(t, 2, "INFO run", "task=push")
	if n := value(t, d.metrics, "mailtask_runs_total", "task=push"); n != 2 {
		t.Errorf("runs_total = %v", n)
	}
	// 3s - 1s for the first run, 10s - 2s for the second.
	if n, sum := histogram(t, d, "mailtask_idle_delivery_seconds", "push"); n != 2 || sum != 10 {
		t.Errorf("%d delivery delays adding up to %v s, want 2 and 10", n, sum)
	}

	// Mail reported during a run that the run found itself: the run after
	// it finds nothing, and the delay is to the commit of the one before.
	_, ended = d.trigger(ctx, e, t0.Add(20*time.Second))
	third := r.next(t)
	d.trigger(ctx, e, t0.Add(21*time.Second))
	third.release <- result{sum: popimap.Summary{Counts: outcome.Counts{Saved: 2}, Committed: t0.Add(25 * time.Second)}}
	r.next(t).release <- result{}
	select {
	case <-ended:
	case <-time.After(within):
		t.Fatal("the task's runs never ended")
	}
	d.logs.waitCount(t, 4, "INFO run", "task=push")
	if n, sum := histogram(t, d, "mailtask_idle_delivery_seconds", "push"); n != 4 || sum != 10+5+4 {
		t.Errorf("%d delivery delays adding up to %v s, want 4 and 19", n, sum)
	}
}

// entry returns the task's current entry.
func (d *daemon) entry(task string) *entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.entries[task]
}

// A watcher that keeps failing makes its task unhealthy; a task without a
// schedule whose runs keep failing is unhealthy too.
func TestIdleHealth(t *testing.T) {
	cfg := parse(t, t.TempDir(), "unhealthy_after = 2\n[[task]]\nname = \"push\"\naccount = \"a\"\ndestination = \"out\"\nidle = true\n")
	r := newRunner()
	d := startDaemon(t, cfg, r.run, nil)
	d.logs.waitFor(t, "the IDLE connection failed; reconnecting", "task=push", "failures_in_a_row=1")
	if h := d.Health(); len(h) != 0 {
		t.Errorf("health after one failure = %v", h)
	}
	d.tick(t, 1) // the backoff
	d.logs.waitFor(t, "the IDLE connection failed; reconnecting", "task=push", "failures_in_a_row=2")
	h := d.Health()
	if len(h) != 1 || !strings.Contains(h[0], `task "push": its IDLE connection failed 2 times in a row (last: connect to 127.0.0.1:1 failed`) {
		t.Errorf("health = %q", h)
	}
	if n := value(t, d.metrics, "mailtask_idle_failures", "task=push"); n != 2 {
		t.Errorf("idle_failures = %v", n)
	}

	e := d.entry("push")
	for i := range 2 {
		d.trigger(context.Background(), e, time.Time{})
		r.next(t).release <- result{err: fmt.Errorf("run %d failed", i)}
		d.logs.waitCount(t, i+1, "ERROR run", "task=push")
	}
	if h := d.Health(); len(h) != 2 || !strings.Contains(strings.Join(h, "\n"), `task "push": its last 2 runs failed`) {
		t.Errorf("health = %q", h)
	}
}

// SIGHUP turning idle on starts the watcher, turning it off stops it.
func TestReloadTurnsIdleOnAndOff(t *testing.T) {
	m := newMailbox(t)
	dir := t.TempDir()
	polled := "[[task]]\nname = \"t\"\naccount = \"m\"\ndestination = \"out\"\nschedule = \"@hourly\"\n"
	cfg := mailConfig(t, dir, m.srv.Addr, "", "", polled)
	d := startDaemon(t, cfg, popimap.Run, nil)

	if err := d.Reload(mailConfig(t, dir, m.srv.Addr, "", "", polled+"idle = true\n")); err != nil {
		t.Fatal(err)
	}
	d.logs.waitFor(t, "task changed; rescheduled", "task=t", "idle=true")
	d.logs.waitFor(t, "idling: waiting for new mail", "task=t")
	logins := m.srv.Logins()
	waitFile(t, d, cfg, "t", m.deliver(t))

	if err := d.Reload(mailConfig(t, dir, m.srv.Addr, "", "", polled)); err != nil {
		t.Fatal(err)
	}
	// Reload returns once the old watcher has logged out.
	if !strings.Contains(d.logs.String(), "no longer watching the folder mailbox=INBOX") {
		t.Errorf("the watcher was not stopped:\n%s", d.logs.String())
	}
	if n := series(t, d, "mailtask_idle_active"); n != 0 {
		t.Errorf("%d idle_active series after idle was turned off", n)
	}
	runs := d.logs.count("INFO run ", "task=t")
	m.deliver(t)
	// The hourly tick still runs the task; nothing else does.
	d.tick(t, 1)
	d.logs.waitCount(t, runs+1, "INFO run ", "task=t")
	if got := d.logs.count("INFO run ", "task=t"); got != runs+1 {
		t.Errorf("%d runs after turning idle off, want the one tick", got-runs)
	}
	if m.srv.Logins() <= logins {
		t.Error("the tick did not sign in")
	}
}
