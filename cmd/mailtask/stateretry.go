package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
)

// stateRetryFlags declares the flags of `state retry [--from-copy] TASK
// [KEY...]`.
func stateRetryFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	fromCopy := fs.Bool("from-copy", false, "take the messages now from the copies kept aside, through the task's rules, destination and hooks, rather than from the server at the next run")
	return func(ctx context.Context, e *env, positional []string) error {
		task, keys := positional, []string(nil)
		if len(positional) > 1 {
			task, keys = positional[:1], positional[1:]
		}
		return onTaskState(ctx, e, fs.Name(), *cfgPath, task, func(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, name string) error {
			if *fromCopy {
				return stateRetryFromCopy(ctx, e, cfg, node, name, keys)
			}
			return stateRetry(ctx, e, cfg, node, name, keys)
		})
	}
}

// stateRetry makes the messages a task kept aside as failed (those under
// keys, or every one) new again, so that the next run takes them once
// their cause is fixed: a larger max_message_size, a shorter destination,
// a mailtask that parses them, a server that delivers them now. Their
// fingerprints leave the ledger with them (ledgerEntries). It holds the
// task's lock, or in cluster mode its lease, so no run commits meanwhile;
// in the database only the ledger's rows of those messages change.
func stateRetry(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, name string, keys []string) error {
	retried, gone, err := retryState(ctx, cfg, node, name, keys)
	var unknown *state.UnknownFailureError
	if errors.As(err, &unknown) {
		return usageError{err.Error()}
	}
	if err != nil {
		return err
	}
	printRetried(e, cfg.Task(name), retried)
	if len(gone) > 0 {
		fmt.Fprintf(e.stdout, "%d message(s) stay kept aside: the next run cannot find them on the server; `mailtask state retry --from-copy %s` takes them from their copies:\n", len(gone), name)
		for _, g := range gone {
			fmt.Fprintln(e.stdout, "  "+g)
		}
		return errReported
	}
	return nil
}

// retryState is stateRetry's change, in the database or in the files. It
// returns the failures retried, and, when no key was given, those gone
// from the server, which it leaves kept aside (retryable).
func retryState(ctx context.Context, cfg *config.Config, node *cluster.Node, name string, keys []string) (retried []state.Failure, gone []string, err error) {
	task := cfg.Task(name)
	if clustered(node) {
		err = withLease(ctx, node, name, func(l *pgstore.Lease) error {
			// Held, the lease keeps every run from committing meanwhile.
			st, err := node.LoadState(ctx, name)
			if err != nil {
				return err
			}
			var pick []string
			if pick, gone, err = retryable(st, task, keys); err != nil {
				return err
			}
			if retried, err = st.Retry(pick); err != nil {
				return err
			}
			forget, err := ledgerEntries(retried)
			if err != nil {
				return err
			}
			return l.Forget(ctx, st, slices.Collect(maps.Keys(forget)))
		})
		return retried, gone, err
	}
	lock, err := state.Lock(cfg.StateDir, name)
	if err != nil {
		return nil, nil, err
	}
	defer lock.Unlock()
	st, err := state.Load(cfg.StateDir, name)
	if err != nil {
		return nil, nil, err
	}
	pick, gone, err := retryable(st, task, keys)
	if err != nil {
		return nil, nil, err
	}
	if retried, err = st.Retry(pick); err != nil {
		return nil, nil, err
	}
	forget, err := ledgerEntries(retried)
	if err != nil {
		return nil, nil, err
	}
	// The ledger first: a state saved before it would send a retried
	// message, still in the ledger, to its after-action as taken, with
	// no file written.
	if err := state.ForgetInLedger(cfg.StateDir, name, slices.Collect(maps.Keys(forget))); err != nil {
		return nil, nil, err
	}
	return retried, gone, st.Save()
}

// ledgerEntries returns the fingerprints the ledger holds of the failures
// retried. Failures recorded before they carried one are found by the
// SHA-256 of their whole copy, where it can be read.
func ledgerEntries(retried []state.Failure) (map[state.Fingerprint]bool, error) {
	fps := map[state.Fingerprint]bool{}
	for _, f := range retried {
		switch {
		case f.Fingerprint != nil:
			fps[*f.Fingerprint] = true
		case f.Whole():
			fp, err := fingerprintOfFile(f.Path)
			if err != nil {
				return nil, fmt.Errorf("%s was kept aside by an earlier mailtask, which did not record which ledger entry is its own, and its copy cannot be read here to find out (%w): retry it where %s can be read", f.Key, err, f.Path)
			}
			fps[fp] = true
		}
	}
	return fps, nil
}

func fingerprintOfFile(path string) (state.Fingerprint, error) {
	f, err := os.Open(path)
	if err != nil {
		return state.Fingerprint{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return state.Fingerprint{}, err
	}
	return state.FingerprintOf([32]byte(h.Sum(nil))), nil
}

// printRetried says what the next run of task will take again, and where
// the failure action may have put what it cannot find.
func printRetried(e *env, task *config.Task, retried []state.Failure) {
	if len(retried) == 0 {
		fmt.Fprintf(e.stdout, "%s: no message is kept aside\n", task.Name)
		return
	}
	fmt.Fprintf(e.stdout, "%s: the next run takes again %d message(s) kept aside:\n", task.Name, len(retried))
	for _, f := range retried {
		// The key and the reason may quote the server and the message.
		line := fmt.Sprintf("  %s, kept aside %s: %s (copy: %s)", f.Key, f.At.Format("2006-01-02 15:04"), f.Reason, f.Path)
		fmt.Fprintln(e.stdout, mailbox.Printable(line))
	}
	if task.AfterFailure == config.AfterMove {
		fmt.Fprintf(e.stdout, "after_failure = %q moved them to %q unless the server refused: move those back into %q, where the next run finds them\n", task.AfterFailure, task.FailureMoveTo, task.Mailbox)
	}
	fmt.Fprintln(e.stdout, "The copies kept aside stay where they are: remove them once the messages are taken.")
}

// retryable picks the messages a plain retry takes again from the
// server: those under keys, refused when one of them is gone from it
// (after_failure deleted it there, or may have: a record an earlier
// mailtask wrote, of a task that deletes), for the retry would succeed
// and nothing would ever be taken; the copy kept aside is all there is,
// and --from-copy takes it. With no key, every message kept aside but
// those gone, which it describes in gone; nil pick with nil gone is
// every one.
func retryable(st *state.State, task *config.Task, keys []string) (pick, gone []string, err error) {
	failures, err := st.Failures(keys)
	if err != nil {
		return nil, nil, err
	}
	var others []string
	for _, f := range failures {
		deleting := f.Action == config.AfterDelete || f.Action == "" && task.AfterFailure == config.AfterDelete && f.Whole()
		if !deleting || deletionDue(st, f.Key) {
			others = append(others, f.Key)
			continue
		}
		what := "after_failure deleted it from the server"
		if f.Action == "" {
			what = "it was kept aside by an earlier mailtask, which did not record what after_failure did with it, and after_failure = \"delete\" may have deleted it from the server"
		}
		gone = append(gone, mailbox.Printable(fmt.Sprintf("%s: %s (copy: %s)", f.Key, what, f.Path)))
	}
	switch {
	case len(gone) == 0:
		return keys, nil, nil
	case len(keys) == 0 && len(others) > 0:
		return others, gone, nil
	}
	return nil, nil, usageError{fmt.Sprintf("the next run of task %q cannot find on the server what it would take again:\n  %s\n"+
		"`mailtask state retry --from-copy %s [KEY...]` takes these messages from their copies kept aside; a plain `state retry` takes the others",
		task.Name, strings.Join(gone, "\n  "), task.Name)}
}

// deletionDue reports whether the failure action of the message under
// key is still due: the server has not confirmed it, and holds the
// message (a retry cancels the action).
func deletionDue(st *state.State, key string) bool {
	if uidl, ok := strings.CutPrefix(key, "uidl:"); ok {
		return slices.Contains(st.PendingFailedUIDLs, uidl)
	}
	uid, err := strconv.ParseUint(strings.TrimPrefix(key, "uid:"), 10, 32)
	return err == nil && st.PendingFailedUIDs.Contains(uint32(uid))
}
