package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"mailtask/internal/clock"
	"mailtask/internal/cluster"
	"mailtask/internal/config"
	mbox "mailtask/internal/mailbox"
	"mailtask/internal/metrics"
	"mailtask/internal/push"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

// Options are what a Scheduler needs besides the configuration.
type Options struct {
	// Run runs one task once; the daemon uses popimap.Unattended.
	Run popimap.RunFunc
	// Clock times the schedules; nil means the system clock.
	Clock clock.Clock
	Log   *slog.Logger
	// Metrics receives what happens; nil keeps a private set.
	Metrics *metrics.Metrics
	// Jitter picks a delay in [0, max); nil picks at random.
	Jitter func(max time.Duration) time.Duration
	// Stop, once closed, ends scheduling. Runs in progress see it too, and
	// finish the message in hand; runs waiting for a slot are dropped.
	Stop <-chan struct{}
	// Node is this process's share of cluster mode (cluster.go): with a
	// state_store, tasks are claimed from the database and run under
	// leases; without one it only reaches s3:// destinations. Nil for
	// the file store and folders.
	Node *cluster.Node
}

// Scheduler runs tasks on their schedules.
type Scheduler struct {
	opts    Options
	log     *slog.Logger
	clk     clock.Clock
	metrics *metrics.Metrics

	mu       sync.Mutex
	cfg      *config.Config
	tls      *mbox.TLSCache       // of cfg's accounts, for its runs
	entries  map[string]*entry    // scheduled tasks, by name
	running  map[string]bool      // tasks with a run in progress or waiting for a slot
	global   limiter              // max_concurrent_tasks
	accounts map[string]limiter   // max_connections, by account
	lastOK   map[string]time.Time // when each task last succeeded
	since    map[string]time.Time // when each task was first scheduled by this daemon
	ctx      context.Context      // set by Run
	stopped  bool
	// For tasks with idle (push.go): a run asked for while one is going,
	// the earliest arrival of mail not yet taken, the channel closed when
	// the task's runs end, its watcher's status, and its failed runs in a
	// row.
	again    map[string]bool
	arrivals map[string]time.Time
	ended    map[string]chan struct{}
	idle     map[string]push.Status
	failures map[string]int
	// Cluster mode (cluster.go): leases claimed and not yet picked up by
	// their run, leases of the idle tasks this node watches, a wake-up
	// for the claim loop, and its failed claims in a row.
	claimed       map[string]*hold
	owners        map[string]*hold
	wake          chan struct{}
	claimFailures int
	// claimFailingSince is when the row of failed claims began,
	// claimLogged when one was last logged (claimlog.go).
	claimFailingSince, claimLogged time.Time
	// lastClaim is when the claim loop last asked the database, which
	// marks the node as seen; only the claim loop uses it.
	lastClaim time.Time

	loops sync.WaitGroup // one per entry
	runs  sync.WaitGroup // one per run started
}

// entry is one scheduled task under one configuration.
type entry struct {
	cfg   *config.Config
	task  *config.Task
	sched cron.Schedule // nil for a task with idle and no schedule
	quit  chan struct{} // closed when the task is removed or changed
	done  chan struct{} // closed when its loop and watcher have ended
}

// limiter is a counting semaphore.
type limiter chan struct{}

// tryTake takes a slot of l if one is free, without waiting.
func (l limiter) tryTake() bool {
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

// New prepares a scheduler for cfg's tasks that have a schedule or idle;
// Run starts it.
func New(cfg *config.Config, opts Options) (*Scheduler, error) {
	if opts.Run == nil {
		return nil, errors.New("scheduler: Options.Run is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.Jitter == nil {
		opts.Jitter = func(max time.Duration) time.Duration { return rand.N(max) }
	}
	s := &Scheduler{
		opts:     opts,
		log:      opts.Log,
		clk:      opts.Clock,
		metrics:  opts.Metrics,
		entries:  map[string]*entry{},
		running:  map[string]bool{},
		accounts: map[string]limiter{},
		lastOK:   map[string]time.Time{},
		since:    map[string]time.Time{},
		again:    map[string]bool{},
		arrivals: map[string]time.Time{},
		ended:    map[string]chan struct{}{},
		idle:     map[string]push.Status{},
		failures: map[string]int{},
		claimed:  map[string]*hold{},
		owners:   map[string]*hold{},
		wake:     make(chan struct{}, 1),
	}
	entries, err := entriesOf(cfg)
	if err != nil {
		return nil, err
	}
	s.apply(cfg, entries)
	return s, nil
}

// Run schedules the tasks until Stop is closed or ctx ends, then waits for
// the runs in progress to end. Cancelling ctx abandons them instead.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ctx != nil {
		s.mu.Unlock()
		return errors.New("scheduler: Run called twice")
	}
	for {
		// The tasks of the configuration in force, registered again if
		// a reload came meanwhile (a SIGHUP as the daemon starts, or
		// while the database does not answer): Reload registers only
		// once Run has started.
		cfg, names, skip := s.cfg, s.taskNames(), s.unclaimed()
		s.mu.Unlock()
		if !s.registerAtStart(ctx, cfg, names, skip) {
			return nil // stopped before it could
		}
		s.mu.Lock()
		if s.cfg == cfg {
			break
		}
	}
	s.ctx = ctx
	for _, e := range s.entries {
		s.startLoop(e)
	}
	if s.clustered() {
		s.loops.Add(1)
		go s.claimLoop(ctx)
	}
	s.mu.Unlock()

	select {
	case <-s.opts.Stop:
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.stopped = true // no loop starts after this, so no run either
	s.mu.Unlock()
	s.loops.Wait()
	s.runs.Wait()
	return nil
}

// Reload applies cfg: tasks added start, tasks removed stop being
// scheduled, tasks changed are rescheduled with their new settings. Runs
// in progress finish under the configuration they started with, and a
// changed task's next run still waits for its previous one.
func (s *Scheduler) Reload(cfg *config.Config) error {
	entries, err := entriesOf(cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return errors.New("scheduler: stopped")
	}
	replaced := s.apply(cfg, entries)
	names, skip := s.taskNames(), s.unclaimed()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx != nil {
		if err := s.register(ctx, cfg, names, skip); err != nil {
			s.log.Error("could not add the configuration's new tasks to the database; they run once it can be reached and the configuration is reloaded", "err", err)
		}
	}
	// When Reload returns, no timer of the old configuration is left.
	for _, e := range replaced {
		<-e.done
	}
	return nil
}

// apply switches to cfg and its entries, and returns the entries whose
// loops it told to end; s.mu is held (or s is new).
func (s *Scheduler) apply(cfg *config.Config, next map[string]*entry) (replaced []*entry) {
	for _, name := range inFileOrder(s.cfg, s.entries) {
		old := s.entries[name]
		e, kept := next[name]
		switch {
		case kept && old.same(e):
			old.cfg = e.cfg // the task and account are equal; the rest may not be
			next[name] = old
			continue
		case kept:
			s.log.Info("task changed; rescheduled", "task", name, "schedule", e.task.Schedule, "idle", e.task.Idle)
		default:
			s.log.Info("task removed from the configuration; no longer scheduled", "task", name)
			s.metrics.Forget(name)
			delete(s.lastOK, name)
			delete(s.since, name)
			delete(s.failures, name)
		}
		if !kept || !e.task.Idle {
			delete(s.idle, name)
			s.metrics.ForgetIdle(name)
		}
		close(old.quit)
		if s.ctx != nil {
			replaced = append(replaced, old)
		}
	}
	now := s.clk.Now()
	for _, name := range inFileOrder(cfg, next) {
		e := next[name]
		if s.entries[name] == e {
			continue
		}
		if e.task.Idle {
			s.metrics.TrackIdle(name)
		}
		if _, known := s.since[name]; !known {
			s.since[name] = now
			s.metrics.Track(name)
			s.loadLastSuccess(e)
			// A reload, even one before Run has started the loops (a
			// SIGHUP as the daemon starts): New's tasks are no addition.
			if s.cfg != nil {
				s.log.Info("task added", "task", name, "schedule", e.task.Schedule, "idle", e.task.Idle)
			}
		}
		if s.ctx != nil {
			s.startLoop(e)
		}
	}
	s.entries = next
	// Runs already holding a slot release it into the limiter they took it
	// from, so a changed limit applies to runs that start from now on.
	if s.global == nil || cap(s.global) != cfg.MaxConcurrentTasks {
		s.global = make(limiter, cfg.MaxConcurrentTasks)
	}
	for name, a := range cfg.Accounts {
		if l, ok := s.accounts[name]; !ok || cap(l) != a.MaxConnections {
			s.accounts[name] = make(limiter, a.MaxConnections)
		}
	}
	// A reload may have changed a ca_file's content under its name: the
	// runs it starts read the roots again, and resume no session made
	// under the old ones.
	s.tls = mbox.NewTLSCache()
	s.cfg = cfg
	return replaced
}

// inFileOrder returns the names of entries, the scheduled tasks of cfg, in
// the order cfg lists them, so that what a reload logs comes out in one
// order.
func inFileOrder(cfg *config.Config, entries map[string]*entry) []string {
	var names []string
	if cfg == nil {
		return nil
	}
	for _, t := range cfg.Tasks {
		if _, ok := entries[t.Name]; ok {
			names = append(names, t.Name)
		}
	}
	return names
}

// loadLastSuccess reads when e's task last succeeded, for the health check
// and the metrics, from its state file.
func (s *Scheduler) loadLastSuccess(e *entry) {
	if s.clustered() {
		return // the database says, for `mailtask status`; any node may run the task
	}
	st, err := state.Load(e.cfg.StateDir, e.task.Name)
	if err != nil {
		s.log.Warn("cannot read the task's state; its last success is unknown", "task", e.task.Name, "err", err)
		return
	}
	s.metrics.ActionsDue(e.task.Name, st.Due())
	if r := st.LastSuccess; r != nil {
		end := r.Started.Add(r.Duration)
		s.lastOK[e.task.Name] = end
		s.metrics.LastSuccess(e.task.Name, end)
	}
}

// entriesOf returns cfg's tasks that the daemon runs: on a schedule, on
// new mail, or both.
func entriesOf(cfg *config.Config) (map[string]*entry, error) {
	entries := map[string]*entry{}
	for _, t := range cfg.Tasks {
		if !t.Scheduled() {
			continue
		}
		e := &entry{cfg: cfg, task: t, quit: make(chan struct{}), done: make(chan struct{})}
		if t.Schedule != "" {
			sched, err := config.ParseSchedule(t.Schedule)
			if err != nil {
				return nil, &config.Error{File: t.File, Section: "task " + strconv.Quote(t.Name), Key: "schedule", Msg: err.Error()}
			}
			e.sched = sched
		}
		entries[t.Name] = e
	}
	return entries, nil
}

// same reports whether e and other schedule the same work.
func (e *entry) same(other *entry) bool {
	return e.cfg.StateDir == other.cfg.StateDir &&
		reflect.DeepEqual(taskAsRun(e.task), taskAsRun(other.task)) &&
		reflect.DeepEqual(accountAsRun(e.cfg.Accounts[e.task.Account]), accountAsRun(other.cfg.Accounts[other.task.Account]))
}

// taskAsRun is t without the file that defines it: a task moved to
// another file of an include, its relative paths resolved alike, runs
// as before and keeps its schedule.
func taskAsRun(t *config.Task) config.Task {
	c := *t
	c.File = ""
	return c
}

// accountAsRun is a without the file that defines it (taskAsRun); the
// zero Account for none.
func accountAsRun(a *config.Account) config.Account {
	if a == nil {
		return config.Account{}
	}
	c := *a
	c.File = ""
	return c
}

// Tasks returns the names of the scheduled tasks, sorted.
func (s *Scheduler) Tasks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taskNames()
}

// taskNames returns the names of the scheduled tasks; s.mu is held.
func (s *Scheduler) taskNames() []string {
	names := make([]string, 0, len(s.entries))
	for name := range s.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// registerTimeout bounds adding the configuration's tasks to the
// database.
const registerTimeout = time.Minute

// register makes sure, in cluster mode, that the database has a lease row
// for each of names (a task new to it is due at once), that this
// node's claims pass over skip, the tasks it does not run by a schedule,
// and no others, and that the nodes table has the node's configuration,
// cfg.
func (s *Scheduler) register(ctx context.Context, cfg *config.Config, names, skip []string) error {
	if !s.clustered() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	store := s.opts.Node.Store()
	if err := store.AddTasks(ctx, names); err != nil {
		return err
	}
	if err := store.Skip(ctx, skip); err != nil {
		return err
	}
	return s.opts.Node.Announce(ctx, cfg)
}

// registerAtStart registers the tasks (register), trying again every
// claimPoll while the database fails (it restarts, the node's connections
// are cut), as claims do, until it succeeds or the scheduler is stopped
// first: then it returns false. Each failure counts as a failed claim
// for the health check: the node claims nothing until it succeeds.
func (s *Scheduler) registerAtStart(ctx context.Context, cfg *config.Config, names, skip []string) bool {
	for {
		err := s.register(ctx, cfg, names, skip)
		if err == nil {
			s.claimWorked()
			return true
		}
		s.claimFailed(ctx, "register the configuration's tasks in the database", err)
		select {
		case <-time.After(claimPoll):
		case <-s.opts.Stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// unclaimed returns the names of the scheduled tasks that are not claimed
// when due (cluster.go): those with idle, which the node watching them
// holds; s.mu is held.
func (s *Scheduler) unclaimed() []string {
	var names []string
	for name, e := range s.entries {
		if e.task.Idle {
			names = append(names, name)
		}
	}
	return names
}
