package main

import (
	"context"
	"errors"
	"fmt"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

// stateRetryFromCopy takes the messages a task kept aside whole (those
// under keys, or every one) from their copies, now: through the task's
// rules, destination, sidecars and hooks, committed as a run commits, under
// the task's lock or lease, without asking the server anything. It is the
// way to a message after_failure deleted from the server, or moved out of
// the task's folder.
func stateRetryFromCopy(ctx context.Context, e *env, cfg *config.Config, node *cluster.Node, name string, keys []string) error {
	task := cfg.Task(name)
	opts := popimap.Options{Config: cfg, Task: task, Log: newLogger(e.stderr, cfg.LogFormat, cfg.Level()), Shared: shared(node)}
	var (
		sum  popimap.Summary
		left []popimap.Left
		err  error
	)
	if clustered(node) {
		err = withLease(ctx, node, name, func(l *pgstore.Lease) error {
			opts.Held = node.Held(l, nil)
			sum, left, err = popimap.TakeCopies(ctx, opts, keys)
			return err
		})
	} else {
		sum, left, err = popimap.TakeCopies(ctx, opts, keys)
	}
	var (
		unknown  *state.UnknownFailureError
		notWhole *popimap.NotWholeError
	)
	if errors.As(err, &unknown) || errors.As(err, &notWhole) {
		return usageError{err.Error()}
	}
	if err == nil && sum.Saved == 0 && len(left) == 0 {
		fmt.Fprintf(e.stdout, "%s: no message is kept aside\n", name)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s: took %d message(s) from the copies kept aside: %d files, %v\n", name, sum.Saved, sum.Files, sum.Bytes)
	for _, l := range left {
		fmt.Fprintln(e.stdout, mailbox.Printable(fmt.Sprintf("  %s stays kept aside: %s (copy: %s)", l.Key, l.Why, l.Path)))
	}
	if sum.Saved > 0 && task.After != config.AfterNone {
		fmt.Fprintf(e.stdout, "after = %q was not carried out: after_failure handled the server's copy already\n", task.After)
	}
	if sum.Saved > 0 {
		fmt.Fprintln(e.stdout, "The copies kept aside stay where they are: remove them once you no longer need them.")
	}
	if err != nil {
		return taskFailure(e, name, err)
	}
	if len(left) > 0 {
		fmt.Fprintf(e.stderr, "mailtask: task %q: %d message(s) stay kept aside\n", name, len(left))
		return errReported
	}
	return nil
}
