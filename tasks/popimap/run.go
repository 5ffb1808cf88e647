package popimap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/outcome"
	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/state"
)

// Options is what one run needs besides the task itself.
type Options struct {
	Config *config.Config
	Task   *config.Task
	Log    *slog.Logger
	// DryRun fetches (without marking anything read) and reports what
	// would be saved, writing nothing and changing nothing.
	DryRun bool
	// Progress, when set, is called after each message.
	Progress func(Progress)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Stop, once closed, ends the run early but cleanly: the message being
	// received is finished and committed with those before it, no further
	// one is fetched, and the session logs out. Run then returns no error
	// and sets Summary.Stopped. Cancelling ctx instead abandons the batch.
	Stop <-chan struct{}
	// MoreConnections, when set, is asked before each connection beyond
	// the first that the run opens to fetch over (fetch.go): it says
	// whether the account has one free, and release gives it back.
	// Without it a run opens as many as the task's connections allow.
	MoreConnections func() (release func(), ok bool)
	// Held is the task's state as the caller holds it for this run:
	// cluster mode's lease, which the caller renews, cancelling ctx if it
	// is lost, and releases. Nil means the file store under state_dir,
	// under the task's lock, which Run takes (held.go).
	Held Held
	// Shared is what cluster mode's nodes share besides the state; nil
	// means token files under state_dir, and folders for destinations.
	Shared Shared
	// TLS keeps the client TLS settings and sessions of the accounts
	// across runs (the daemon's); nil makes them anew for each
	// connection.
	TLS *mailbox.TLSCache
	// memory, when set, replaces MemoryBudget, for tests.
	memory int64
	// retryFollows is set by Retry on each attempt but the last: a run
	// that fails for a transient reason is then attempted again, and
	// counts no message as undelivered (undelivered.go).
	retryFollows bool
}

// clock is o.Now, or the system clock.
func (o Options) clock() func() time.Time {
	if o.Now == nil {
		return time.Now
	}
	return o.Now
}

// logger is o.Log, or one that discards.
func (o Options) logger() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

// Progress is how far a run has come.
type Progress struct {
	Done, Total int
	Bytes       int64
}

// Summary is the outcome of one run.
type Summary struct {
	Task string
	// Counts are what the run committed (on a dry run, what it would
	// have).
	outcome.Counts
	// Defects counts the defects of the files written, by kind; nil when
	// there were none.
	Defects  outcome.Defects
	Duration time.Duration
	// Planned lists, on a dry run, the files that would be written, and
	// Aside the messages that would be kept aside as failed, with why.
	Planned []string
	Aside   []state.Failure
	// Skipped lists the messages not taken because they are automatic
	// mail the task skips (skip_automatic), with why; Counts.Unmatched
	// counts them too.
	Skipped []Skip
	// Notices lists the Microsoft 365 quarantine notices among the
	// messages the run looked at, taken or not (notice.go).
	Notices []Notice
	// Stopped reports that Options.Stop ended the run before every new
	// message was taken; the rest wait for the next run.
	Stopped bool
	// Due counts the messages whose actions the server has not confirmed
	// when the run ends (settle.go).
	Due outcome.Due
	// Committed is when the run last committed a batch (its files durable,
	// the state saved); zero if it committed none.
	Committed time.Time
}

// Automatic counts the messages of Skipped by kind.
func (s Summary) Automatic() outcome.Automatic {
	var by outcome.Automatic
	for _, skip := range s.Skipped {
		if by == nil {
			by = outcome.Automatic{}
		}
		by[skip.Kind]++
	}
	return by
}

// plus is s followed by more of the same attempt.
func (s Summary) plus(more Summary) Summary {
	s.Counts = s.Counts.Plus(more.Counts)
	s.Defects = s.Defects.Plus(more.Defects)
	s.Planned = append(s.Planned, more.Planned...)
	s.Aside = append(s.Aside, more.Aside...)
	s.Skipped = append(s.Skipped, more.Skipped...)
	s.Notices = append(s.Notices, more.Notices...)
	s.Stopped = s.Stopped || more.Stopped
	if more.Committed.After(s.Committed) {
		s.Committed = more.Committed
	}
	return s
}

// Run performs one run of opts.Task. Without opts.Held it holds the
// task's lock for the whole run; a concurrent run of the same task gets a
// *state.LockedError. Its errors do not name the task: the caller knows
// which it ran.
func Run(ctx context.Context, opts Options) (sum Summary, err error) {
	now, log := opts.clock(), opts.logger()
	task, cfg := opts.Task, opts.Config
	started := now()
	defer func() {
		sum.Task = task.Name
		sum.Duration = now().Sub(started)
	}()

	h, release, err := hold(ctx, opts)
	defer release()
	if err != nil {
		return sum, err
	}
	held, st := h.held, h.st
	// However the run ends, even before it reaches the mailbox, it
	// reports the actions the state then holds due (settle.go).
	defer func() { sum.Due = st.Due() }()
	var r *run
	if !opts.DryRun {
		defer func() {
			recorded, rerr := st, error(nil)
			if r != nil && r.uncommitted {
				recorded, rerr = committedState(ctx, held)
			}
			if rerr == nil {
				rerr = recordRun(ctx, held, recorded, sum, started, now().Sub(started), err, triesAgain(ctx, opts, err))
			}
			if rerr != nil && err == nil {
				err = rerr
			}
		}()
	}

	r, err = newRun(opts, log.With("task", task.Name), h, now)
	if err != nil {
		return sum, err
	}
	defer r.close()
	if err := r.open(ctx, cfg.Accounts[task.Account]); err != nil {
		return sum, err
	}
	var wasAside map[string]bool // on a dry run, to tell what it would keep aside
	if opts.DryRun {
		wasAside = failedKeys(st)
	}
	sum, err = r.ingest(ctx)
	if opts.DryRun {
		sum.Aside = newFailures(st, wasAside)
	}
	r.logout(ctx)
	if err == nil {
		err = r.applied.refused()
	}
	return sum, err
}

// failedKeys are the keys of the messages st holds as failed.
func failedKeys(st *state.State) map[string]bool {
	keys := make(map[string]bool, len(st.Failed))
	for _, f := range st.Failed {
		keys[f.Key] = true
	}
	return keys
}

// newFailures are the failures st holds that were not in before: on a
// dry run, which records its failures in a state it never saves, the
// messages it would have kept aside.
func newFailures(st *state.State, before map[string]bool) []state.Failure {
	var added []state.Failure
	for _, f := range st.Failed {
		if !before[f.Key] {
			added = append(added, f)
		}
	}
	return added
}

// run is what one run in progress works with. What it does is passed from
// stage to stage as values (pipeline.go); only the writer changes the
// state, the ledger and the destination.
type run struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	held Held
	st   *state.State
	// fromCopies: the messages are taken from the copies kept aside of
	// failed ones (copies.go), whose failure records their commit drops.
	fromCopies bool
	// uncommitted says that a batch's commit failed: st holds its
	// messages taken and their actions due, which the store does not.
	uncommitted bool
	after       mailbox.After
	// sess is the run's session, and the only one that changes the
	// mailbox; cred signs in the further ones fetch.go opens, which must
	// find the UIDVALIDITY uidValidity.
	sess        mailbox.Session
	cred        auth.Credential
	uidValidity uint32
	ledger      Ledger
	dest        sink.Destination // on a dry run, nil unless an object store
	// spoolDir holds messages too large to keep in memory (spool.go).
	spoolDir string
	// applied is what the server said of the actions sess carried out
	// (settle.go); like sess, it belongs to whoever holds the session.
	applied applied
	// Rules, outputs and hooks: match.go, outputs.go, hooks.go.
	sel   *selection
	out   *outputs
	hooks hooks
}

func newRun(opts Options, log *slog.Logger, h holding, now func() time.Time) (*run, error) {
	r := &run{opts: opts, log: log, held: h.held, st: h.st, ledger: h.ledger, now: now, spoolDir: h.spoolDir}
	var err error
	if r.sel, err = newSelection(opts.Task); err != nil {
		return nil, err
	}
	if r.out, err = newOutputs(opts.Task); err != nil {
		return nil, err
	}
	r.hooks = newHooks(opts.Config, opts.Task)
	r.after = afterActions(opts.Task)
	if opts.DryRun {
		r.after = mailbox.After{Action: config.AfterNone}
	}
	return r, nil
}

func (r *run) open(ctx context.Context, acct *config.Account) error {
	task, cfg := r.opts.Task, r.opts.Config
	var err error
	// A dry run writes nothing, so it opens no folder (opening one makes
	// it). An object store's destination opens without a request, and
	// tells which names its keys cannot hold (plan).
	if !r.opts.DryRun || s3url.Is(r.out.root) {
		if r.dest, err = r.openDestination(ctx); err != nil {
			return fmt.Errorf("destination: %w", err)
		}
	}
	if r.cred, err = auth.New(acct, auth.Options{StateDir: cfg.StateDir, Tokens: r.tokens(), Log: r.log}); err != nil {
		return err
	}
	if r.sess, err = open(ctx, acct, r.cred, int64(task.MaxMessageSize), r.opts.TLS, r.log); err != nil {
		return err
	}
	uidValidity, err := r.sess.Select(ctx, task.Mailbox, r.after)
	if err != nil {
		return err
	}
	r.uidValidity = uidValidity
	if r.st.UIDValidity != uidValidity {
		if r.st.UIDValidity != 0 {
			// Every UID of the folder is new now. The ledger recognises the
			// messages already taken, so nothing is written twice.
			r.log.Warn("mailbox UIDVALIDITY changed; re-checking every message against the ledger. "+
				"If this happens on every run, the server may number each read-only session afresh, as GNU Mailutils' imap4d does for an mbox "+
				"that was never opened read-write: have any client open the folder read-write once (an after-action other than none does)",
				"mailbox", task.Mailbox, "old", r.st.UIDValidity, "new", uidValidity)
		}
		r.st.UIDValidity = uidValidity
		r.st.Done, r.st.Settling = state.UIDSet{}, nil
	}
	return nil
}

// logout ends the session, also after a failure: the after-actions of
// committed messages are due either way. A successful logout confirms
// those the server accepted (settle.go); the others stay due.
func (r *run) logout(ctx context.Context) {
	err := r.sess.Logout(ctx)
	r.sess = nil
	if err != nil {
		r.log.Warn("logout failed; after-actions not confirmed by the server are retried next run", "err", err)
	}
	r.settle(err == nil)
}

func (r *run) close() {
	if r.sess != nil {
		r.sess.Close()
	}
	if r.dest != nil {
		r.dest.Close()
	}
}

// openDestination opens the task's destination: a folder, unless the
// nodes of cluster mode share another kind (an object store).
func (r *run) openDestination(ctx context.Context) (sink.Destination, error) {
	task := r.opts.Task
	if r.opts.Shared != nil {
		return r.opts.Shared.Destination(ctx, r.out.root, task.Name, r.spoolDir)
	}
	if s3url.Is(r.out.root) {
		// Commands open the object store when a destination needs it; only
		// a daemon reloaded with a first s3:// destination comes here.
		return nil, fmt.Errorf("%s is an object store, and this daemon started without one: restart it (cluster mode's settings are read at start, not on SIGHUP)", r.out.root)
	}
	d, err := sink.Open(r.out.root, task.Name)
	if err != nil {
		return nil, err
	}
	return sink.Local(d), nil
}

// tokens is where the OAuth2 tokens of the task's account are kept.
func (r *run) tokens() auth.TokenStore {
	if r.opts.Shared == nil {
		return nil
	}
	return r.opts.Shared.Tokens()
}

// ingest takes the new messages: it lists them, completes the
// after-actions an earlier run left, and processes what is new.
func (r *run) ingest(ctx context.Context) (Summary, error) {
	task := r.opts.Task
	var sum Summary
	l, err := r.list(ctx)
	if err != nil {
		return sum, err
	}
	sum.Unmatched = len(l.refused)
	sum.Skipped, sum.Notices = l.skipped, l.notices
	if !r.opts.DryRun {
		if err := r.applyPending(ctx); err != nil {
			return sum, err
		}
	}
	msgs := l.msgs
	forgetUndelivered(r.st, msgs)
	if task.MaxMessages > 0 && len(msgs) > task.MaxMessages {
		r.log.Info("taking the oldest messages first; the rest wait for the next run", "new", len(msgs), "max_messages", task.MaxMessages)
		msgs = msgs[:task.MaxMessages]
	}
	sum.Seen = len(l.refused) + len(msgs)
	msgs, large := r.tooLarge(msgs)
	aside, asideDue, err := r.setAside(ctx, large)
	sum = sum.plus(aside)
	if err != nil {
		return sum, err
	}
	got, err := r.takeNew(ctx, msgs, l.searched)
	sum = sum.plus(got)
	if err != nil {
		return sum, err
	}
	// The failure actions of the messages set aside come after the others
	// are taken: a server failing them cannot hold the others back.
	return sum, r.applyAfter(ctx, asideDue.taken, asideDue.failed)
}

// takeNew processes the new messages msgs, unless the run is to stop.
func (r *run) takeNew(ctx context.Context, msgs []mailbox.Message, searched bool) (Summary, error) {
	r.report(Progress{Total: len(msgs)})
	if len(msgs) == 0 {
		// What New learned (the UIDVALIDITY, vanished UIDs) is kept by
		// the run's record (recordRun), in the same write: a commit of
		// its own would cost an empty mailbox's run a second transaction.
		return Summary{}, nil
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	if r.stopRequested() {
		return Summary{Stopped: true}, nil
	}
	return r.process(ctx, msgs, searched)
}

// errStopped ends a fetch early when the run is asked to stop.
var errStopped = errors.New("stop requested")

// stopRequested reports whether Options.Stop has been closed; it is safe
// on any goroutine.
func (r *run) stopRequested() bool {
	select {
	case <-r.opts.Stop:
		return true
	default:
		return false
	}
}

func (r *run) report(p Progress) {
	if r.opts.Progress != nil {
		r.opts.Progress(p)
	}
}
