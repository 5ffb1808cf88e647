package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	mbox "mailtask/internal/mailbox"
	"mailtask/internal/metrics"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

// startLoop starts tending e; s.mu is held.
func (s *Scheduler) startLoop(e *entry) {
	if s.stopped {
		return
	}
	if s.clustered() && !e.task.Idle {
		// Claimed when due (cluster.go): there is nothing to tend, and a
		// goroutine per task waiting for nothing held 21 MB of stacks
		// on a node of 10,000 tasks.
		close(e.done)
		return
	}
	s.loops.Add(1)
	go s.tend(s.ctx, e)
}

// tend runs e's task on its schedule and keeps its watcher if it has idle,
// until e is replaced or removed or the scheduler stops.
func (s *Scheduler) tend(ctx context.Context, e *entry) {
	defer s.loops.Done()
	defer close(e.done)
	if s.clustered() {
		s.own(ctx, e) // cluster.go: a task with idle
		return
	}
	s.watchAndLoop(ctx, e)
}

// watchAndLoop keeps e's watcher if it has idle and runs it on its
// schedule, until e is replaced or removed, the scheduler stops or ctx
// ends.
func (s *Scheduler) watchAndLoop(ctx context.Context, e *entry) {
	if e.task.Idle {
		w := s.watch(ctx, e)
		defer w.Stop()
	}
	if e.sched != nil {
		s.loop(ctx, e)
		return
	}
	s.waitFor(ctx, e, nil)
}

// waitFor waits for fired (nil: for nothing) until e is replaced or
// removed, the scheduler stops or ctx ends, and reports whether fired came
// first.
func (s *Scheduler) waitFor(ctx context.Context, e *entry, fired <-chan time.Time) bool {
	select {
	case <-fired:
		return true
	case <-e.quit:
	case <-s.opts.Stop:
	case <-ctx.Done():
	}
	return false
}

// loop waits for each of e's slots and starts a run in it. Slots follow
// from one another, not from when a run ends, so that jitter and slow runs
// do not make a schedule drift.
func (s *Scheduler) loop(ctx context.Context, e *entry) {
	name := e.task.Name
	slot := e.sched.Next(s.clk.Now())
	for {
		if slot.IsZero() {
			s.log.Error("the task's schedule has no further date; it will not run again until the configuration changes", "task", name, "schedule", e.task.Schedule)
			return
		}
		at := slot
		if j := e.task.Jitter.Std(); j > 0 {
			at = at.Add(s.opts.Jitter(j))
		}
		s.nextRun(e, at)
		timer := s.clk.NewTimer(at.Sub(s.clk.Now()))
		fired := s.waitFor(ctx, e, timer.C())
		timer.Stop()
		if !fired {
			return
		}
		s.start(ctx, e)
		slot = e.sched.Next(slot)
		if now := s.clk.Now(); slot.Before(now) {
			// Slots missed while the machine slept or the clock jumped are
			// not made up for; the schedule resumes from now.
			slot = e.sched.Next(now)
		}
	}
}

// nextRun records when e's task runs next, unless a reload replaced or
// removed e while its loop computed it: the series then belong to the
// entry that replaced it, whose own time this must not overwrite, or to no
// task, and a removed task's series must not come back.
func (s *Scheduler) nextRun(e *entry, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current(e) {
		s.metrics.NextRun(e.task.Name, at)
	}
}

// current reports whether e is the entry in force for its task, not one a
// reload replaced or removed. s.mu is held.
func (s *Scheduler) current(e *entry) bool { return s.entries[e.task.Name] == e }

// start runs e's task now unless its previous run is still going.
func (s *Scheduler) start(ctx context.Context, e *entry) {
	name := e.task.Name
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if s.running[name] {
		if s.current(e) {
			s.metrics.Skipped(name, metrics.SkipOverlap)
		}
		s.mu.Unlock()
		s.log.Warn("skipping this run: the previous run of the task is still going", "task", name)
		return
	}
	s.launch(ctx, e, nil)
	s.mu.Unlock()
}

// launch starts a run of e's task, and after it the runs asked for while
// it went (push.go); reserved, when set, gives back the first run's
// account slot, which the caller took already. It returns a channel
// closed once the task's runs end. s.mu is held.
func (s *Scheduler) launch(ctx context.Context, e *entry, reserved func()) <-chan struct{} {
	name := e.task.Name
	s.running[name] = true
	ended := make(chan struct{})
	s.ended[name] = ended
	// A reload may hand an unchanged task a new configuration (for its
	// other sections); the runs keep the one they start with.
	cfg, global, account, tlsc := e.cfg, s.global, s.accounts[e.task.Account], s.tls
	s.runs.Add(1)

	go func() {
		defer s.runs.Done()
		var committed time.Time // by the run before, in this chain
		for {
			var report func()
			arrived := s.takeArrival(name)
			if h, ok := s.holdFor(e); ok {
				release, ran := s.acquire(h.runContext(ctx), h, e, account, global, reserved)
				if ran {
					report, committed = s.execute(h.runContext(ctx), e, cfg, account, tlsc, h, arrived, committed)
					release()
				}
				h.done(s, e, ran)
			} else if reserved != nil {
				reserved()
			}
			reserved = nil
			s.mu.Lock()
			again := report != nil && s.again[name] && !s.stopped && s.entries[name] == e
			delete(s.again, name)
			if !again {
				delete(s.running, name)
				delete(s.ended, name)
				close(ended)
			}
			s.mu.Unlock()
			if !again {
				s.wakeClaims() // a run slot is free
			}
			// Reported once the task is free again (or its next run due):
			// a run's log line means the next tick will start a new run.
			// Metrics are counted before the line is logged, so whoever
			// reads the line finds them counted.
			if report != nil {
				report()
			}
			if !again {
				return
			}
		}
	}()
	return ended
}

// acquire takes a slot of the task's account, unless reserved gives back
// one the run has, then a global one, waiting as long as needed; it fails
// when the scheduler stops first. The account comes first so that a run
// waiting for its mailbox holds no global slot that another account's
// task could use. In cluster mode the account's slots are counted across
// the cluster (cluster.go), and the run's goes to h, its hold.
func (s *Scheduler) acquire(ctx context.Context, h *hold, e *entry, account, global limiter, reserved func()) (release func(), ok bool) {
	take := func(l limiter, what string) bool {
		if l.tryTake() {
			return true
		}
		s.log.Info("run waits for a free slot", "task", e.task.Name, "limit", what, "max", cap(l))
		select {
		case l <- struct{}{}:
			return true
		case <-s.opts.Stop:
		case <-ctx.Done():
		}
		s.log.Info("run dropped: the daemon is stopping", "task", e.task.Name)
		return false
	}
	releaseAccount := reserved
	switch {
	case releaseAccount != nil:
	case s.clustered():
		if h.slot = s.clusterSlot(ctx, e, h.lease); h.slot == nil {
			return nil, false
		}
		releaseAccount = h.slot.Release
	case !take(account, "max_connections of account "+e.task.Account):
		return nil, false
	default:
		releaseAccount = func() { <-account }
	}
	if !take(global, "max_concurrent_tasks") {
		releaseAccount()
		return nil, false
	}
	return func() { <-global; releaseAccount() }, true
}

// execute runs the task once and returns how to report it: one log line
// per run, and the metrics, with the delay from arrived (if known) to the
// commit that took the mail: the run's own, or, if it committed nothing,
// the run's before it (before, if not earlier than arrived), which found the
// mail before it was reported. It returns when the run committed last.
// The run may fetch over more connections to its mailbox while account
// has them free; it connects with the TLS settings and sessions of tlsc.
func (s *Scheduler) execute(ctx context.Context, e *entry, cfg *config.Config, account limiter, tlsc *mbox.TLSCache, h *hold, arrived, before time.Time) (report func(), committed time.Time) {
	name := e.task.Name
	started := s.clk.Now()
	opts := popimap.Options{Config: cfg, Task: e.task, Log: s.log, Now: s.clk.Now, Stop: s.opts.Stop, TLS: tlsc}
	opts.MoreConnections = func() (release func(), ok bool) {
		if !account.tryTake() {
			return nil, false
		}
		return func() { <-account }, true
	}
	if s.opts.Node != nil {
		opts.Shared = s.opts.Node
	}
	if h != nil {
		h.prepare(ctx, s, e, &opts)
	}
	// Whatever Run the daemon was given, a panic fails this run only.
	sum, err := Recover(s.opts.Run)(ctx, opts)
	err = h.outcome(ctx, err)
	end := s.clk.Now()

	var locked *state.LockedError
	if errors.As(err, &locked) {
		return func() {
			s.mu.Lock()
			if s.entries[name] != nil { // a task removed meanwhile keeps no metrics
				s.metrics.Skipped(name, metrics.SkipLocked)
			}
			s.mu.Unlock()
			s.log.Info("skipping this run: another process is running the task", "task", name, "pid", locked.PID)
		}, time.Time{}
	}
	how := outcome.Of(err, sum.Stopped)
	attrs := append([]any{"task", name, "outcome", how}, sum.Counts.Attrs()...)
	attrs = append(attrs, "duration", end.Sub(started).Round(time.Millisecond))
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, "err", err)
		if hint := diagnose.Hint(err); hint != "" {
			attrs = append(attrs, "hint", hint)
		}
	}
	return func() {
		s.mu.Lock()
		current := s.entries[name] != nil
		if current && err == nil {
			s.lastOK[name] = end
		}
		if current {
			s.countFailure(name, err != nil)
		}
		s.mu.Unlock()
		if current { // a task removed meanwhile keeps no metrics
			s.metrics.Observe(metrics.Run{
				Task: name, Outcome: how, Counts: sum.Counts, Defects: sum.Defects, Automatic: sum.Automatic(),
				QuarantineNotices: len(sum.Notices), Duration: end.Sub(started), End: end, Due: sum.Due,
			})
			served := sum.Committed
			if served.IsZero() {
				served = before
			}
			if !arrived.IsZero() && !served.IsZero() && !served.Before(arrived) {
				s.metrics.Delivered(name, served.Sub(arrived))
			}
		}
		s.log.Log(context.WithoutCancel(ctx), level, "run", attrs...)
	}, sum.Committed
}
