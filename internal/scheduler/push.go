package scheduler

import (
	"context"
	"os"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/push"
	"mailtask/internal/state"
)

// A task with idle has a watcher (package push) besides its schedule. The
// watcher holds one of its account's connection slots while connected and
// asks for runs through trigger; they are the scheduler's own runs, with
// its locks, limits and metrics. A run asked for while one is going is
// not skipped as a tick would be: it runs right after, once however many
// were asked for, so a burst of mail is taken in one or two runs.
//
// When the account has no slot free for the run, the watcher gives it its
// own (it logs out and waits for the task's runs to end), so that an idle
// task alone on max_connections = 1 still runs; config validation keeps
// idle tasks from taking every connection of an account other scheduled
// tasks need.
//
// watch and the end of tend are the seam to start and stop a watcher: a
// cluster lease can decide there whether this process watches the task.

// watch starts e's watcher.
func (s *Scheduler) watch(ctx context.Context, e *entry) *push.Watcher {
	var poll time.Duration
	if e.sched == nil {
		poll = config.IdlePoll // the server may lack IDLE; nothing else would run the task
	}
	var tokens auth.TokenStore
	if s.opts.Node != nil {
		tokens = s.opts.Node.Tokens()
	}
	return push.Start(ctx, push.Options{
		Config: e.cfg,
		Task:   e.task,
		Tokens: tokens,
		Trigger: func(arrived time.Time) (bool, <-chan struct{}) {
			return s.trigger(ctx, e, arrived)
		},
		Slot: func(ctx context.Context) (func(), bool) {
			return s.connection(ctx, e.task.Account)
		},
		Report: func(st push.Status) { s.report(e, st) },
		Poll:   poll,
		Stop:   s.opts.Stop,
		Clock:  s.clk,
		Log:    s.log,
	})
}

// trigger asks for a run of e's task for mail that arrived at arrived
// (zero: not known). If a run is going, the next one follows it; else a
// run starts, on a free slot of the account if there is one. starved
// says there was none: the run waits for one, which the watcher gives.
// ended is closed once the task's runs end.
func (s *Scheduler) trigger(ctx context.Context, e *entry, arrived time.Time) (starved bool, ended <-chan struct{}) {
	name := e.task.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.entries[name] != e {
		none := make(chan struct{})
		close(none)
		return false, none
	}
	if first, ok := s.arrivals[name]; !arrived.IsZero() && (!ok || arrived.Before(first)) {
		s.arrivals[name] = arrived
	}
	if s.running[name] {
		s.again[name] = true
		return false, s.ended[name]
	}
	reserved := s.reserve(ctx, e)
	return reserved == nil, s.launch(ctx, e, reserved)
}

// reserve takes a free connection slot of e's account for a run, if there
// is one, and returns how to give it back; s.mu is held.
func (s *Scheduler) reserve(ctx context.Context, e *entry) (release func()) {
	if s.clustered() {
		if sl := s.tryClusterSlot(ctx, e, nil); sl != nil {
			return sl.Release
		}
		return nil
	}
	l := s.accounts[e.task.Account]
	if !l.tryTake() {
		return nil
	}
	return func() { <-l }
}

// takeArrival returns and forgets the earliest arrival of mail that no run
// has started for yet.
func (s *Scheduler) takeArrival(task string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.arrivals[task]
	delete(s.arrivals, task)
	return at
}

// connection waits for a connection slot of account, for a watcher.
func (s *Scheduler) connection(ctx context.Context, account string) (release func(), ok bool) {
	s.mu.Lock()
	if s.clustered() {
		max := s.cfg.Accounts[account].MaxConnections
		s.mu.Unlock()
		if sl := s.waitClusterSlot(ctx, account, max); sl != nil {
			return sl.Release, true
		}
		return nil, false
	}
	l := s.accounts[account]
	s.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, true
	case <-ctx.Done():
		return nil, false
	}
}

// report records a watcher's status for Health, the metrics and `mailtask
// status`; a watcher of a replaced entry is no longer heard.
func (s *Scheduler) report(e *entry, st push.Status) {
	name := e.task.Name
	s.mu.Lock()
	current := s.entries[name] == e
	if current {
		s.idle[name] = st
	}
	s.mu.Unlock()
	if !current {
		return
	}
	s.metrics.Idle(name, st.State == push.Idling, st.Since, st.Failures, st.Reconnects)
	err := state.SaveIdle(e.cfg.StateDir, name, state.IdleStatus{
		PID: os.Getpid(), State: string(st.State), Since: st.Since,
		Reconnects: st.Reconnects, Failures: st.Failures, LastError: st.LastError, Updated: s.clk.Now(),
	})
	if err != nil {
		s.log.Warn("cannot record the IDLE status for mailtask status", "task", name, "err", err)
	}
}

// countFailure counts the task's failed runs in a row, for the health of a
// task without a schedule; s.mu is held.
func (s *Scheduler) countFailure(task string, failed bool) {
	if failed {
		s.failures[task]++
	} else {
		delete(s.failures, task)
	}
}
