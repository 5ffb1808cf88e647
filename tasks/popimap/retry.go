package popimap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/mailbox"
)

// RunFunc is the shape of Run, so that runs can be decorated.
type RunFunc func(context.Context, Options) (Summary, error)

// Unattended is Run as the daemon and run-task use it: transient failures
// are retried with backoff, and the whole run, retries included, ends at
// the task's timeout.
func Unattended(clk clock.Clock) RunFunc {
	return WithDeadline(Retry(Run, Backoff{Clock: clk}))
}

// WithDeadline bounds each run by its task's timeout.
func WithDeadline(run RunFunc) RunFunc {
	return func(ctx context.Context, opts Options) (Summary, error) {
		limit := opts.Task.Timeout.Std()
		if limit <= 0 {
			return run(ctx, opts)
		}
		runCtx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		sum, err := run(runCtx, opts)
		// The run sees its connection closed rather than the deadline, so
		// the context says why it ended.
		if err != nil && ctx.Err() == nil && errors.Is(runCtx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("the run did not finish within the task's timeout of %s and was abandoned; what was committed stays (raise the task's timeout if runs are legitimately this long): %w",
				limit, context.DeadlineExceeded)
		}
		return sum, err
	}
}

// Backoff says how long to wait between attempts.
type Backoff struct {
	// Initial is the wait before the first retry; each later one doubles,
	// up to Max. Zero values mean 10s and 5m.
	Initial, Max time.Duration
	// Clock times the waits; nil means the system clock.
	Clock clock.Clock
	// Jitter picks the wait from the doubled value d; nil picks at random
	// in [d/2, d], so that tasks failing together do not retry together.
	Jitter func(d time.Duration) time.Duration
}

// Retry returns run retried, up to the task's retries, while it fails for a
// transient reason (mailbox.IsTransient). Authentication, configuration and
// local failures fail at once. Retrying a whole run is safe: what an
// attempt committed is in the state, and the next attempt goes on from
// there. The Summary adds up the attempts (a dry run's is its last
// attempt's, which found again what the earlier ones would have done).
func Retry(run RunFunc, b Backoff) RunFunc {
	if b.Initial <= 0 {
		b.Initial = 10 * time.Second
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Minute
	}
	if b.Clock == nil {
		b.Clock = clock.Real
	}
	if b.Jitter == nil {
		b.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	return func(ctx context.Context, opts Options) (Summary, error) {
		log := opts.logger()
		retries := opts.Task.RetryLimit()
		started := b.Clock.Now()
		var total Summary
		wait := b.Initial
		for attempt := 0; ; attempt++ {
			opts.retryFollows = attempt < retries
			sum, err := run(ctx, opts)
			if opts.DryRun {
				// A dry run commits nothing: each attempt starts over
				// and finds again what the one before it did.
				total = sum
			} else {
				total.add(sum)
			}
			if !triesAgain(ctx, opts, err) {
				total.Duration = b.Clock.Now().Sub(started)
				return total, err
			}
			// A server that says how long to stay away (POP3's
			// LOGIN-DELAY) is taken at its word.
			d := max(b.Jitter(wait), mailbox.RetryAfter(err))
			log.Warn("run failed for a reason that may pass; retrying",
				"task", opts.Task.Name, "attempt", attempt+1, "retries_left", retries-attempt, "wait", d.Round(time.Second), "err", err)
			timer := b.Clock.NewTimer(d)
			select {
			case <-timer.C():
			case <-ctx.Done():
				timer.Stop()
				total.Duration = b.Clock.Now().Sub(started)
				return total, err
			case <-opts.Stop:
				timer.Stop()
				total.Duration = b.Clock.Now().Sub(started)
				return total, err
			}
			wait = min(2*wait, b.Max)
		}
	}
}

// triesAgain reports whether Retry tries the run of opts once more after
// an attempt that ended with err; Run tells its record so (Held.Record).
func triesAgain(ctx context.Context, opts Options, err error) bool {
	return err != nil && opts.retryFollows && mailbox.IsTransient(err) && ctx.Err() == nil
}

// add folds a later attempt's summary into s (outcome.Counts.Then).
func (s *Summary) add(later Summary) {
	s.Task = later.Task
	s.Counts = s.Counts.Then(later.Counts)
	s.Defects = s.Defects.Plus(later.Defects)
	s.Planned = append(s.Planned, later.Planned...)
	s.Stopped = later.Stopped
	s.Due = later.Due
	if later.Committed.After(s.Committed) {
		s.Committed = later.Committed
	}
}
