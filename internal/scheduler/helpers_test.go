package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/metrics"
	"mailtask/tasks/popimap"
)

// within bounds every wait of these tests.
const within = 20 * time.Second

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// parse loads a config with accounts "a" and "b", and text: top-level
// keys, then tasks.
func parse(t *testing.T, dir, text string) *config.Config {
	t.Helper()
	top, tasks, _ := strings.Cut(text, "[[task]]")
	cfg, err := config.Parse(dir+"/mailtask.toml", []byte(top+`
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[accounts.b]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]`+tasks))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func task(name, account, schedule string, extra ...string) string {
	return fmt.Sprintf("[[task]]\nname = %q\naccount = %q\ndestination = %q\nschedule = %q\n%s\n", name, account, "out-"+name, schedule, strings.Join(extra, "\n"))
}

// call is one run the fake runner was asked for.
type call struct {
	opts    popimap.Options
	release chan result // the test answers here
}

type result struct {
	sum popimap.Summary
	err error
}

// runner is a fake popimap.RunFunc: each run is reported on calls and
// lasts until the test releases it (or, with auto, returns at once).
type runner struct {
	calls chan call
	auto  *result

	mu          sync.Mutex
	active      int
	maxActive   int
	activeOf    map[string]int // by account
	maxActiveOf map[string]int
}

func newRunner() *runner {
	return &runner{calls: make(chan call, 100), activeOf: map[string]int{}, maxActiveOf: map[string]int{}}
}

func (r *runner) run(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
	acct := opts.Task.Account
	r.mu.Lock()
	r.active++
	r.maxActive = max(r.maxActive, r.active)
	r.activeOf[acct]++
	r.maxActiveOf[acct] = max(r.maxActiveOf[acct], r.activeOf[acct])
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.active--
		r.activeOf[acct]--
		r.mu.Unlock()
	}()
	c := call{opts: opts, release: make(chan result, 1)}
	if r.auto != nil {
		c.release <- *r.auto
	}
	r.calls <- c
	select {
	case res := <-c.release:
		res.sum.Task = opts.Task.Name
		return res.sum, res.err
	case <-ctx.Done():
		return popimap.Summary{Task: opts.Task.Name}, ctx.Err()
	}
}

func (r *runner) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-r.calls:
		return c
	case <-time.After(within):
		t.Fatal("no run started")
		return call{}
	}
}

func (r *runner) noCall(t *testing.T) {
	t.Helper()
	select {
	case c := <-r.calls:
		t.Fatalf("unexpected run of %q", c.opts.Task.Name)
	default:
	}
}

// logs is a slog handler whose records a test can wait for: the
// scheduler's log lines are its observable events.
type logs struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogs() *logs { return &logs{changed: make(chan struct{})} }

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs(as []slog.Attr) slog.Handler    { return withAttrs{l, as} }
func (l *logs) WithGroup(string) slog.Handler            { return l }

// withAttrs is a logger's With: its attributes follow the record's own.
type withAttrs struct {
	l     *logs
	attrs []slog.Attr
}

func (h withAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (h withAttrs) WithGroup(string) slog.Handler            { return h }
func (h withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return withAttrs{h.l, append(slices.Clip(h.attrs), as...)}
}
func (h withAttrs) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	return h.l.Handle(ctx, r)
}
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// waitFor returns the first line containing every one of parts, waiting
// for it to be logged.
func (l *logs) waitFor(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(within)
	for {
		l.mu.Lock()
		changed := l.changed
		for _, line := range l.lines {
			if containsAll(line, parts) {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no log line with %q in:\n%s", parts, l.String())
		}
	}
}

// waitCount waits until n lines contain every one of parts.
func (l *logs) waitCount(t *testing.T, n int, parts ...string) {
	t.Helper()
	deadline := time.After(within)
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		if l.count(parts...) >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("fewer than %d log lines with %q in:\n%s", n, parts, l.String())
		}
	}
}

func (l *logs) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if containsAll(line, parts) {
			n++
		}
	}
	return n
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// daemon is a Scheduler under test, running on a fake clock.
type daemon struct {
	*Scheduler
	clk     *clock.Fake
	logs    *logs
	metrics *metrics.Metrics
	stop    chan struct{}
	done    chan struct{} // closed when Run returned
	err     error         // what Run returned
}

func startDaemon(t *testing.T, cfg *config.Config, run popimap.RunFunc, jitter func(time.Duration) time.Duration) *daemon {
	t.Helper()
	d := &daemon{clk: clock.NewFake(t0), logs: newLogs(), metrics: metrics.New(), stop: make(chan struct{}), done: make(chan struct{})}
	s, err := New(cfg, Options{Run: run, Clock: d.clk, Log: slog.New(d.logs), Metrics: d.metrics, Jitter: jitter, Stop: d.stop})
	if err != nil {
		t.Fatal(err)
	}
	d.Scheduler = s
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		d.err = s.Run(ctx)
		close(d.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(within):
			t.Error("scheduler did not end")
		}
	})
	return d
}

// tick waits until n timers are armed, then moves to the earliest.
func (d *daemon) tick(t *testing.T, n int) {
	t.Helper()
	if err := d.clk.WaitForTimers(n, within); err != nil {
		t.Fatal(err)
	}
	if _, err := d.clk.AdvanceToNext(); err != nil {
		t.Fatal(err)
	}
}

func (d *daemon) shutdown(t *testing.T) {
	t.Helper()
	close(d.stop)
	select {
	case <-d.done:
		if d.err != nil {
			t.Errorf("Run: %v", d.err)
		}
	case <-time.After(within):
		t.Fatal("scheduler did not stop")
	}
}

// value returns the value of the metric name whose labels are exactly
// labels ("key=value" each), or fails.
func value(t *testing.T, m *metrics.Metrics, name string, labels ...string) float64 {
	t.Helper()
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		want[k] = v
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, mt := range f.GetMetric() {
			if len(mt.GetLabel()) != len(want) {
				continue
			}
			for _, p := range mt.GetLabel() {
				if want[p.GetName()] != p.GetValue() {
					continue metric
				}
			}
			switch {
			case mt.Counter != nil:
				return mt.Counter.GetValue()
			case mt.Gauge != nil:
				return mt.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}
