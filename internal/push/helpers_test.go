package push

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// within bounds every wait of these tests.
const within = 20 * time.Second

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// bed is the in-process IMAP server, behind a fault proxy when faults are
// given, and a config whose task "t" watches its INBOX.
type bed struct {
	srv   *testmail.IMAPServer
	proxy *testmail.FaultProxy
	cfg   *config.Config
	n     int // messages appended
}

func newBed(t *testing.T, timeout time.Duration, faults ...testmail.Fault) *bed {
	t.Helper()
	b := &bed{}
	var err error
	b.srv, err = testmail.StartIMAP(testmail.IMAPOptions{Username: "user", Password: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.srv.Close() })
	addr := b.srv.Addr
	if len(faults) > 0 {
		b.proxy, err = testmail.StartFaultProxy(testmail.FaultProxyOptions{Target: b.srv.Addr, Faults: faults})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.proxy.Close() })
		addr = b.proxy.Addr()
	}
	b.cfg = configFor(t, addr, timeout)
	return b
}

// scriptedBed is a bed on a scripted server (testmail.IMAPScript), for
// replies the in-process server does not give.
func scriptedBed(t *testing.T, script testmail.IMAPScript) *bed {
	t.Helper()
	srv, err := testmail.StartScripted(script.Script())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &bed{cfg: configFor(t, srv.Addr(), 10*time.Second)}
}

// configFor is a config whose task "t" watches the INBOX of the server
// at addr.
func configFor(t *testing.T, addr string, timeout time.Duration) *config.Config {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cfg, err := config.Parse(t.TempDir()+"/mailtask.toml", fmt.Appendf(nil, `
[accounts.a]
host = %q
port = %s
tls = "none"
username = "user"
password = "pass"
timeout = %q
max_connections = 1
[[task]]
name = "t"
account = "a"
destination = "out"
idle = true
`, host, port, timeout.String()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (b *bed) deliver(t *testing.T) {
	t.Helper()
	b.n++
	if _, err := b.srv.Append("INBOX", testmail.PDFMessage(strconv.Itoa(b.n)+".pdf")); err != nil {
		t.Fatal(err)
	}
}

// host stands in for the scheduler: the account's connection slots, and
// runs that the test sees and ends.
type host struct {
	slot     chan struct{}
	triggers chan time.Time // arrival of each trigger
	runs     chan chan struct{}
	statuses chan Status

	mu      sync.Mutex
	running bool
	ended   chan struct{}
}

// newHost gives the account slots connections.
func newHost(slots int) *host {
	return &host{slot: make(chan struct{}, slots), triggers: make(chan time.Time, 100), runs: make(chan chan struct{}, 100), statuses: make(chan Status, 1000)}
}

func (h *host) take(ctx context.Context) (func(), bool) {
	select {
	case h.slot <- struct{}{}:
		return func() { <-h.slot }, true
	case <-ctx.Done():
		return nil, false
	}
}

// trigger starts a run that waits for the slot, unless one is going; the
// run lasts until the test closes the channel it gets on runs.
func (h *host) trigger(arrived time.Time) (bool, <-chan struct{}) {
	h.triggers <- arrived
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running {
		return false, h.ended
	}
	h.running, h.ended = true, make(chan struct{})
	ended := h.ended
	starved := true
	select {
	case h.slot <- struct{}{}:
		starved = false
	default:
	}
	go func() {
		if starved {
			h.slot <- struct{}{}
		}
		finish := make(chan struct{})
		h.runs <- finish
		<-finish
		<-h.slot
		h.mu.Lock()
		h.running = false
		close(ended)
		h.mu.Unlock()
	}()
	return starved, ended
}

func (h *host) nextTrigger(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-h.triggers:
		return at
	case <-time.After(within):
		t.Fatal("no run asked for")
		return time.Time{}
	}
}

func (h *host) noTrigger(t *testing.T) {
	t.Helper()
	select {
	case at := <-h.triggers:
		t.Fatalf("unexpected run asked for (arrival %v)", at)
	default:
	}
}

func (h *host) nextRun(t *testing.T) chan struct{} {
	t.Helper()
	select {
	case finish := <-h.runs:
		return finish
	case <-time.After(within):
		t.Fatal("no run started")
		return nil
	}
}

// finish ends the run handed out as run, and waits until the host has no
// run going: mail reported after it then starts a run of its own, where
// a trigger racing the run's end would be folded into it (the scheduler
// runs again after such a run; this host does not), and the test would
// wait for a run that never comes.
func (h *host) finish(t *testing.T, run chan struct{}) {
	t.Helper()
	h.mu.Lock()
	ended := h.ended
	h.mu.Unlock()
	close(run)
	select {
	case <-ended:
	case <-time.After(within):
		t.Fatal("the run did not end")
	}
}

// waitState waits for a report of state and returns it.
func (h *host) waitState(t *testing.T, state State) Status {
	t.Helper()
	return h.waitStatus(t, string(state), func(s Status) bool { return s.State == state })
}

// waitStatus waits for a report that ok accepts and returns it.
func (h *host) waitStatus(t *testing.T, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case s := <-h.statuses:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("the watcher never reported %s", what)
			return Status{}
		}
	}
}

// start starts a watcher of b's task on a fake clock, without jitter.
func (b *bed) start(t *testing.T, h *host, opts ...func(*Options)) (*Watcher, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	o := Options{
		Config: b.cfg, Task: b.cfg.Tasks[0],
		Trigger: h.trigger, Slot: h.take, Report: func(s Status) { h.statuses <- s },
		Clock: clk, Jitter: func(d time.Duration) time.Duration { return d },
	}
	for _, f := range opts {
		f(&o)
	}
	w := Start(context.Background(), o)
	t.Cleanup(w.Stop)
	return w, clk
}
