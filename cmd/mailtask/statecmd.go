package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/notify"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
)

// stateCmd is one of the `state` commands: it acts on the state of one
// task, in the file store or, with a state_store, in the database.
type stateCmd func(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, task string) error

// stateFlags declares the flags of a `state` command, whose one operand
// is a task.
func stateFlags(act stateCmd) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		cfgPath := configFlag(fs)
		return func(ctx context.Context, e *env, positional []string) error {
			return onTaskState(ctx, e, fs.Name(), *cfgPath, positional, act)
		}
	}
}

// onTaskState runs act on the state of the task named by the one operand
// of cmd.
func onTaskState(ctx context.Context, e *env, cmd, cfgPath string, operands []string, act stateCmd) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	task, err := oneTask(cmd, cfg, operands)
	if err != nil {
		return err
	}
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	return act(ctx, e, cfg, node, task.Name)
}

// stateMoveFlags declares the flags of `state export` and `state
// import` (verb), which need a state_store.
func stateMoveFlags(verb string, act stateCmd) func(fs *flag.FlagSet) runFunc {
	return stateFlags(func(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, task string) error {
		if !clustered(node) {
			return usageError{fmt.Sprintf("%s sets no state_store: `mailtask state %s` moves a task's state between the files under state_dir and cluster mode's database", cfg.File, verb)}
		}
		return act(ctx, e, cfg, node, task)
	})
}

func stateReset(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, name string) error {
	if clustered(node) {
		err := withLease(ctx, node, name, func(l *pgstore.Lease) error {
			return l.Replace(ctx, &state.State{Version: state.Version, Task: name}, nil)
		})
		if err != nil {
			return err
		}
	} else if err := state.Reset(cfg.StateDir, name); err != nil {
		return err
	}
	dropped, err := notify.Forget(ctx, cfg, node.Notify(), name)
	if err != nil {
		return fmt.Errorf("reset task %q: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "%s: state forgotten; the next run takes every message again (files already in the destination are not written twice)\n", name)
	if dropped > 0 {
		fmt.Fprintf(e.stdout, "%s: dropped %s due about it, not sent\n", name, mails(dropped))
	}
	return nil
}

func stateShow(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, name string) error {
	var (
		st  *state.State
		err error
	)
	if clustered(node) {
		st, err = node.LoadState(ctx, name)
	} else {
		st, err = state.Load(cfg.StateDir, name)
	}
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", out)
	// On standard error, so that standard output stays the state's JSON.
	if c := st.CountSettling(); c != nil {
		fmt.Fprintln(e.stderr, settlingNote(name, c))
	}
	return nil
}

// stateExport copies a task's state from the database into the file
// store under state_dir: what it took (ledger, UIDLs, UIDs done), the
// actions due, its quarantine and last runs. It holds the task's lease
// and its lock file meanwhile, and refuses to overwrite a state the file
// store already has. The database keeps its copy: take the task out of
// the cluster's configuration before running it from the files, or two
// places would take its mail.
func stateExport(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, name string) error {
	lock, err := state.Lock(cfg.StateDir, name)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if have, err := state.Load(cfg.StateDir, name); err != nil {
		return err
	} else if taken(have) {
		// Not `state reset` with this configuration: that resets the
		// database's copy, the one being exported.
		return fmt.Errorf("task %q already has a state under %s: remove its files there first (%s.json, %s.ledger, %s.uidls.*); `mailtask state reset` with this configuration would reset the database's copy instead", name, cfg.StateDir, name, name, name)
	}
	var ledgerLen int
	err = withLease(ctx, node, name, func(l *pgstore.Lease) error {
		from, ledger, err := l.Load(ctx)
		if err != nil {
			return err
		}
		to, err := state.Load(cfg.StateDir, name)
		if err != nil {
			return err
		}
		copyState(to, from)
		to.UIDLs.Rewrite()
		files, err := state.OpenLedger(cfg.StateDir, name)
		if err != nil {
			return err
		}
		defer files.Close()
		fps := collect(ledger)
		ledgerLen = len(fps)
		if err := files.Append(fps...); err != nil {
			return err
		}
		return to.Save()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: state copied from the database into %s (%d messages in the ledger); the database keeps its copy: take the task out of the cluster's configuration before running it from the files\n", name, cfg.StateDir, ledgerLen)
	return nil
}

// stateImport moves a task's state from the file store under state_dir
// into the database, whole, in one fenced transaction, holding the task's
// lock file and lease meanwhile. It refuses when the database already
// has a state of the task. The files stay, renamed out of the way is up
// to the operator: run the task from the cluster only from now on.
func stateImport(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, name string) error {
	lock, err := state.Lock(cfg.StateDir, name)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	from, err := state.Load(cfg.StateDir, name)
	if err != nil {
		return err
	}
	ledger, err := state.OpenLedger(cfg.StateDir, name)
	if err != nil {
		return err
	}
	defer ledger.Close()
	fps, err := ledger.All()
	if err != nil {
		return err
	}
	if !taken(from) && len(fps) == 0 {
		// Most likely state_dir is not where the machine that ran the
		// task kept its state: importing nothing would let the cluster
		// take the task's mail again.
		return fmt.Errorf("task %q has no state under %s to import: set state_dir to the directory where the machine that ran it kept its state", name, cfg.StateDir)
	}
	err = withLease(ctx, node, name, func(l *pgstore.Lease) error {
		have, held, err := l.Load(ctx)
		if err != nil {
			return err
		}
		if taken(have) || held.Len() > 0 {
			return fmt.Errorf("task %q already has a state in the database: `mailtask state reset %s` there first if the files' state is the one to keep", name, name)
		}
		to := &state.State{Version: state.Version, Task: name}
		copyState(to, from)
		return l.Replace(ctx, to, fps)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: state moved from %s into the database (%d messages in the ledger); run the task from the cluster only from now on\n", name, cfg.StateDir, len(fps))
	return nil
}

// withLease runs fn holding the task's lease, which it claims whether or
// not the task is due, and gives back the task due as it was; a node
// running the task is a *pgstore.HeldError.
func withLease(ctx context.Context, node *cluster.Node, task string, fn func(*pgstore.Lease) error) error {
	l, err := node.Store().ClaimTask(ctx, task, node.Lease())
	if err != nil {
		return err
	}
	held, stop := node.Hold(ctx, l)
	err = fn(l)
	if lost := stop(); lost != nil {
		return cluster.LeaseLost(held, errors.Join(err, lost))
	}
	releaseLease(l, slog.New(slog.DiscardHandler))
	return err
}

// taken reports whether st records anything taken, due or run.
func taken(st *state.State) bool {
	return st.UIDValidity != 0 || !st.Done.IsZero() || st.UIDLs.Len() > 0 || st.Due().Total() > 0 ||
		st.LastRun != nil || len(st.Failed) > 0
}

// copyState copies into to everything from holds but its task name and
// where it is kept.
func copyState(to, from *state.State) {
	to.UIDValidity, to.Done, to.Settling, to.Failed = from.UIDValidity, from.Done, from.Settling, from.Failed
	to.PendingUIDs, to.PendingUIDLs = from.PendingUIDs, from.PendingUIDLs
	to.PendingFailedUIDs, to.PendingFailedUIDLs = from.PendingFailedUIDs, from.PendingFailedUIDLs
	to.PendingRemovalUIDs, to.ActionRefused = from.PendingRemovalUIDs, from.ActionRefused
	to.LastRun, to.LastSuccess, to.LastNotice = from.LastRun, from.LastSuccess, from.LastNotice
	for h, day := range from.UIDLs.All() {
		to.UIDLs.Restore(h, day)
	}
}

// collect lists the fingerprints of a database ledger.
func collect(l *pgstore.Ledger) []state.Fingerprint {
	var fps []state.Fingerprint
	for f := range l.All() {
		fps = append(fps, f)
	}
	return fps
}

func isLocked(err error) bool {
	var locked *state.LockedError
	return errors.As(err, &locked)
}

// settlingNote says in a line what of task is settling.
func settlingNote(task string, c *state.SettlingCount) string {
	ranges := "1 range"
	if c.Ranges != 1 {
		ranges = fmt.Sprintf("%d ranges", c.Ranges)
	}
	return fmt.Sprintf("%s: up to %d UIDs the rules' search left out are settling (%s, the oldest first seen %s); each is done once a search search_settle later still leaves it out", task, c.UIDsAtMost, ranges, stamp(c.OldestSeen))
}
