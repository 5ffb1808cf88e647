package popimap

import (
	"context"
	"errors"
	"log/slog"

	"mailtask/internal/diagnose"
	"mailtask/internal/notify"
	"mailtask/internal/state"
)

// NotifyFailures tells [notify] how each run of run ended, when the
// configuration asks for failure mails: it records the new failures,
// reminders and recoveries due (notify.RunEnded) where opts.Shared says
// (the files under state_dir without it). It sends nothing, so that the
// run's slot is not held for the SMTP exchange: the daemon's loop
// (notify.Mails) sends what is due once a window, run-task once its run
// is over (notify.SendSoon). A dry run, a run cancelled by the operator
// and a run that found its task already running tell nothing. A mail
// that cannot be recorded is logged; the run's outcome stays what it was.
func NotifyFailures(run RunFunc, log *slog.Logger) RunFunc {
	return func(ctx context.Context, opts Options) (Summary, error) {
		sum, err := run(ctx, opts)
		var locked *state.LockedError
		if opts.DryRun || errors.As(err, &locked) {
			return sum, err
		}
		var store notify.Store
		if opts.Shared != nil {
			store = opts.Shared.Notify()
		}
		if nerr := notify.RunEnded(ctx, opts.Config, store, opts.Task.Name, err, opts.clock()(), log); nerr != nil {
			log.Error("could not record the notification", "task", opts.Task.Name, "err", nerr, "hint", diagnose.Hint(nerr))
		}
		return sum, err
	}
}
