package popimap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/outcome"
	"mailtask/internal/testmail"
)

// faults counts a test server's commands and fails the first few of one.
type faults struct {
	mu    sync.Mutex
	calls map[string]int
	cmd   string // the command to fail
	times int    // how many of its calls fail; -1 for all
	err   error  // the failure
}

func (f *faults) hook(cmd string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[cmd]++
	if cmd == f.cmd && (f.times < 0 || f.calls[cmd] <= f.times) {
		return f.err
	}
	return nil
}

func (f *faults) count(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[cmd]
}

var unavailable = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Server Unavailable. 15"}

// retrying runs f's task through Retry on a fake clock whose waits are the
// doubled backoff exactly, and returns the waits it asked for.
type retrying struct {
	clk    *clock.Fake
	result chan error
	sum    Summary
	log    bytes.Buffer
}

func startRetrying(t *testing.T, f *fixture, stop <-chan struct{}) *retrying {
	t.Helper()
	r := &retrying{clk: clock.NewFake(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)), result: make(chan error, 1)}
	run := Retry(Run, Backoff{Clock: r.clk, Jitter: func(d time.Duration) time.Duration { return d }})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(&r.log, nil))
	go func() {
		sum, err := run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: log, Stop: stop})
		r.sum = sum
		r.result <- err
	}()
	return r
}

// waits advances the clock through n backoff waits and returns them.
func (r *retrying) waits(t *testing.T, n int) []time.Duration {
	t.Helper()
	var waits []time.Duration
	for range n {
		if err := r.clk.WaitForTimers(1, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		d, err := r.clk.AdvanceToNext()
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	return waits
}

func (r *retrying) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.result:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end")
		return nil
	}
}

func TestRetryTransientFailuresWithBackoffThenSucceed(t *testing.T) {
	for _, c := range []struct {
		name string
		cmd  string
		err  error
	}{
		{"NO [UNAVAILABLE] at login", "LOGIN", unavailable},
		{"throttled select", "SELECT", &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Request is throttled. Suggested Backoff Time: 299 milliseconds"}},
		{"connection dropped mid-fetch", "FETCH", testmail.ErrDrop},
		{"Gmail's connection limit at login", "LOGIN", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlert, Text: "Too many simultaneous connections. (Failure)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			flt := &faults{cmd: c.cmd, times: 3, err: c.err}
			f := newFixture(t, testmail.IMAPOptions{Fault: flt.hook}, "retries = 3")
			f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")}))
			r := startRetrying(t, f, nil)
			waits := r.waits(t, 3)
			if err := r.wait(t); err != nil {
				t.Fatalf("run failed after retries: %v\n%s", err, r.log.String())
			}
			if want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}; fmt.Sprint(waits) != fmt.Sprint(want) {
				t.Errorf("waits = %v, want %v", waits, want)
			}
			if n := flt.count(c.cmd); n != 4 {
				t.Errorf("%s sent %d times, want 4", c.cmd, n)
			}
			if r.sum.Files != 1 || r.sum.Seen != 1 || len(f.files()) != 1 {
				t.Errorf("summary %+v, files %v", r.sum, sortedKeys(f.files()))
			}
			if strings.Count(r.log.String(), "retrying") != 3 {
				t.Errorf("log:\n%s", r.log.String())
			}
		})
	}
}

// Exchange Online says how long a throttled mailbox should wait: the
// retry waits that long rather than be throttled again after 10 s.
func TestRetryWaitsTheBackoffExchangeSuggests(t *testing.T) {
	flt := &faults{cmd: "SELECT", times: 1, err: &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Request is throttled. Suggested Backoff Time: 299910 milliseconds"}}
	f := newFixture(t, testmail.IMAPOptions{Fault: flt.hook}, "retries = 1")
	f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")}))
	r := startRetrying(t, f, nil)
	waits := r.waits(t, 1)
	if err := r.wait(t); err != nil {
		t.Fatalf("run failed after the retry: %v\n%s", err, r.log.String())
	}
	if want := 299910 * time.Millisecond; len(waits) != 1 || waits[0] != want {
		t.Errorf("waits = %v, want %v", waits, want)
	}
	if r.sum.Files != 1 {
		t.Errorf("summary %+v", r.sum)
	}
}

func TestRetryIsBounded(t *testing.T) {
	flt := &faults{cmd: "LOGIN", times: -1, err: unavailable}
	f := newFixture(t, testmail.IMAPOptions{Fault: flt.hook}, "retries = 2")
	r := startRetrying(t, f, nil)
	r.waits(t, 2)
	err := r.wait(t)
	if err == nil || !mailbox.IsTransient(err) || !strings.Contains(err.Error(), "UNAVAILABLE") {
		t.Fatalf("err = %v", err)
	}
	if n := flt.count("LOGIN"); n != 3 {
		t.Errorf("%d logins, want 3 (1 + 2 retries)", n)
	}
	if p := r.clk.Pending(); len(p) != 0 {
		t.Errorf("timers left: %v", p)
	}
}

func TestRetryNeverRetriesAuthenticationFailures(t *testing.T) {
	flt := &faults{}
	f := newFixture(t, testmail.IMAPOptions{Fault: flt.hook})
	f.writeConfig(f.srv.Addr, "implicit", "wrong-password")
	r := startRetrying(t, f, nil)
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "login to") {
		t.Fatalf("err = %v", err)
	}
	if n := flt.count("LOGIN"); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if strings.Contains(r.log.String(), "retrying") {
		t.Errorf("retried:\n%s", r.log.String())
	}
}

func TestRetryWaitEndsOnStop(t *testing.T) {
	flt := &faults{cmd: "LOGIN", times: -1, err: unavailable}
	f := newFixture(t, testmail.IMAPOptions{Fault: flt.hook})
	stop := make(chan struct{})
	r := startRetrying(t, f, stop)
	if err := r.clk.WaitForTimers(1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := r.wait(t); err == nil || !strings.Contains(err.Error(), "UNAVAILABLE") {
		t.Errorf("err = %v", err)
	}
	if n := flt.count("LOGIN"); n != 1 {
		t.Errorf("%d logins after stop, want 1", n)
	}
}

func TestDeadlineEndsAStalledRun(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stall := func(cmd string) error {
		if cmd == "FETCH" {
			<-release
		}
		return nil
	}
	f := newFixture(t, testmail.IMAPOptions{Fault: stall}, `timeout = "1s"`, "retries = 3")
	// Only the task's timeout can end the stall before the test's own
	// context does, which would leave the error unwrapped.
	f.cfg.Accounts["a"].Timeout = config.Duration(time.Hour)
	f.append(testmail.NewMessage("m", testmail.Attachment{Name: "m.pdf", ContentType: "application/pdf", Content: pdf("m")}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Unattended(clock.Real)(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0]})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `the run did not finish within the task's timeout of 1s`) {
		t.Fatalf("err = %v", err)
	}
	if len(f.files()) != 0 {
		t.Errorf("files: %v", sortedKeys(f.files()))
	}
}

// Every counter adds up over the attempts, and a message the first one
// committed, taken or refused by the rules, is new to the run only once.
func TestSummaryAddsUpAttempts(t *testing.T) {
	var s Summary
	committed := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	s.add(Summary{Task: "t", Counts: outcome.Counts{Seen: 12, Saved: 3, Unmatched: 2, Files: 4, Bytes: 100},
		Defects: outcome.Defects{"damaged-base64": 1}, Due: outcome.Due{After: 3}, Committed: committed})
	s.add(Summary{Task: "t", Counts: outcome.Counts{Seen: 7, Saved: 5, Failed: 1, Held: 1, Files: 6, Bytes: 50},
		Defects: outcome.Defects{"damaged-base64": 1, "damaged-tnef": 1}, Due: outcome.Due{Failure: 1}, Committed: committed.Add(time.Minute)})
	want := outcome.Counts{Seen: 12, Saved: 8, Failed: 1, Unmatched: 2, Held: 1, Files: 10, Bytes: 150}
	if s.Counts != want {
		t.Errorf("summary = %+v, want %+v", s.Counts, want)
	}
	s.add(Summary{Task: "t"}) // an attempt that committed nothing
	if s.Defects["damaged-base64"] != 2 || s.Defects["damaged-tnef"] != 1 || len(s.Defects) != 2 {
		t.Errorf("defects %v, want those of both attempts", s.Defects)
	}
	if !s.Committed.Equal(committed.Add(time.Minute)) {
		t.Errorf("committed %v, want the later attempt's", s.Committed)
	}
	if s.Due != (outcome.Due{}) {
		t.Errorf("due %+v, want the last attempt's", s.Due)
	}
}

// run-task and the daemon run through Retry, whose summary keeps the
// messages the rules refused.
func TestUnattendedCountsWhatTheRulesRefuse(t *testing.T) {
	f := newPOP3Fixture(t, testmail.POP3Options{}, prefilterMails(), "[task.match]", `subject = "Invoice*"`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Unattended(clock.Real)(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0]})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Seen != 4 || sum.Saved != 2 || sum.Unmatched != 2 {
		t.Errorf("summary %+v, want 4 new, 2 saved, 2 not matching the rules", sum.Counts)
	}
}

// cyrusCAPA is Cyrus pop3d's CAPA with popminpoll: 1 (Debian's default),
// which announces the delay in seconds. The real pop3d, with a delay of
// seconds the test can wait out, is in cyrus_test.go; with Debian's, it
// announces LOGIN-DELAY 60 and refuses with the text below, word for word.
const cyrusCAPA = "+OK List of capabilities follows\r\nSASL PLAIN\r\nSTLS\r\nEXPIRE NEVER\r\nLOGIN-DELAY 60\r\nTOP\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nUSER\r\nIMPLEMENTATION Cyrus POP3 3.6.1\r\n."

// Cyrus refuses a second login within popminpoll with [LOGIN-DELAY]
// (RFC 2449): a passing failure, retried after the delay its CAPA
// announces rather than the shorter backoff.
func TestPOP3LoginDelayIsWaitedOut(t *testing.T) {
	var refusals atomic.Int32
	fault := func(cmd string) string {
		switch {
		case cmd == "CAPA":
			return cyrusCAPA
		case strings.HasPrefix(cmd, "PASS ") && refusals.Add(1) == 1:
			return "-ERR [LOGIN-DELAY] Logins must be at least 1 minute apart"
		}
		return ""
	}
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: fault}, [][]byte{scan(1)}, "retries = 3")
	r := startRetrying(t, f, nil)
	waits := r.waits(t, 1)
	if err := r.wait(t); err != nil {
		t.Fatalf("run failed: %v\n%s", err, r.log.String())
	}
	if len(waits) != 1 || waits[0] != time.Minute {
		t.Errorf("waits %v, want the minute CAPA's LOGIN-DELAY announces", waits)
	}
	if r.sum.Saved != 1 || !strings.Contains(r.log.String(), "LOGIN-DELAY") {
		t.Errorf("summary %+v, log:\n%s", r.sum, r.log.String())
	}
}

// A dry run's attempt commits nothing, so the next finds again what it
// found: its summary is the last attempt's, not their sum, lest a dry run
// that met a dropped connection list each file twice.
func TestRetryOfADryRunReportsItsLastAttempt(t *testing.T) {
	attempts := []Summary{
		{Counts: outcome.Counts{Seen: 2, Saved: 1}, Planned: []string{"a.pdf"}},
		{Counts: outcome.Counts{Seen: 2, Saved: 2}, Planned: []string{"a.pdf", "b.pdf"}},
	}
	var calls int
	run := func(context.Context, Options) (Summary, error) {
		calls++
		if calls == 1 {
			return attempts[0], &mailbox.Error{Transient: true, Err: io.ErrUnexpectedEOF}
		}
		return attempts[1], nil
	}
	clk := clock.NewFake(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
	retries := 1
	task := &config.Task{Name: "t"}
	task.Retries = &retries
	result := make(chan Summary, 1)
	go func() {
		sum, _ := Retry(run, Backoff{Clock: clk})(t.Context(), Options{Task: task, DryRun: true})
		result <- sum
	}()
	if err := clk.WaitForTimers(1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := clk.AdvanceToNext(); err != nil {
		t.Fatal(err)
	}
	sum := <-result
	if fmt.Sprint(sum.Planned) != "[a.pdf b.pdf]" || sum.Saved != 2 || sum.Seen != 2 {
		t.Errorf("dry run's summary: planned %v, %s", sum.Planned, sum.Counts.Summary(true))
	}
}
