package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/mailbox"
	"mailtask/internal/notify"
	"mailtask/tasks/popimap"
)

func runTaskFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	dryRun := fs.Bool("dry-run", false, "list what would be saved or kept aside; write and change nothing")
	level := logLevelFlag(fs, "")
	return func(ctx context.Context, e *env, positional []string) error {
		return runTask(ctx, e, *cfgPath, *dryRun, *level, positional)
	}
}

func runTask(ctx context.Context, e *env, cfgPath string, dryRun bool, level string, positional []string) error {
	var (
		lvl slog.Level
		err error
	)
	if level != "" {
		if lvl, err = logLevel(level); err != nil {
			return err
		}
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	if level == "" {
		lvl = cfg.Level()
	}
	task, err := oneTask("run-task", cfg, positional)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogFormat, lvl)
	limitMemory(1, []*config.Task{task})
	bar := newProgressBar(e.stderr, task.Name)
	stop := e.gracefulStop()
	stopWatch := announceStop(stop, log)
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	opts := popimap.Options{
		Config:   cfg,
		Task:     task,
		Log:      log,
		DryRun:   dryRun,
		Progress: bar.update,
		Stop:     stop,
		Shared:   shared(node),
	}
	var sum popimap.Summary
	if clustered(node) {
		sum, err = runHeld(ctx, node, opts, e.taskRun(log), log)
	} else {
		sum, err = e.taskRun(log)(ctx, opts)
	}
	stopWatch()
	bar.clear()
	if !dryRun {
		// Outside the run's lease and slot: nothing else may send the
		// mail the run made due (no daemon), and this may wait for the
		// next window.
		if err := notify.SendSoon(ctx, cfg, node.Notify(), clock.Real, log); err != nil {
			log.Error("could not send the notification", "err", err, "hint", diagnose.Hint(err))
		}
	}
	if dryRun {
		dryRunLines(e.stdout, sum)
	}
	fmt.Fprintln(e.stdout, summaryLine(sum, dryRun))
	if err != nil {
		return taskFailure(e, task.Name, err)
	}
	return nil
}

// taskFailure reports a failed run with its hint, and returns an error
// that maps to exit code 1 (or 3 when the task was already running).
func taskFailure(e *env, task string, err error) error {
	if isHeld(err) {
		return err
	}
	fmt.Fprintf(e.stderr, "mailtask: task %q failed: %v\n", task, err)
	if hint := diagnose.Hint(err); hint != "" {
		fmt.Fprintf(e.stderr, "hint: %s\n", hint)
	}
	return errReported
}

// dryRunLines lists what a dry run would do, and the quarantine notices
// it met.
func dryRunLines(w io.Writer, sum popimap.Summary) {
	for _, name := range sum.Planned {
		fmt.Fprintf(w, "would save %s\n", name)
	}
	for _, f := range sum.Aside {
		fmt.Fprintf(w, "would keep aside %s: it %s\n", mailbox.Printable(f.Key), mailbox.Printable(f.Reason))
	}
	for _, s := range sum.Skipped {
		fmt.Fprintf(w, "would skip %s: %s\n", mailbox.Printable(s.Key), mailbox.Printable(s.Reason))
	}
	for _, n := range sum.Notices {
		fmt.Fprintf(w, "quarantine notice %s: %s\n", mailbox.Printable(n.Key), n.Describe())
	}
}

func summaryLine(s popimap.Summary, dryRun bool) string {
	line := fmt.Sprintf("%s: %s in %.2fs", s.Task, s.Counts.Summary(dryRun), s.Duration.Seconds())
	switch n := len(s.Notices); {
	case n == 1:
		line += "; a quarantine notice: Microsoft 365 holds mail for this mailbox (see the warning)"
	case n > 1:
		line += fmt.Sprintf("; %d quarantine notices: Microsoft 365 holds mail for this mailbox (see the warnings)", n)
	}
	if s.Stopped {
		line += " (stopped on request; the rest wait for the next run)"
	}
	return line
}
