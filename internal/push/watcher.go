package push

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/mailbox/imap"
)

// Options are what a Watcher needs.
type Options struct {
	Config *config.Config
	Task   *config.Task
	// Trigger asks for a run of the task, for mail that arrived at arrived
	// (zero when nothing is known to have arrived, as after a reconnect).
	// starved reports that the run waits for a connection of the account,
	// which the watcher then gives it; ended is closed once the task has
	// no run going or waiting.
	Trigger func(arrived time.Time) (starved bool, ended <-chan struct{})
	// Slot waits for a connection of the account and returns how to give
	// it back; ok is false when ctx ends first.
	Slot func(ctx context.Context) (release func(), ok bool)
	// Tokens keeps the account's OAuth2 tokens in place of the files
	// under state_dir (cluster mode's database).
	Tokens auth.TokenStore
	// Report, when set, receives the watcher's status each time it
	// changes, on the watcher's goroutine.
	Report func(Status)
	// Poll is how often to run the task if its server lacks IDLE; 0 leaves
	// that to the task's schedule.
	Poll time.Duration
	// Stop, once closed, ends the watcher as Stop does: the daemon's stop.
	Stop <-chan struct{}
	// Clock times the re-issues and the backoff; nil means the system
	// clock. The account's timeout is real time whatever it says.
	Clock clock.Clock
	Log   *slog.Logger
	// Jitter picks the wait before reconnecting from the doubled backoff
	// d; nil picks at random in [d/2, d].
	Jitter func(d time.Duration) time.Duration
}

// Backoff between connection attempts after a failure, and how long a
// goodbye (DONE, LOGOUT) may take when the watcher stops.
const (
	firstBackoff  = 5 * time.Second
	maxBackoff    = 5 * time.Minute
	goodbyeWithin = 5 * time.Second
	// steadyAfter is how long a connection must idle after failures for
	// them to count as over.
	steadyAfter = time.Minute
)

// Watcher keeps one task's folder watched; see the package comment.
type Watcher struct {
	opts Options
	log  *slog.Logger
	stop chan struct{}
	once sync.Once
	done chan struct{}

	mu     sync.Mutex
	status Status
}

// Start starts watching opts.Task's folder until Stop, opts.Stop or the
// end of ctx, which drops the connection at once instead of logging out.
func Start(ctx context.Context, opts Options) *Watcher {
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	w := &Watcher{
		opts:   opts,
		log:    opts.Log.With("task", opts.Task.Name),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		status: Status{Task: opts.Task.Name, State: Connecting},
	}
	go w.run(ctx)
	return w
}

// Stop ends the watcher, logging out within a few seconds, and returns
// once it has ended. It may be called more than once.
func (w *Watcher) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// Status returns what the watcher is doing.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// update changes the status and reports it.
func (w *Watcher) update(change func(*Status)) {
	w.mu.Lock()
	change(&w.status)
	s := w.status
	w.mu.Unlock()
	if w.opts.Report != nil {
		w.opts.Report(s)
	}
}

// resume says how a connection begins: with a run of the task, unless the
// watcher had lent its connection to one and the folder has not moved on
// since.
type resume struct {
	afterFailure bool
	lent         bool
	uidValidity  uint32
	uidNext      uint32
}

func (r resume) runs(f imap.Folder) bool {
	return !r.lent || f.UIDValidity != r.uidValidity || f.UIDNext > r.uidNext
}

// ending is how a connection ended, when not by a failure or a stop.
type ending struct {
	noIdle bool   // the server lacks IDLE
	lent   resume // the connection was lent to a run
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	// quit ends on Stop or the daemon's stop, for every wait; a goodbye
	// still uses ctx, so that only ctx ending cuts it short.
	quit, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.stop:
		case <-w.opts.Stop:
		case <-quit.Done():
		}
		cancel()
	}()
	defer func() {
		w.update(func(s *Status) { s.State, s.Since = Stopped, time.Time{} })
		w.log.Info("no longer watching the folder", "mailbox", w.opts.Task.Mailbox)
	}()

	var cred auth.Credential
	from := resume{}
	for {
		release, ok := w.opts.Slot(quit)
		if !ok {
			return
		}
		end, err := w.connection(ctx, quit, release, &cred, from)
		if quit.Err() != nil {
			return
		}
		switch {
		case err != nil:
			if !w.failed(quit, err) {
				return
			}
			from = resume{afterFailure: true}
		case end.noIdle:
			w.poll(quit)
			return
		default:
			from = end.lent
		}
	}
}

// failed records a failure and waits out the backoff; false means the
// watcher was stopped meanwhile.
func (w *Watcher) failed(quit context.Context, err error) bool {
	var failures int
	w.update(func(s *Status) {
		s.Failures++
		s.State, s.Since, s.LastError = Failing, time.Time{}, err.Error()
		failures = s.Failures
	})
	wait := w.opts.Jitter(backoff(failures))
	w.log.Warn("the IDLE connection failed; reconnecting", "err", err, "failures_in_a_row", failures, "wait", wait.Round(time.Second))
	timer := w.opts.Clock.NewTimer(wait)
	select {
	case <-timer.C():
		return true
	case <-quit.Done():
		timer.Stop()
		return false
	}
}

// backoff doubles from firstBackoff with each failure in a row, up to
// maxBackoff.
func backoff(failures int) time.Duration {
	d := firstBackoff
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// poll runs the task every opts.Poll, or leaves it to its schedule, when
// the server lacks IDLE.
func (w *Watcher) poll(quit context.Context) {
	w.update(func(s *Status) { s.State, s.Since = Polling, time.Time{} })
	every := w.opts.Poll
	if every == 0 {
		w.log.Warn("the server does not offer IDLE; the task runs on its schedule only", "schedule", w.opts.Task.Schedule)
		<-quit.Done()
		return
	}
	w.log.Warn("the server does not offer IDLE; polling the task instead", "every", every)
	for {
		w.opts.Trigger(time.Time{})
		timer := w.opts.Clock.NewTimer(every)
		select {
		case <-timer.C():
		case <-quit.Done():
			timer.Stop()
			return
		}
	}
}
