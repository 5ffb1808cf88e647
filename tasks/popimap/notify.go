package popimap

import (
	"context"
	"errors"
	"log/slog"

	"mailtask/internal/clock"
	"mailtask/internal/diagnose"
	"mailtask/internal/notify"
	"mailtask/internal/state"
)

// NotifyFailures tells [notify] how each run of run ended, when the
// configuration asks for failure mails: it records the new failures,
// reminders and recoveries due (notify.RunEnded) where opts.Shared says
// (the files under state_dir without it). Under the daemon (sender nil)
// the daemon's loop (notify.Mails) sends them, and the run's slot is not
// held for the SMTP exchange. run-task, which nothing else may follow,
// sends them itself (sender is its clock): at once, or, when a mail went
// out in this window already, at the next window, with whatever else is
// due by then. A dry run, a run cancelled by the operator and a run that
// found its task already running tell nothing. A mail that cannot be
// recorded or sent is logged; the run's outcome stays what it was.
func NotifyFailures(run RunFunc, sender clock.Clock, log *slog.Logger) RunFunc {
	return func(ctx context.Context, opts Options) (Summary, error) {
		sum, err := run(ctx, opts)
		var locked *state.LockedError
		if opts.DryRun || errors.Is(err, context.Canceled) || errors.As(err, &locked) || !opts.Config.Notify.SendOnFailure() {
			return sum, err
		}
		var store notify.Store
		if opts.Shared != nil {
			store = opts.Shared.Notify()
		}
		nerr := notify.RunEnded(ctx, opts.Config, store, opts.Task.Name, err, opts.clock()(), log)
		if nerr == nil && sender != nil {
			nerr = sendDue(ctx, opts, store, sender, log)
		}
		if nerr != nil {
			log.Error("could not send the notification", "task", opts.Task.Name, "err", nerr, "hint", diagnose.Hint(nerr))
		}
		return sum, err
	}
}

// sendDue sends the mails due now or, when this window's mail went out
// already, at the start of the next.
func sendDue(ctx context.Context, opts Options, store notify.Store, clk clock.Clock, log *slog.Logger) error {
	left, err := notify.SendDue(ctx, opts.Config, store, clk.Now(), log)
	if !left || err != nil {
		return err
	}
	now := clk.Now()
	next := now.Truncate(notify.Window).Add(notify.Window)
	log.Info("a mail went out in this window already: waiting for the next to send this run's", "task", opts.Task.Name, "until", next)
	timer := clk.NewTimer(next.Sub(now))
	defer timer.Stop()
	select {
	case <-timer.C():
	case <-ctx.Done():
		return nil // stopped by the operator: the mail stays due, for the daemon or the next run-task
	}
	_, err = notify.SendDue(ctx, opts.Config, store, next, log)
	return err
}
