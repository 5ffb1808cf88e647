package popimap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/outcome"
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
	Duration time.Duration
	// Planned lists, on a dry run, the files that would be written.
	Planned []string
	// Stopped reports that Options.Stop ended the run before every new
	// message was taken; the rest wait for the next run.
	Stopped bool
}

// Run performs one run of opts.Task. It holds the task's lock for the
// whole run; a concurrent run of the same task gets a *state.LockedError.
func Run(ctx context.Context, opts Options) (sum Summary, err error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	task, cfg := opts.Task, opts.Config
	acct := cfg.Accounts[task.Account]
	sum.Task = task.Name
	started := now()

	lock, err := state.Lock(cfg.StateDir, task.Name)
	if err != nil {
		return sum, err
	}
	defer lock.Unlock()
	spoolDir := SpoolDir(cfg.StateDir, task.Name)
	if err := clearSpool(spoolDir); err != nil {
		return sum, fmt.Errorf("task %q: %w", task.Name, err)
	}
	st, err := state.Load(cfg.StateDir, task.Name)
	if err != nil {
		return sum, err
	}
	if !opts.DryRun {
		defer func() {
			sum.Duration = now().Sub(started)
			if rerr := recordRun(st, sum, started, err); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}

	r := &run{opts: opts, log: log.With("task", task.Name), st: st, now: now, sum: &sum, spoolDir: spoolDir}
	if r.sel, err = newSelection(task); err != nil {
		return sum, err
	}
	if r.out, err = newOutputs(task); err != nil {
		return sum, err
	}
	r.hooks = newHooks(cfg, task)
	r.after = afterActions(task)
	if opts.DryRun {
		r.after = mailbox.After{Action: config.AfterNone}
	}
	defer r.close()
	if err := r.open(ctx, acct); err != nil {
		return sum, err
	}
	err = r.ingest(ctx)
	r.logout(ctx)
	return sum, err
}

// run is the state of one run in progress.
type run struct {
	opts  Options
	log   *slog.Logger
	st    *state.State
	now   func() time.Time
	sum   *Summary
	after mailbox.After
	// sess is the run's session, and the only one that changes the
	// mailbox; cred signs in the further ones fetch.go opens, which must
	// find the UIDVALIDITY uidValidity.
	sess        mailbox.Session
	cred        auth.Credential
	uidValidity uint32
	ledger      *state.Ledger
	dest        *sink.Dir
	done        int
	bytes       int64
	// spoolDir holds messages too large to keep in memory (spool.go);
	// fetched counts the messages received, over every connection.
	spoolDir string
	fetched  atomic.Int64
	// Rules, outputs and hooks: match.go, outputs.go, hooks.go.
	sel      *selection
	out      *outputs
	hooks    hooks
	searched bool // the server applied the rules' query
	hookJobs []hookJob
	heldErrs []error
}

func (r *run) open(ctx context.Context, acct *config.Account) error {
	task, cfg := r.opts.Task, r.opts.Config
	ledger, err := state.OpenLedger(cfg.StateDir, task.Name)
	if err != nil {
		return err
	}
	r.ledger = ledger
	if !r.opts.DryRun {
		if r.dest, err = sink.Open(r.out.root, task.Name); err != nil {
			return fmt.Errorf("task %q: destination: %w", task.Name, err)
		}
	}
	if r.cred, err = auth.New(acct, auth.Options{StateDir: cfg.StateDir, Log: r.log}); err != nil {
		return err
	}
	if r.sess, err = open(ctx, acct, r.cred, r.log); err != nil {
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
			r.log.Warn("mailbox UIDVALIDITY changed; re-checking every message against the ledger",
				"mailbox", task.Mailbox, "old", r.st.UIDValidity, "new", uidValidity)
		}
		r.st.UIDValidity = uidValidity
		r.st.Done = state.UIDSet{}
	}
	return nil
}

// logout ends the session, also after a failure: the after-actions of
// committed messages are due either way. A successful logout confirms
// them; otherwise they stay pending for the next run.
func (r *run) logout(ctx context.Context) {
	err := r.sess.Logout(ctx)
	r.sess = nil
	if err != nil {
		r.log.Warn("logout failed; after-actions not confirmed by the server are retried next run", "err", err)
		return
	}
	clearPending(r.st)
}

func (r *run) close() {
	if r.sess != nil {
		r.sess.Close()
	}
	if r.dest != nil {
		r.dest.Close()
	}
	if r.ledger != nil {
		r.ledger.Close()
	}
}

func (r *run) ingest(ctx context.Context) error {
	task := r.opts.Task
	msgs, err := r.newMessages(ctx)
	if err != nil {
		return err
	}
	msgs, refused, err := r.prefilter(ctx, msgs)
	if err != nil {
		return err
	}
	if taken, failed := pending(r.st); len(taken)+len(failed) > 0 && !r.opts.DryRun {
		r.log.Info("completing after-actions an earlier run left unconfirmed",
			"messages", len(taken), "after", r.after.Action, "failed_messages", len(failed), "after_failure", task.AfterFailure)
		if err := r.applyAfter(ctx, taken, failed); err != nil {
			return err
		}
	}
	if task.MaxMessages > 0 && len(msgs) > task.MaxMessages {
		r.log.Info("taking the oldest messages first; the rest wait for the next run", "new", len(msgs), "max_messages", task.MaxMessages)
		msgs = msgs[:task.MaxMessages]
	}
	r.sum.Seen = refused + len(msgs)
	r.report()
	if len(msgs) == 0 {
		if r.opts.DryRun {
			return nil
		}
		// New may have learned of vanished UIDs; keep that.
		return r.st.Save()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.stopping() {
		return nil
	}
	if err := r.receive(ctx, msgs); err != nil {
		return err
	}
	return r.heldBack()
}

// commitBatch runs the hooks of a batch written and commits it; its
// after-actions are then due, to be carried out by whoever has the
// session next.
func (r *run) commitBatch(ctx context.Context, got []delivered, due chan<- dueActions) error {
	if r.opts.DryRun {
		return nil
	}
	held, err := r.runHooks(ctx)
	if err != nil {
		return err
	}
	var (
		processed    []mailbox.Message // to record as done
		taken        []mailbox.Message // due for the after-action
		failed       []mailbox.Message // due for the failure action
		fingerprints []state.Fingerprint
	)
	for _, d := range got {
		if held[d.m.Key()] {
			r.sum.Saved--
			r.sum.Held++
			continue
		}
		processed = append(processed, d.m)
		switch d.out {
		case quarantined:
			failed = append(failed, d.m)
		case saved, known:
			taken = append(taken, d.m)
		}
		// Unmatched messages stay out of the ledger: under other rules
		// they would be taken.
		if d.out == saved || d.out == quarantined {
			fingerprints = append(fingerprints, d.fp)
		}
	}
	if err := r.commit(processed, taken, failed, fingerprints); err != nil {
		return err
	}
	r.log.Debug("batch committed", "messages", len(processed))
	due <- dueActions{taken, failed}
	return nil
}

// applyAfter carries out the after-action on the messages taken and the
// failure action on those quarantined.
func (r *run) applyAfter(ctx context.Context, taken, failed []mailbox.Message) error {
	if err := r.sess.Apply(ctx, r.after, taken); err != nil {
		return err
	}
	if f := r.after.Failure; f != nil {
		return r.sess.Apply(ctx, *f, failed)
	}
	return nil
}

// commit makes a batch permanent: files durable first, then the ledger,
// then the state file, which also records the after-actions now due. Only
// after this may the server be changed.
func (r *run) commit(processed, taken, failed []mailbox.Message, fingerprints []state.Fingerprint) error {
	if err := r.dest.Sync(); err != nil {
		return err
	}
	if err := r.ledger.Append(fingerprints...); err != nil {
		return err
	}
	for _, m := range processed {
		markDone(r.st, m)
	}
	if r.after.Action != config.AfterNone {
		for _, m := range taken {
			markPending(r.st, m, false)
		}
	}
	if f := r.after.Failure; f != nil && f.Action != config.AfterNone {
		for _, m := range failed {
			markPending(r.st, m, true)
		}
	}
	return r.st.Save()
}

// fate is what became of one message.
type fate int

const (
	saved       fate = iota // its files are in the destination
	known                   // the ledger shows it was taken before
	quarantined             // unparseable; its raw form is kept aside
	unmatched               // the task's rules do not select it
)

// message writes one message's outputs (take), or recognises it as taken
// before, or quarantines it. Nothing is committed here.
func (r *run) message(j *job) (fate, error) {
	if j.known {
		r.sum.Known++
		r.log.Debug("already taken", "msg", j.m.Key())
		return known, nil
	}
	if j.err != nil {
		// Only a message extract cannot make sense of is kept aside; a
		// spool that cannot be read back fails the run and is retried.
		if !errors.Is(j.err, extract.ErrUnparseable) {
			return saved, fmt.Errorf("task %q: %s: %w", r.opts.Task.Name, j.m.Key(), j.err)
		}
		r.sum.Failed++
		return quarantined, r.quarantine(j.m, j.raw, j.err)
	}
	for _, p := range j.parsed.Problems {
		r.log.Debug("message defect", "msg", j.m.Key(), "problem", p)
	}
	return r.take(j.m, j.raw, j.parsed, j.plan)
}

// errStopped ends a fetch early when the run is asked to stop.
var errStopped = errors.New("stop requested")

// stopping reports whether Options.Stop has been closed, and records
// that the run stopped early.
func (r *run) stopping() bool {
	if r.stopRequested() {
		r.sum.Stopped = true
		return true
	}
	return false
}

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

func (r *run) report() {
	if r.opts.Progress != nil {
		r.opts.Progress(Progress{Done: r.done, Total: r.sum.Seen, Bytes: r.bytes})
	}
}
