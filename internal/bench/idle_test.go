//go:build unix

package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/config"
	"mailtask/internal/scheduler"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
	"mailtask/tasks/popimap"
)

// BenchmarkIdleDelivery measures how long a message takes from its APPEND
// to a loopback Dovecot to its files being durable in the destination (the
// commit of the run that took it), for a task with idle = true under the
// daemon's scheduler: messages are appended one by one at random
// intervals by a client that stays connected, as a mail server delivering
// would. Beside it, the delays a poll every minute would give, computed
// from the runs measured here (ScheduleDelays): waiting for 200 arrivals
// on a one-minute schedule would take hours. Goal: p99 under 1 s.
// Knobs: BENCH_IDLE_ARRIVALS (200), BENCH_IDLE_INTERVAL_MS (250, the mean
// interval; each is drawn uniformly from 0 to twice that).
func BenchmarkIdleDelivery(b *testing.B) {
	const seed = 20250314
	n := envInt(b, "BENCH_IDLE_ARRIVALS", 200)
	mean := time.Duration(envInt(b, "BENCH_IDLE_INTERVAL_MS", 250)) * time.Millisecond
	rng := rand.New(rand.NewPCG(seed, seed))

	d := dovecot.Start(b, dovecot.Options{})
	cfg := idleBenchConfig(b, d)
	rec := &deliveries{dest: cfg.Tasks[0].Destination, appended: map[string]time.Time{}, delivered: map[string]time.Duration{}, changed: make(chan struct{})}
	idling := make(chan struct{})
	log := slog.New(&watchFor{msg: "idling: waiting for new mail", seen: idling})
	stop := make(chan struct{})
	s, err := scheduler.New(cfg, scheduler.Options{Run: rec.run, Log: log, Stop: stop})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	select {
	case <-idling:
	case <-time.After(time.Minute):
		b.Fatal("the task never began idling")
	}
	appender, err := dialAppender(d)
	if err != nil {
		b.Fatal(err)
	}
	defer appender.Close()

	b.ResetTimer()
	for i := range n {
		name := fmt.Sprintf("idle-%03d.pdf", i)
		raw := testmail.PDFMessage(name)
		rec.appending(name)
		if err := appendMessage(appender, raw); err != nil {
			b.Fatalf("APPEND %s: %v", name, err)
		}
		// The workload's own pace, not a wait for mailtask.
		time.Sleep(time.Duration(rng.Int64N(int64(2 * mean))))
	}
	if err := rec.wait(n, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()

	idle, runs, failures := rec.results()
	run := runs.Percentile(0.5)
	var out bytes.Buffer
	WriteDelayTable(&out, fmt.Sprintf("delay from APPEND to files durable, %d arrivals %s apart on average (%d runs, median run %.3f s, %d failed)",
		n, mean, len(runs), run.Seconds(), failures), []DelayRow{
		{How: "IMAP IDLE (measured)", Delays: idle},
		{How: "schedule every 1m (computed: wait for the tick + median run)", Delays: ScheduleDelays(n, time.Minute, run, rng)},
	})
	fmt.Fprintln(&out, "\nGoal: IMAP IDLE p99 < 1 s.")
	os.Stdout.Write(out.Bytes())
	b.ReportMetric(idle.Percentile(0.5).Seconds()*1000, "idle-p50-ms")
	b.ReportMetric(idle.Percentile(0.99).Seconds()*1000, "idle-p99-ms")
}

func idleBenchConfig(b *testing.B, d *dovecot.Server) *config.Config {
	b.Helper()
	dir := b.TempDir()
	text := `state_dir = "state"
` + d.AccountTOML("dovecot", "imap", d.User, d.Password) + `[[task]]
name = "push"
account = "dovecot"
destination = "dest"
idle = true
`
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// dialAppender signs in to Dovecot's plain port, to APPEND over one
// connection.
func dialAppender(d *dovecot.Server) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(d.IMAPAddr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(d.User, d.Password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func appendMessage(c *imapclient.Client, raw []byte) error {
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// deliveries times each message from its APPEND to the commit of the run
// after which its file is in the destination. Runs of a task follow one
// another, so each run's new files are its own.
type deliveries struct {
	dest string

	mu        sync.Mutex
	appended  map[string]time.Time
	delivered map[string]time.Duration
	runs      Delays // from a run's start to its last commit
	failures  int
	changed   chan struct{}
}

func (r *deliveries) appending(name string) {
	r.mu.Lock()
	r.appended[name] = time.Now()
	r.mu.Unlock()
}

// run is popimap.Run, timed.
func (r *deliveries) run(ctx context.Context, opts popimap.Options) (popimap.Summary, error) {
	start := time.Now()
	sum, err := popimap.Run(ctx, opts)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failures++
		return sum, err
	}
	if sum.Committed.IsZero() {
		return sum, err
	}
	r.runs = append(r.runs, sum.Committed.Sub(start))
	entries, _ := os.ReadDir(r.dest)
	for _, e := range entries {
		name := e.Name()
		at, ok := r.appended[name]
		if _, done := r.delivered[name]; ok && !done {
			r.delivered[name] = sum.Committed.Sub(at)
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
	return sum, err
}

// wait waits until n messages were delivered.
func (r *deliveries) wait(n int, within time.Duration) error {
	deadline := time.After(within)
	for {
		r.mu.Lock()
		got, changed := len(r.delivered), r.changed
		r.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-deadline:
			return fmt.Errorf("%d of %d messages delivered after %s", got, n, within)
		}
	}
}

func (r *deliveries) results() (delays, runs Delays, failures int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.delivered {
		delays = append(delays, d)
	}
	return delays, slices.Clone(r.runs), r.failures
}

// watchFor is a log handler that closes seen at the first record whose
// message starts with msg, and shows warnings and errors.
type watchFor struct {
	msg  string
	seen chan struct{}
	once sync.Once
}

func (h *watchFor) Enabled(context.Context, slog.Level) bool { return true }
func (h *watchFor) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *watchFor) WithGroup(string) slog.Handler            { return h }
func (h *watchFor) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.msg) {
		h.once.Do(func() { close(h.seen) })
	}
	if r.Level >= slog.LevelWarn {
		fmt.Fprintln(os.Stderr, r.Level, r.Message)
	}
	return nil
}
