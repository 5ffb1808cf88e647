package scheduler

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"mailtask/internal/cluster"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

// In cluster mode (Options.Node with a state_store) every node runs the
// same configuration and there is no leader. A task's schedule lives in
// the database as its next due time: when the next task comes due (as
// its last claim said), at least every claimPoll, and whenever a run
// ends, a node claims as many due tasks as it has free run slots
// (pgstore's Claim: FOR UPDATE SKIP LOCKED, so no task goes to two nodes),
// runs each under its lease, which it keeps renewed, and releases it with
// the next due time its schedule gives. A claim does not name the node's
// tasks: a task it is handed and does not run by a schedule (not in its
// configuration, or idle) it gives back at once, and its claims pass that
// task over until its configuration changes. A lease lost mid-run (the node
// stalled, or lost the database, for as long as the lease) cancels the run
// at once; a commit it attempts after losing the lease is refused
// (fenced).
//
// A task with idle is different: its watcher must run on one node only,
// the one holding its lease, for as long as it watches. Each node tries
// to claim the idle tasks nobody holds (own); the one that does keeps the
// lease renewed, watches the folder, runs the task on new mail and on its
// schedule, under that lease, and lets it go when it stops or loses it.
//
// Connection slots of an account are counted across the cluster
// (cluster.Node.Slot): a run's own connection, its further ones, and a
// watcher's.

// claimPoll is how often a node looks for due tasks at least: sooner when
// a task comes due (a claim tells when the next will, by the database's
// clock), or a run ending has freed a run slot. Looking at an interval
// alone, a task due just after a look waited out the interval: schedules
// such as @every put due times on whole seconds, where every task due
// then waited as long as the nodes' looks happened to fall after them.
const claimPoll = time.Second

// claimPollMin is how soon at most a node looks again when a task comes
// due sooner than that: with due times spread out (jitter), a look for
// each would cost the database more than the delay is worth.
const claimPollMin = 100 * time.Millisecond

// hold is a task's lease as this node's runs use it: claimed for one run,
// or owned by the node while it watches an idle task.
type hold struct {
	lease *pgstore.Lease
	ctx   context.Context // ends when the lease is lost
	stop  func() error    // stops the renewals, returns the loss
	owned bool
	// slot is the run's own connection slot; end, for a claimed lease,
	// lets the run's record give it and the lease back (cluster.End).
	slot *cluster.Slot
	end  *cluster.End
}

// clustered reports whether the scheduler runs in cluster mode.
func (s *Scheduler) clustered() bool {
	return s.opts.Node != nil && s.opts.Node.Store() != nil
}

// holdFor returns the hold a run of e's task goes under: none on the file
// store; in cluster mode the lease a claim handed it or the one the node
// owns the task by. ok is false when the node does not hold the task
// (any longer): no run then.
func (s *Scheduler) holdFor(e *entry) (h *hold, ok bool) {
	if !s.clustered() {
		return nil, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := e.task.Name
	if h := s.owners[name]; h != nil {
		return h, true
	}
	if h := s.claimed[name]; h != nil {
		delete(s.claimed, name)
		return h, true
	}
	s.log.Info("skipping this run: another node holds the task", "task", name)
	return nil, false
}

// runContext is the context a run under h goes in: one that ends when the
// lease is lost.
func (h *hold) runContext(ctx context.Context) context.Context {
	if h == nil {
		return ctx
	}
	return h.ctx
}

// prepare gives the run the task's state as the lease holds it, and its
// further connections from the cluster's slots. A claimed lease and the
// run's slot go back with the run's record, the task due next by its
// schedule from then.
func (h *hold) prepare(ctx context.Context, s *Scheduler, e *entry, opts *popimap.Options) {
	if !h.owned {
		h.end = &cluster.End{Stop: h.stop, NextDue: func() time.Time { return s.nextDue(e) }, Slot: h.slot}
	}
	opts.Held = countFenced{Held: s.opts.Node.Held(h.lease, h.end), fenced: sync.OnceFunc(s.metrics.Fenced)}
	opts.MoreConnections = func() (func(), bool) {
		sl := s.tryClusterSlot(ctx, e, nil)
		if sl == nil {
			return nil, false
		}
		return sl.Release, true
	}
}

// countFenced counts a run whose commit the fence refused, once, where
// it happens: the run's stages stop together when its lease is lost, and
// the error the run returns is the first of theirs, not always the
// refusal. The refusal may come at the commit of a batch, or at the
// commit of the run's end (Record), which follows a refused batch too, or
// is a run's first commit when it had nothing to commit before.
type countFenced struct {
	popimap.Held
	fenced func()
}

func (c countFenced) Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	return c.count(c.Held.Commit(ctx, st, fps))
}

func (c countFenced) Record(ctx context.Context, st *state.State, again bool) error {
	return c.count(c.Held.Record(ctx, st, again))
}

func (c countFenced) count(err error) error {
	if errors.Is(err, pgstore.ErrFenced) {
		c.fenced()
	}
	return err
}

// outcome is err, the run's error, said as the lease's loss if that is
// what stopped it.
func (h *hold) outcome(ctx context.Context, err error) error {
	if h == nil {
		return err
	}
	return cluster.LeaseLost(ctx, err)
}

// done ends a run's hold: a claimed lease stops being renewed and is
// released with the task's next due time, or, if the run never started
// (the daemon stopped while it waited for a slot), due as it was, unless
// the run's record gave it back already; an owned one stays with its
// owner (own).
func (h *hold) done(s *Scheduler, e *entry, ran bool) {
	if h == nil || h.owned || h.end.Ended() {
		return
	}
	if lost := h.stop(); lost != nil {
		s.metrics.LeaseLost()
		s.log.Warn("the task's lease was lost; its run was stopped and another node may run it", "task", e.task.Name, "err", lost)
		return
	}
	next := time.Time{}
	if ran {
		next = s.nextDue(e)
	}
	s.release(h.lease, next)
}

// releaseTimeout bounds giving a lease back, which happens also when the
// daemon is stopping.
const releaseTimeout = 10 * time.Second

// release gives l back with next as the task's next due time (zero: as
// it was).
func (s *Scheduler) release(l *pgstore.Lease, next time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := l.Release(ctx, next); err != nil {
		// The lease runs out by itself; the task is due as it was.
		s.log.Warn("could not give the task's lease back; it runs out by itself", "task", l.Task, "err", err)
	}
}

// skip gives l back as a task this node does not run by its schedule.
func (s *Scheduler) skip(l *pgstore.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := l.Skip(ctx); err != nil {
		s.log.Warn("could not give back the lease of a task this node does not run; it runs out by itself", "task", l.Task, "err", err)
	}
}

// nextDue is when e's task is due next by its schedule, from now, jitter
// included.
func (s *Scheduler) nextDue(e *entry) time.Time {
	if e.sched == nil {
		return time.Time{}
	}
	next := e.sched.Next(s.clk.Now())
	if next.IsZero() {
		// No further date: far enough not to be due again.
		return s.clk.Now().AddDate(100, 0, 0)
	}
	if j := e.task.Jitter.Std(); j > 0 {
		next = next.Add(s.opts.Jitter(j))
	}
	s.nextRun(e, next)
	return next
}

// claimLoop claims due tasks until the scheduler stops.
func (s *Scheduler) claimLoop(ctx context.Context) {
	defer s.loops.Done()
	for {
		timer := time.NewTimer(s.claimDue(ctx))
		select {
		case <-timer.C:
		case <-s.wake:
		case <-s.opts.Stop:
			timer.Stop()
			return
		case <-ctx.Done():
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// wakeClaims makes the claim loop look for due tasks now: a run slot is
// free.
func (s *Scheduler) wakeClaims() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// claimDue claims as many due tasks as the node has free run slots,
// starts their runs, and returns when to look again: when the next task
// comes due, within claimPollMin and claimPoll. A node whose run slots are
// all taken claims none, but asks all the same once in a while, for a
// claim marks it as seen in the nodes table (pgstore.SeenEvery): busy is
// not gone.
func (s *Scheduler) claimDue(ctx context.Context) time.Duration {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return claimPoll
	}
	free := max(cap(s.global)-len(s.running), 0)
	s.mu.Unlock()
	lease := s.opts.Node.Lease()
	if free == 0 && time.Since(s.lastClaim) < pgstore.SeenEvery(lease) {
		return claimPoll
	}
	store := s.opts.Node.Store()
	started := time.Now()
	s.lastClaim = started
	leases, next, err := store.Claim(ctx, free, lease)
	s.metrics.Claimed(time.Since(started))
	if err != nil {
		s.claimFailed(ctx, "claim due tasks from the database", err)
		return claimPoll
	}
	s.claimWorked()
	for _, l := range leases {
		s.startClaimed(ctx, l)
	}
	return min(max(next, claimPollMin), claimPoll)
}

// startClaimed starts the run of a task the node has just claimed, unless
// the task is not the node's to run by its schedule (it is not in the
// configuration, or has idle) or already running here: the lease then goes
// back at once, the task due as it was, and in the first case the node's
// claims pass the task over from then on.
func (s *Scheduler) startClaimed(ctx context.Context, l *pgstore.Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[l.Task]
	switch {
	case s.stopped || s.running[l.Task]:
		go s.release(l, time.Time{})
		return
	case e == nil || e.task.Idle:
		go s.skip(l)
		return
	}
	held, stop := s.opts.Node.Hold(ctx, l)
	s.claimed[l.Task] = &hold{lease: l, ctx: held, stop: stop}
	s.launch(ctx, e, nil)
}

// own watches e's idle task while this node holds its lease: it claims
// the task when nobody holds it, keeps the lease renewed, runs the
// watcher and the task's schedule until the lease is lost, the task
// changes or the daemon stops, then lets the lease go once the task's
// runs have ended, and tries again.
func (s *Scheduler) own(ctx context.Context, e *entry) {
	name := e.task.Name
	node := s.opts.Node
	for {
		l, err := node.Store().ClaimTask(ctx, name, node.Lease())
		var held *pgstore.HeldError
		switch {
		case err == nil:
			s.watchOwned(ctx, e, l)
		case errors.As(err, &held):
			s.log.Debug("another node watches the idle task", "task", name, "holder", held.Holder)
		case ctx.Err() == nil:
			s.log.Warn("could not claim the idle task from the database; trying again", "task", name, "err", err)
		}
		// Those who hold no lease try again at random within half a
		// lease, so that idle tasks spread over the nodes that ask.
		wait := node.Lease()/4 + rand.N(node.Lease()/4+1)
		timer := time.NewTimer(wait)
		fired := s.waitFor(ctx, e, timer.C)
		timer.Stop()
		if !fired {
			return
		}
	}
}

// watchOwned watches e's task under l until l is lost, the task is
// replaced or removed, or the daemon stops.
func (s *Scheduler) watchOwned(ctx context.Context, e *entry, l *pgstore.Lease) {
	name := e.task.Name
	held, stop := s.opts.Node.Hold(ctx, l)
	h := &hold{lease: l, ctx: held, stop: stop, owned: true}
	s.mu.Lock()
	s.owners[name] = h
	s.mu.Unlock()
	s.log.Info("watching the idle task on this node", "task", name, "epoch", l.Epoch)

	s.watchAndLoop(held, e)
	s.mu.Lock()
	ended := s.ended[name]
	s.mu.Unlock()
	if ended != nil {
		<-ended // its runs use the lease
	}
	s.mu.Lock()
	delete(s.owners, name)
	s.mu.Unlock()
	if lost := stop(); lost != nil {
		s.metrics.LeaseLost()
		s.log.Warn("the idle task's lease was lost; another node may watch it now", "task", name, "err", lost)
		return
	}
	s.release(l, time.Time{})
}

// clusterSlot waits for a connection slot of e's account across the
// cluster, for a run's own connection under l; nil when ctx ends or the
// daemon stops first. A slot free at once comes with the run's state,
// read in the same round trip.
func (s *Scheduler) clusterSlot(ctx context.Context, e *entry, l *pgstore.Lease) *cluster.Slot {
	if sl := s.tryClusterSlot(ctx, e, l); sl != nil {
		return sl
	}
	s.log.Info("run waits for a free slot", "task", e.task.Name, "limit", "max_connections of account "+e.task.Account+" across the cluster",
		"max", e.cfg.Accounts[e.task.Account].MaxConnections)
	sl := s.waitClusterSlot(ctx, e.task.Account, e.cfg.Accounts[e.task.Account].MaxConnections)
	if sl == nil && ctx.Err() == nil {
		s.log.Info("run dropped: the daemon is stopping", "task", e.task.Name)
	}
	return sl
}

// tryClusterSlot takes a connection slot of e's account if one is free
// across the cluster; nil if none is. With preload, the run's lease, it
// reads the run's state too (cluster.Node.TrySlot).
func (s *Scheduler) tryClusterSlot(ctx context.Context, e *entry, preload *pgstore.Lease) *cluster.Slot {
	account := e.task.Account
	sl, err := s.opts.Node.TrySlot(ctx, account, e.cfg.Accounts[account].MaxConnections, s.slotLost(account), preload)
	if err != nil {
		s.log.Warn("could not take a connection slot from the database", "account", account, "err", err)
		return nil
	}
	return sl
}

// waitClusterSlot waits for a connection slot of account across the
// cluster until ctx ends or the daemon stops (nil).
func (s *Scheduler) waitClusterSlot(ctx context.Context, account string, max int) *cluster.Slot {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.opts.Stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	sl, err := s.opts.Node.Slot(ctx, account, max, s.slotLost(account))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("could not take a connection slot from the database", "account", account, "err", err)
		}
		return nil
	}
	return sl
}

// slotLost reports a connection slot whose lease ran out. The node's task
// leases, renewed as often against the same database, run out with it, so
// the runs and watchers using the connection stop on that.
func (s *Scheduler) slotLost(account string) func(error) {
	return func(err error) {
		s.log.Warn("a connection slot of the account was lost", "account", account, "err", err)
	}
}
