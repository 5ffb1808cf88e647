package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailtask/internal/testmail/clusterwatch"
)

// chaosNode is one `mailtask run` of a cluster: a directory of its own
// holding the cluster's configuration (the same text on every node) and
// its local state_dir, and the process now running, restarted after each
// kill -9. Its counters survive its restarts: they are read from /metrics
// before each kill and at the end.
type chaosNode struct {
	name   string // node-1 ...
	dir    string
	config string

	proc    *child
	metrics string // host:port of its /metrics

	// counted holds, per counter, the sum over the processes that have
	// ended of the last value each showed.
	counted map[string]float64
	// past is the log of the processes that have ended, for a failure
	// to be traced to what the node did (logAbout).
	past []string
}

// logAbout returns the node's log lines, of every process it ran, that
// name task and were written from `from` to `to`, the last `most` of them.
func (n *chaosNode) logAbout(task string, from, to time.Time, most int) []string {
	var lines []string
	for _, l := range append(slices.Clone(n.past), strings.Split(n.proc.output(), "\n")...) {
		stamp, _, _ := strings.Cut(strings.TrimPrefix(l, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || at.Before(from) || at.After(to) || !strings.Contains(l, "="+task+" ") && !strings.HasSuffix(l, "="+task) {
			continue
		}
		lines = append(lines, l)
	}
	return lines[max(0, len(lines)-most):]
}

// startNode starts the process of n and waits until it serves /metrics
// and runs its tasks.
func (n *chaosNode) start(t *testing.T) {
	t.Helper()
	if n.proc != nil {
		n.past = append(n.past, strings.Split(n.proc.output(), "\n")...)
	}
	n.proc = startChild(t, "run", "--config", n.config)
	line := n.proc.waitLine(t, "serving /metrics and /healthz")
	m := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("%s: no address in %q", n.name, line)
	}
	n.metrics = m[1]
	n.proc.waitLine(t, "mailtask daemon started")
}

func (n *chaosNode) pid() int { return n.proc.cmd.Process.Pid }

// scrape reads the node's counters now.
func (n *chaosNode) scrape(t *testing.T) clusterwatch.Metrics {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	m, err := clusterwatch.Scrape(ctx, n.metrics)
	if err != nil {
		t.Fatalf("%s: %v\n%s", n.name, err, n.proc.output())
	}
	return m
}

// count adds the counters of the process about to end to what earlier
// ones counted.
func (n *chaosNode) count(t *testing.T, names ...string) {
	t.Helper()
	m := n.scrape(t)
	if n.counted == nil {
		n.counted = map[string]float64{}
	}
	for _, name := range names {
		n.counted[name] += m.Sum(name)
	}
}

// kill9 kills the node's process with SIGKILL, its counters read first,
// and waits for it to be reaped.
func (n *chaosNode) kill9(t *testing.T, counters ...string) {
	t.Helper()
	n.count(t, counters...)
	n.proc.signal(t, syscall.SIGKILL)
	n.proc.wait(t)
}

// wipe removes the node's local directories (its state_dir: the spool,
// anything cached), as a pod rescheduled onto another machine starts
// without them.
func (n *chaosNode) wipe(t *testing.T) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(n.dir, "state")); err != nil {
		t.Fatal(err)
	}
}

// terminate ends the node with SIGTERM, its counters read first, and
// requires a clean exit.
func (n *chaosNode) terminate(t *testing.T, counters ...string) {
	t.Helper()
	n.count(t, counters...)
	n.proc.signal(t, syscall.SIGTERM)
	if code, _ := n.proc.wait(t); code != exitOK {
		t.Errorf("%s exited %d after SIGTERM:\n%s", n.name, code, lastLines(n.proc.output(), 40))
	}
}

// pauses records every SIGSTOP of a node's process, until its SIGCONT.
type pauses struct {
	mu   sync.Mutex
	list []pause
}

// stop sends SIGSTOP to n.
func (p *pauses) stop(t *testing.T, n *chaosNode) {
	t.Helper()
	p.mu.Lock()
	p.list = append(p.list, pause{pid: n.pid(), from: time.Now()})
	p.mu.Unlock()
	n.proc.signal(t, syscall.SIGSTOP)
}

// resume sends SIGCONT to n.
func (p *pauses) resume(t *testing.T, n *chaosNode) {
	t.Helper()
	n.proc.signal(t, syscall.SIGCONT)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.list {
		if p.list[i].pid == n.pid() && p.list[i].til.IsZero() {
			p.list[i].til = time.Now()
		}
	}
}

func (p *pauses) all() []pause {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pause(nil), p.list...)
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
