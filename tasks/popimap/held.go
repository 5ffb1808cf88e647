package popimap

import (
	"context"

	"mailtask/internal/auth"
	"mailtask/internal/notify"
	"mailtask/internal/sink"
	"mailtask/internal/state"
)

// A run keeps what its task has taken through Held, the seam between the
// pipeline and where the state lives: the files under state_dir, guarded
// by the task's lock file (files, below, which Run takes when it is given
// none), or cluster mode's database, under a lease the caller holds and
// renews (package cluster). Whichever it is, a batch is committed whole
// (its messages' fingerprints, the state with the after-actions now due)
// once its files are durable, and the mailbox is changed only after that,
// and only while the task is still held.

// Ledger answers whether a message was taken before, by its fingerprint.
// It is an alias so that a store need not import this package to return
// one.
type Ledger = interface{ Has(state.Fingerprint) bool }

// Held is a task's state as one run holds it.
type Held interface {
	// Load returns the task's state and ledger, as the run starts from.
	Load(ctx context.Context) (*state.State, Ledger, error)
	// Commit makes a batch permanent, all or nothing as far as a reader
	// of the state can tell: the fingerprints of the messages it took,
	// then st, which records what is done and the actions now due. The
	// files the batch wrote are durable by then. An error leaves the
	// batch uncommitted, and the run must stop.
	Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error
	// Confirm fails unless the run still holds the task: it is asked
	// before every change to the mailbox, so that a run that lost its
	// task (cluster mode's lease ran out) leaves the server to the next
	// holder.
	Confirm(ctx context.Context) error
	// Record stores how the run ended, st.LastRun, whether it succeeded
	// or not: with the state, and in a run history if the store keeps
	// one. It is called once, last, also after the run lost its task.
	// again says that Retry tries the run once more under this hold,
	// which must then stay held: cluster mode's record gives the lease
	// back otherwise (cluster.End).
	Record(ctx context.Context, st *state.State, again bool) error
}

// Shared is what the nodes of cluster mode share besides the state:
// OAuth2 tokens in the database and destinations in an object store
// (package cluster). A run given none keeps tokens under state_dir and
// writes into folders.
type Shared interface {
	// Tokens is the token store of OAuth2 accounts; nil means the files
	// under state_dir.
	Tokens() auth.TokenStore
	// Destination opens root, a task's destination up to its first
	// variable, for the task owner; content waiting to be written may be
	// kept in spoolDir, which is the task's own.
	Destination(ctx context.Context, root, owner, spoolDir string) (sink.Destination, error)
	// LoadState reads the state of task without holding it, for a look
	// such as Check's.
	LoadState(ctx context.Context, task string) (*state.State, error)
	// Notify is where [notify] keeps what it mailed about failures; nil
	// means the files under state_dir.
	Notify() notify.Store
}

// files is the file store's Held: the state file, the ledger and the UIDL
// log of a task under state_dir, held under the task's lock file, which
// it takes.
type files struct {
	dir, task string
	lock      *state.TaskLock
	ledger    *state.Ledger
}

// holding is what a run, or a take from the copies kept aside, works
// under: the task held, its spool emptied, its state and ledger loaded.
type holding struct {
	held     Held
	spoolDir string
	st       *state.State
	ledger   Ledger
}

// hold holds opts.Task: with opts.Held, or else under the task's lock in
// state_dir, which release lets go of.
func hold(ctx context.Context, opts Options) (h holding, release func(), err error) {
	release = func() {}
	cfg, task := opts.Config, opts.Task
	h.held = opts.Held
	if h.held == nil {
		f, err := holdFiles(cfg.StateDir, task.Name)
		if err != nil {
			return h, release, err
		}
		h.held, release = f, f.release
	}
	h.spoolDir = SpoolDir(cfg.StateDir, task.Name)
	if err := clearSpool(h.spoolDir); err != nil {
		return h, release, err
	}
	h.st, h.ledger, err = h.held.Load(ctx)
	return h, release, err
}

// holdFiles takes the lock of task under dir; a concurrent run of the
// same task gets a *state.LockedError.
func holdFiles(dir, task string) (*files, error) {
	lock, err := state.Lock(dir, task)
	if err != nil {
		return nil, err
	}
	return &files{dir: dir, task: task, lock: lock}, nil
}

func (f *files) Load(context.Context) (*state.State, Ledger, error) {
	st, err := state.Load(f.dir, f.task)
	if err != nil {
		return nil, nil, err
	}
	if f.ledger == nil {
		if f.ledger, err = state.OpenLedger(f.dir, f.task); err != nil {
			return nil, nil, err
		}
	}
	return st, f.ledger, nil
}

// Commit appends to the ledger first: a crash before the state file is
// replaced leaves messages the ledger knows and the state does not, which
// the next run recognises without writing their files twice.
func (f *files) Commit(_ context.Context, st *state.State, fps []state.Fingerprint) error {
	if len(fps) > 0 {
		if err := f.ledger.Append(fps...); err != nil {
			return err
		}
	}
	return st.Save()
}

// Confirm holds: nobody takes a lock file from its holder.
func (f *files) Confirm(context.Context) error { return nil }

func (f *files) Record(_ context.Context, st *state.State, _ bool) error { return st.Save() }

// release closes the ledger and lets go of the lock.
func (f *files) release() {
	if f.ledger != nil {
		f.ledger.Close()
	}
	f.lock.Unlock()
}
